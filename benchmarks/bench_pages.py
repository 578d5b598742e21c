"""Pages to first paint: seconds from opening a page's URL to its title on screen; and
a SMILES to numbers on the Predict page.

    python benchmarks/bench_pages.py [--passes 2] [--widths 1400 760] [--predict]

Starts `streamlit run app.py` on a free port (data in a temporary folder), opens the
landing page once so the server has imported torch, RDKit and the models, then opens
every page by URL (a new visit each time, as a person following a link would) and
times it to the page's title, in headless Chromium (/usr/bin/chromium; playwright).
Each pass visits every page; the last pass is the warm figure (the goal: < 2 s per
page). The machine's load average is printed beside the figures: other work on the
cores slows the server's script runs.

--predict: on the Predict page, "One SMILES", each of `PREDICT_SMILES` typed in and
Predict clicked, timed from the click to its values with their ± on screen (5
conformers, the default; the first SMILES warms the model up and is not counted; each
SMILES is new to the server, so nothing comes from a cache).

--attention: on the Attention page, "One SMILES" (the page opens on its worked example,
paracetamol, whose charts load Streamlit's 4.7 MB chart library; the benchmark waits
for them, as a person reads the example before typing), each of `ATTENTION_SMILES`
typed in one after another on the open page, timed from Enter to the new molecule's
chart. Then each on a newly opened page, timed from Enter to its first chart (the local/global contributions) and to the whole
page drawn (charts, tables and the download button at its end), then from the click on "Compute Integrated
Gradients" (50 steps, atoms and coordinates, the slider's default) to
both IG charts on screen. The first SMILES warms up and is not counted.

--viewer-js served|inlined|both: how the 3D views get 3Dmol.js. "served" (the app's
setting) loads the one static file (`/app/static/3Dmol-min.js`, cached by the
browser); "inlined" starts the server with static serving off, so every view's iframe
carries its own 525 KiB copy, as before. "both" starts one server of each and
alternates them per pass (--passes), so the two figures share the machine's load.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREDICT_SMILES = ("CCO", "CCCCCCO", "OC1CCC(N)CC1", "CC(=O)Oc1ccccc1C(=O)O",
                  "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "O=C(O)CCc1ccc(O)cc1")  # fmt: skip
# not paracetamol: the page explains it as its example until a SMILES is typed
ATTENTION_SMILES = ("CCO", "OC(=O)c1ccccc1O", "CC1(C)OC(=O)CC1C", "CC(=O)Oc1ccccc1C(=O)O")
PAGES = (("", "PAMNet Studio"), ("Structure", "Structure"), ("Predict", "Predict"),
         ("Attention", "Attention"), ("Fine-tune", "Fine-tune"), ("Learn", "Learn"))  # fmt: skip


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int, served_js: bool = True) -> subprocess.Popen:
    env = {**os.environ, "PAMNET_DATA_DIR": tempfile.mkdtemp(prefix="pamnet-bench-")}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port),
           "--server.enableStaticServing", "true" if served_js else "false"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the app did not start within 90 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--widths", type=int, nargs="+", default=[1400, 760])
    ap.add_argument("--predict", action="store_true", help="also time SMILES -> numbers")
    ap.add_argument("--attention", action="store_true", help="also time SMILES -> explanation")
    ap.add_argument("--viewer-js", choices=("served", "inlined", "both"), default="served")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    modes = ("served", "inlined") if args.viewer_js == "both" else (args.viewer_js,)
    servers = {}
    try:
        for mode in modes:
            port = _port()
            servers[mode] = (_serve(port, served_js=mode == "served"), f"http://127.0.0.1:{port}")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True,
                args=["--no-sandbox", "--disable-gpu"],
            )  # fmt: skip
            for k in range(args.passes):
                for mode in modes:
                    url = servers[mode][1]
                    label = f"3Dmol.js {mode}, pass {k + 1}"
                    for width in args.widths:
                        page_times(browser, url, width, label)
                    if args.predict:
                        page = browser.new_context(viewport={"width": 1400, "height": 1000})
                        predict_times(page.new_page(), url)
                    if args.attention:
                        page = browser.new_context(viewport={"width": 1400, "height": 1000})
                        attention_times(page.new_page(), url, label)
            browser.close()
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=30)


def page_times(browser, url: str, width: int, label: str) -> None:
    """Each page opened by URL in a new visit, to its title (after one warm-up visit)."""
    page = browser.new_context(viewport={"width": width, "height": 1000}).new_page()
    page.goto(url)
    page.get_by_text("PAMNet Studio").first.wait_for(timeout=180_000)  # cold start
    times = []
    for path, title in PAGES:
        start = time.perf_counter()
        page.goto(f"{url}/{path}")
        page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
        times.append((path or "landing", time.perf_counter() - start))
    load = os.getloadavg()[0]
    cells = "  ".join(f"{name} {t:.2f}" for name, t in times)
    print(f"{width} px, {label} (load {load:.1f}): {cells}  max "
          f"{max(t for _, t in times):.2f} s", flush=True)  # fmt: skip
    page.context.close()


def _one_smiles(page, url: str, name: str) -> None:
    """Open page `name` by URL (a new visit) and choose its "One SMILES" input."""
    page.goto(f"{url}/{name}")
    page.get_by_role("heading", name=name).first.wait_for(timeout=60_000)
    page.get_by_text("One SMILES").click()
    if name == "Attention":  # its worked example, drawn before the user types
        page.wait_for_function(_NEW_EXPLANATION, arg="", timeout=60_000, polling=20)


def predict_times(page, url: str) -> None:
    """Click to values on screen for each of PREDICT_SMILES (the first is a warm-up)."""
    _one_smiles(page, url, "Predict")
    times = []
    for smi in PREDICT_SMILES:
        box = page.get_by_label("SMILES", exact=True)
        box.fill(smi)
        box.press("Enter")
        button = page.get_by_role("button", name="Predict", exact=True)
        button.wait_for(timeout=30_000)
        page.wait_for_timeout(500)  # the rerun that the new SMILES started settles
        start = time.perf_counter()
        button.click()
        page.get_by_text(f"{smi} ·").first.wait_for(timeout=60_000)
        page.locator('[data-testid="stMetricDelta"]', has_text="±").first.wait_for(timeout=60_000)
        times.append((smi, time.perf_counter() - start))
    load = os.getloadavg()[0]
    cells = "  ".join(f"{smi} {t:.2f}" for smi, t in times[1:])
    print(f"SMILES -> numbers on screen, 5 conformers (load {load:.1f}): {cells}  max "
          f"{max(t for _, t in times[1:]):.2f} s", flush=True)  # fmt: skip


# True once the contributions caption names a prediction other than `prev` and the chart
# above it is drawn (plotly's SVG): the page shows the new molecule's explanation.
_FIND_CAPTION = (
    "[...document.querySelectorAll('p')].find(e => e.innerText.startsWith('The bars add up to'))"
)
_NEW_EXPLANATION = f"""(prev) => {{
  const el = {_FIND_CAPTION};
  if (!el || el.innerText === prev) return false;
  return !!document.querySelector('[data-testid="stPlotlyChart"] .main-svg');
}}"""
_CAPTION = f"() => {{ const el = {_FIND_CAPTION}; return el ? el.innerText : ''; }}"


def _settled(locator, settle_ms: int = 150) -> None:
    """Wait until `locator` has stayed in place for settle_ms (at most 30 s): a click
    within milliseconds of the IG expander opening can be lost (tests/browser/conftest.py)."""
    locator.wait_for(timeout=30_000)
    box, deadline = locator.bounding_box(), time.monotonic() + 30
    while time.monotonic() < deadline:
        locator.page.wait_for_timeout(settle_ms)
        now = locator.bounding_box()
        if now == box and now is not None:
            return
        box = now


def attention_times(page, url: str, label: str = "") -> None:
    """SMILES to the explained page, and the IG click to its charts (module docstring)."""
    # A person on the page typing one SMILES after another: Enter to the new chart.
    _one_smiles(page, url, "Attention")
    same_page = []
    for smi in ATTENTION_SMILES:
        box = page.get_by_label("SMILES", exact=True)
        box.fill(smi)
        page.wait_for_timeout(500)
        prev = page.evaluate(_CAPTION)
        start = time.perf_counter()
        box.press("Enter")
        page.wait_for_function(_NEW_EXPLANATION, arg=prev, timeout=60_000, polling=20)
        same_page.append((smi, time.perf_counter() - start))
    load = os.getloadavg()[0]
    cells = "  ".join(f"{smi} {t:.2f}" for smi, t in same_page)
    print(f"Attention ({label}), SMILES after SMILES on one open page, Enter -> new chart: "
          f"{cells} s (load {load:.1f})", flush=True)  # fmt: skip
    # Each SMILES on a freshly opened page, then Integrated Gradients.
    rows = []
    for smi in ATTENTION_SMILES:
        _one_smiles(page, url, "Attention")
        box = page.get_by_label("SMILES", exact=True)
        box.fill(smi)
        prev = page.evaluate(_CAPTION)  # the example's
        start = time.perf_counter()
        box.press("Enter")
        page.wait_for_function(_NEW_EXPLANATION, arg=prev, timeout=60_000, polling=20)
        first_chart = time.perf_counter() - start
        page.get_by_role("button", name="Download the atom table (CSV)").wait_for(timeout=60_000)
        explained = time.perf_counter() - start
        canvas = page.frame_locator('iframe[title^="3D view"]').first.locator("canvas").first
        canvas.wait_for(state="attached", timeout=60_000)
        viewer = time.perf_counter() - start
        page.get_by_text("Integrated Gradients", exact=True).click()
        button = page.get_by_role("button", name="Compute Integrated Gradients")
        _settled(button)  # as a person clicks (see tests/browser/conftest.py click_settled)
        start = time.perf_counter()
        button.click()
        try:
            page.get_by_text("Baseline:").nth(1).wait_for(timeout=120_000)  # both IG charts
            ig = f"{time.perf_counter() - start:.2f} s"
        except Exception as exc:  # report it and go on with the next molecule
            ig = f"not shown within 120 s ({type(exc).__name__})"
        rows.append((smi, first_chart, explained, viewer, ig))
    load = os.getloadavg()[0]
    for smi, first_chart, explained, viewer, ig in rows[1:]:
        print(f"Attention ({label}), {smi} on a newly opened page: Enter -> first chart "
              f"{first_chart:.2f} s, whole page {explained:.2f} s, 3D view {viewer:.2f} s; "
              f"IG click -> charts {ig} (load {load:.1f})", flush=True)  # fmt: skip
    page.context.close()


if __name__ == "__main__":
    main()
