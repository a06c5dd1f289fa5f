"""The explorer notebook in a real browser: JupyterLab + headless Chromium driven by Playwright.

What it proves that nbval cannot: the widgets render (ipywidgets' JupyterLab manager), the plotly
figures inside them are drawn by JupyterLab's plotly renderer, and a change of a control in the
page reaches the kernel and comes back as a different figure.

Set-up, all private to the test: JupyterLab on 127.0.0.1 at a free port with a random token,
its root a temporary copy of ``notebooks/``; its config, user settings, workspaces, runtime files
and app settings (an ``overrides.json`` that turns off news and update checks) in a temporary
folder; ``MUFNO_PRESET=smoke``, ``MUFNO_THREADS=1`` and a fresh ``MUFNO_RESULTS`` store in the
server's environment (so the notebook runs its small sweep).  Chromium is Debian's
``/usr/bin/chromium`` (``apt-get install chromium``); Playwright's own browser downloads are never
used.  The server is stopped by its pid in a ``finally`` block.  A screenshot of the explorer goes
to the test's tmp folder and to ``figures/smoke/browser_explorer.png`` for humans.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from secrets import token_hex

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = "11_explore_results.ipynb"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"jupyter lab did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM (the server shuts its kernels down), then SIGKILL to the server's own process group."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this test created with start_new_session
        proc.wait(timeout=10)


@pytest.fixture
def lab(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser test skipped: {CHROMIUM} not found. Install Debian's chromium to run it "
                    "(sudo apt-get install -y chromium; `make browser-deps` checks); nothing is installed for you")
    pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    pytest.importorskip("jupyterlab", reason="jupyterlab is not installed")
    root = tmp_path / "notebooks"
    shutil.copytree(REPO / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "results"))
    home = tmp_path / "jupyter"
    dirs = {k: home / k for k in ("config", "user-settings", "workspaces", "runtime", "app-settings", "ipython")}
    for d in dirs.values():
        d.mkdir(parents=True)
    quiet = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}
    (dirs["app-settings"] / "overrides.json").write_text(json.dumps(quiet))
    (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps(
        {"LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}}))
    port, token = _free_port(), token_hex(16)
    env = dict(os.environ, MUFNO_PRESET="smoke", MUFNO_THREADS="1", OMP_NUM_THREADS="1",
               MUFNO_RESULTS=str(tmp_path / "store" / "results.sqlite"),
               JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTERLAB_SETTINGS_DIR=str(dirs["user-settings"]),
               JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]), JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
               IPYTHONDIR=str(dirs["ipython"]), JUPYTER_PLATFORM_DIRS="1")
    env.pop("JUPYTER_TOKEN", None)
    log = tmp_path / "jupyter.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           f"--LabApp.workspaces_dir={dirs['workspaces']}", f"--LabApp.user_settings_dir={dirs['user-settings']}",
           f"--LabApp.app_settings_dir={dirs['app-settings']}", "--ServerApp.open_browser=False", "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI often run as root
        cmd.append("--allow-root")
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}", proc, log)
        yield dict(url=f"http://127.0.0.1:{port}", token=token, log=log, tmp=tmp_path)
    finally:
        _stop(proc)


def _n_traces(page, scope: str) -> int:
    return page.locator(f"{scope} .js-plotly-plot .scatterlayer .trace").count()


def test_explorer_notebook_runs_and_reacts_in_chromium(lab):
    from playwright.sync_api import expect, sync_playwright

    t0 = time.monotonic()
    shots = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page, errors = None, []
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{lab['url']}/lab/tree/{NOTEBOOK}?token={lab['token']}", timeout=60_000)
            page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
            # the kernel must be connected before "Run All": a run requested while the status bar
            # still says "Initializing" or "Connecting" is dropped
            expect(page.locator(".jp-StatusBar-Widget").first).to_contain_text("| Idle", timeout=60_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            first_prompt = page.locator(".jp-CodeCell .jp-InputPrompt").first
            expect(first_prompt).to_contain_text("[1]", timeout=30_000)

            explorer = ".mufno-explorer-figure"
            page.locator(f"{explorer} .js-plotly-plot").first.wait_for(timeout=30_000)
            expect(page.locator(f"{explorer} .js-plotly-plot .scatterlayer .trace")).to_have_count(12, timeout=30_000)
            y_title = page.locator(f"{explorer} .js-plotly-plot .g-ytitle").first
            assert "training loss" in y_title.text_content()
            assert page.locator(".mufno-explorer-optimum table").count() >= 1
            page.locator(".mufno-explorer").first.scroll_into_view_if_needed()
            shots.append(lab["tmp"] / "explorer_before.png")
            page.locator(".mufno-explorer").first.screenshot(path=str(shots[-1]))

            # a click in the K list: only K=4 (2 parametrizations × line, runs, optimum star = 6 traces)
            page.locator(".mufno-ks select").first.select_option(label=["4"])
            expect(page.locator(f"{explorer} .js-plotly-plot .scatterlayer .trace")).to_have_count(6, timeout=30_000)
            # the metric dropdown: the y axis changes to the test error
            page.locator(".mufno-metric select").first.select_option(label="test_rel_l2")
            expect(page.locator(f"{explorer} .js-plotly-plot .g-ytitle").first).to_contain_text("test", timeout=30_000)
            assert _n_traces(page, explorer) == 6
            shots.append(lab["tmp"] / "explorer_after.png")
            page.locator(".mufno-explorer").first.screenshot(path=str(shots[-1]))

            # live training: K slider from 8 down to 3 (= base_K) with the keyboard, keep earlier
            # curves, press Train → the first run's 2 curves + 2 new ones, identical to each other
            live = ".mufno-live-figure"
            expect(page.locator(f"{live} .js-plotly-plot .scatterlayer .trace")).to_have_count(2, timeout=60_000)
            handle = page.locator(".mufno-live-k .noUi-handle").first
            handle.focus()
            for _ in range(5):
                handle.press("ArrowLeft")
            expect(page.locator(".mufno-live-k .widget-readout").first).to_have_text("3", timeout=10_000)
            page.locator(".mufno-live .widget-checkbox input").first.check()
            page.locator(".mufno-live-train").first.click()
            expect(page.locator(f"{live} .js-plotly-plot .scatterlayer .trace")).to_have_count(4, timeout=60_000)
            expect(page.locator(".mufno-live").first).to_contain_text("identical: K = base_K", timeout=30_000)
            shots.append(lab["tmp"] / "live.png")
            page.locator(".mufno-live").first.screenshot(path=str(shots[-1]))
            assert not [e for e in errors if "plotly" in e.lower() or "widget" in e.lower()], errors
        except Exception as exc:  # leave a screenshot and the server log behind for diagnosis
            failure = lab["tmp"] / "failure.png"
            try:
                if page is not None:
                    page.screenshot(path=str(failure), full_page=True)
            except Exception:
                pass
            raise AssertionError(f"{exc}\n(page errors: {errors}; screenshot {failure}; server log tail:\n"
                                 f"{lab['log'].read_text()[-2000:]})") from exc
        finally:
            browser.close()
    out = REPO / "figures" / "smoke"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shots[1], out / "browser_explorer.png")
    shutil.copyfile(shots[2], out / "browser_live_training.png")
    if os.environ.get("MUFNO_SCREENSHOTS"):  # the committed screenshot (figures/screenshots/explorer.png)
        (REPO / "figures" / "screenshots").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shots[0], REPO / "figures" / "screenshots" / "explorer.png")
    print(f"browser test: {time.monotonic() - t0:.1f} s in the browser; screenshots {[str(s) for s in shots]}")
