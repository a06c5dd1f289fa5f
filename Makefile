# mufno_lite: two commands do all the set-up on a fresh machine.
#   make reproduce   run every notebook headless (preset auto: GPU -> gpu, CPU -> quick); executed notebooks
#                    and figures -> runs/<UTC time>-<preset>/ (REPRODUCE_ARGS=--update-figures: the committed figures/)
#   make test        the library's doctests, then the test suite, notebooks included (smoke preset)
#   make lab         JupyterLab on notebooks/ (LAB_ARGS=--no-browser on a server; no browser under $$CI)
#   make book        the executed notebooks of the newest runs/* (BOOK_RUN=DIR picks one) -> site/index.html
#   make book-smoke  a smoke reproduction (~2 min) into runs/, then make book: the site's layout, numbers meaningless
#   make handout     the student handout of the newest runs/* (HANDOUT_RUN=DIR): notebooks + site, no answer key -> handout/
# torch is held at the local CPU wheel by constraints.txt in every install step.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
STAMP  := $(VENV)/.mufno-installed
PRESET ?= auto
PYTEST_ARGS ?=
REPRODUCE_ARGS ?=
LAB_ARGS ?= $(if $(CI),--no-browser,)

BOOK_RUN ?=
BOOK_OUT ?= site
HANDOUT_RUN ?= $(BOOK_RUN)
HANDOUT_OUT ?= handout

.PHONY: setup reproduce test test-fast lab bench device-check browser-deps browser-install clean-venv book book-smoke handout
setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt "torch==2.13.0"
	$(PIP) install -q -c constraints.txt -e ".[notebooks,test,cluster]"
	$(BIN)/python -c "import torch, mufno_lite; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $(STAMP)

reproduce: setup
	$(BIN)/python -m mufno_lite reproduce --preset $(PRESET) $(REPRODUCE_ARGS)

lab: setup
	$(BIN)/python -m jupyterlab --ServerApp.root_dir=notebooks $(LAB_ARGS)

book: setup
	$(BIN)/python -m mufno_lite.book $(BOOK_RUN) --out $(BOOK_OUT)

book-smoke: setup
	$(BIN)/python -m mufno_lite reproduce --preset smoke
	$(BIN)/python -m mufno_lite.book --out $(BOOK_OUT)

handout: setup
	$(BIN)/python -m mufno_lite.handout $(HANDOUT_RUN) --out $(HANDOUT_OUT)

test: setup browser-deps
	MUFNO_PRESET=smoke $(BIN)/python -m pytest --doctest-modules mufno_lite -p no:cacheprovider
	MUFNO_PRESET=smoke $(BIN)/python -m pytest tests notebooks --nbval-lax -p no:cacheprovider $(PYTEST_ARGS)

test-fast: setup
	MUFNO_PRESET=smoke $(BIN)/python -m pytest tests -m "not slow and not browser" -p no:cacheprovider $(PYTEST_ARGS)

bench: setup
	$(BIN)/python benchmarks/run_all.py

# the GPU path in one command (issue 20): `make device-check` on a GPU, DEVICE=cpu for the tiny CPU form
DEVICE ?= cuda
device-check: setup
	PYTHON=$(BIN)/python benchmarks/device_check.sh runs/device_check-$(DEVICE) --device $(DEVICE)

# Debian's chromium for the real-browser test (playwright drives it; never `playwright install`).
# Only checks and says what to do: nothing is installed (no sudo, no apt-get) by `make test`.
browser-deps:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version)"; \
	else echo "browser-deps: /usr/bin/chromium not found, so the browser test will be skipped."; \
	  echo "  to run it, install Debian's chromium: sudo apt-get install -y chromium   (then make test again)"; fi

# Installs Debian's chromium when run as root with apt-get (CI does this before `make test`); a
# separate, explicit step, so `make test` itself never installs system packages.
browser-install:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	  && echo "chromium: $$(/usr/bin/chromium --version)"; \
	else echo "browser-install: needs root and apt-get; the browser test will be skipped"; fi

clean-venv:
	rm -rf $(VENV)
