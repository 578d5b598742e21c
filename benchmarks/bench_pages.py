"""Pages to first paint: seconds from opening a page's URL to its title on screen.

    python benchmarks/bench_pages.py [--passes 2] [--widths 1400 760]

Starts `streamlit run app.py` on a free port (data in a temporary folder), opens the
landing page once so the server has imported torch, RDKit and the models, then opens
every page by URL (a new visit each time, as a person following a link would) and
times it to the page's title, in headless Chromium (/usr/bin/chromium; playwright).
Each pass visits every page; the last pass is the warm figure (the goal: < 2 s per
page). The machine's load average is printed beside the figures: other work on the
cores slows the server's script runs.
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
PAGES = (("", "PAMNet Studio"), ("Structure", "Structure"), ("Predict", "Predict"),
         ("Attention", "Attention"), ("Fine-tune", "Fine-tune"), ("Learn", "Learn"))  # fmt: skip


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int) -> subprocess.Popen:
    env = {**os.environ, "PAMNET_DATA_DIR": tempfile.mkdtemp(prefix="pamnet-bench-")}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port)]  # fmt: skip
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
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    port = _port()
    server = _serve(port)
    url = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True,
                args=["--no-sandbox", "--disable-gpu"],
            )  # fmt: skip
            for width in args.widths:
                page = browser.new_context(viewport={"width": width, "height": 1000}).new_page()
                page.goto(url)
                page.get_by_text("PAMNet Studio").first.wait_for(timeout=180_000)  # cold start
                for k in range(args.passes):
                    times = []
                    for path, title in PAGES:
                        start = time.perf_counter()
                        page.goto(f"{url}/{path}")
                        page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
                        times.append((path or "landing", time.perf_counter() - start))
                    load = os.getloadavg()[0]
                    cells = "  ".join(f"{name} {t:.2f}" for name, t in times)
                    print(f"{width} px, pass {k + 1} (load {load:.1f}): {cells}  max "
                          f"{max(t for _, t in times):.2f} s", flush=True)  # fmt: skip
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
