# mufno_lite: two commands do all the set-up on a fresh machine.
#   make reproduce   run every notebook headless (preset auto: GPU -> paper, CPU -> quick), figures -> figures/
#   make test        the library's doctests, then the test suite, notebooks included (smoke preset)
# torch is held at the local CPU wheel by constraints.txt in every install step.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
STAMP  := $(VENV)/.mufno-installed
PRESET ?= auto
PYTEST_ARGS ?=

.PHONY: setup reproduce test test-fast bench browser-deps clean-venv
setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt "torch==2.13.0"
	$(PIP) install -q -c constraints.txt -e ".[notebooks,test,cluster]"
	$(BIN)/python -c "import torch, mufno_lite; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $(STAMP)

reproduce: setup
	$(BIN)/python -m mufno_lite reproduce --preset $(PRESET)

test: setup browser-deps
	MUFNO_PRESET=smoke $(BIN)/python -m pytest --doctest-modules mufno_lite -p no:cacheprovider
	MUFNO_PRESET=smoke $(BIN)/python -m pytest tests notebooks --nbval-lax -p no:cacheprovider $(PYTEST_ARGS)

test-fast: setup
	MUFNO_PRESET=smoke $(BIN)/python -m pytest tests -m "not slow and not browser" -p no:cacheprovider $(PYTEST_ARGS)

bench: setup
	$(BIN)/python benchmarks/run_all.py

# Debian's chromium for the real-browser test (playwright drives it; never `playwright install`).
browser-deps:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif command -v sudo >/dev/null && command -v apt-get >/dev/null; then \
	  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "browser-deps: cannot install chromium here (needs apt-get as root); the browser test will be skipped"; fi

clean-venv:
	rm -rf $(VENV)
