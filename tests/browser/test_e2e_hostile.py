"""Hostile input through the real app in headless Chromium: payload text in file names,
titles, SMILES and table columns never becomes script, markup or an outside fetch, and
a 100,000-atom upload gives a usable Structure page in bounded time and memory."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from browser.conftest import go_to, open_app, screenshot, wait_for_text, wait_idle

pytestmark = pytest.mark.browser
EVIL = "evil.example"
PAYLOAD = f"![x](http://{EVIL}/a.png)<img src=x onerror=alert(1)>https://{EVIL}/b"


def _guard(page) -> list[str]:
    """Record every request for a host other than the app's, and every dialog (alert)."""
    seen: list[str] = []
    page.on("dialog", lambda d: (seen.append(f"dialog: {d.message}"), d.dismiss()))

    def route(r):
        host = r.request.url.split("/")[2] if "://" in r.request.url else ""
        if not host.startswith(("127.0.0.1", "localhost")) and r.request.url.startswith("http"):
            seen.append(f"request: {r.request.url}")
            return r.abort()
        return r.continue_()

    page.route("**/*", route)
    return seen


def _no_live_payload(page) -> None:
    """No <img>/<a> whose address names the payload host, in the page or its iframes."""
    for frame in page.frames:
        bad = frame.evaluate(
            """(host) => [...document.querySelectorAll('img, a, iframe[src], script[src]')]
                 .map(e => e.getAttribute('src') || e.getAttribute('href') || '')
                 .filter(u => u.includes(host))""",
            EVIL,
        )
        assert not bad, (frame.url, bad)


def test_payload_names_stay_text(app_url, page, tmp_path):
    seen = _guard(page)
    water = f"3\n{PAYLOAD}\nO 0 0 0.1173\nH 0 0.7572 -0.4692\nH 0 -0.7572 -0.4692\n"
    path = tmp_path / "payload.xyz"
    path.write_text(water)
    table = tmp_path / "table.csv"
    table.write_text(f'{PAYLOAD},smiles\n{PAYLOAD},CCO\n=HYPERLINK("http://{EVIL}"),CN\n')
    open_app(page, app_url)
    go_to(page, "Structure")
    page.get_by_role("tab", name="Upload a file").click()
    page.locator('input[type="file"]').set_input_files(str(path))
    wait_for_text(page, "Two-hop angles", timeout=60)
    wait_idle(page)
    page.get_by_role("tab", name="SMILES").click()
    page.get_by_role("textbox", name="SMILES").fill(PAYLOAD)
    page.get_by_role("button", name="Build 3D structure").click()
    # shown, as text: waited for (wait_idle can return before the click's rerun shows)
    wait_for_text(page, EVIL, timeout=60)
    wait_idle(page)
    screenshot(page, "hostile-structure")
    _no_live_payload(page)

    go_to(page, "Predict")
    page.get_by_text("Batch: CSV of SMILES").first.click()
    wait_idle(page)
    page.locator('input[type="file"]').first.set_input_files(str(table))
    wait_idle(page)
    screenshot(page, "hostile-predict")
    _no_live_payload(page)
    assert not seen, seen
    assert "Traceback" not in page.content()


def _server_rss_mb(port: str) -> tuple[float, float]:
    """(current, peak) resident memory of the streamlit server listening on `port`, MB."""
    for entry in os.listdir("/proc"):
        if not entry.isdecimal():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        if b"streamlit" in b" ".join(cmd) and port.encode() in cmd:
            kb = {k: int(v.split()[0]) for k, v in
                  (line.split(":", 1) for line in status.splitlines() if line.startswith("Vm"))}  # fmt: skip
            return kb["VmRSS"] / 1024, kb["VmHWM"] / 1024
    raise AssertionError(f"no streamlit server on port {port}")


def _water_box(n_molecules: int) -> str:
    rng = np.random.default_rng(0)
    side = int(np.ceil(n_molecules ** (1 / 3)))
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    o = grid[:n_molecules] * 3.1 + rng.normal(scale=0.1, size=(n_molecules, 3))
    lines = [str(3 * n_molecules), "water box"]
    for p in o:
        lines.append(f"O {p[0]:.4f} {p[1]:.4f} {p[2]:.4f}")
        lines.append(f"H {p[0] + 0.757:.4f} {p[1] + 0.586:.4f} {p[2]:.4f}")
        lines.append(f"H {p[0] - 0.757:.4f} {p[1] + 0.586:.4f} {p[2]:.4f}")
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_a_100k_atom_upload_gives_a_usable_page(app_url, page, tmp_path):
    path = tmp_path / "water_box.xyz"
    path.write_text(_water_box(33_333))  # 99,999 atoms, 2.6 MB
    open_app(page, app_url)
    go_to(page, "Structure")
    page.get_by_role("tab", name="Upload a file").click()
    start = time.perf_counter()
    page.locator('input[type="file"]').set_input_files(str(path))
    wait_for_text(page, "Two-hop angles", timeout=180)
    counts = time.perf_counter() - start
    legend = page.frame_locator('iframe[title^="3D view"]').get_by_text("whole structure")
    legend.first.wait_for(state="attached", timeout=120_000)
    seconds = time.perf_counter() - start
    wait_idle(page, timeout=120)
    rss, peak = _server_rss_mb(app_url.rsplit(":", 1)[1])
    screenshot(page, "hostile-100k-atoms")
    print(f"\n99,999-atom XYZ -> counts on screen {counts:.1f} s, view drawn {seconds:.1f} s; "
          f"server RSS {rss:.0f} MB (peak {peak:.0f} MB)")  # fmt: skip
    assert page.get_by_text("99,999").first.is_visible()
    assert "Traceback" not in page.content()
    assert seconds < 120  # a hang guard; the goal (30 s) is measured in the note
    assert peak < 2048
