"""End to end in headless Chromium: upload a tiny CSV on the Fine-tune page, start a
2-epoch job (a real background worker process) and watch the page follow it to the
end, curves and parity plot included. Run: `pytest -m browser -s tests/browser`."""

from __future__ import annotations

import time

import pytest

from browser.conftest import go_to, not_blank, open_app, screenshot, wait_for_text, wait_idle

pytestmark = pytest.mark.browser
SMILES = ["C", "CC", "CCC", "CCO", "CCN", "CO", "CN", "OCCO", "CC(=O)O", "c1ccccc1"]
JOB_LIMIT_S = 240.0  # worker start (imports torch) + 2 tiny epochs on a shared 2-core box


def test_a_two_epoch_job_runs_to_the_end(app_url, page, tmp_path):
    csv = tmp_path / "tiny.csv"
    csv.write_text("smiles,size\n" + "".join(f"{s},{len(s) * 0.5}\n" for s in SMILES))
    open_app(page, app_url)
    go_to(page, "Fine-tune")
    page.locator('input[type="file"]').set_input_files(str(csv))
    wait_for_text(page, "All 10 rows look usable.")
    wait_idle(page)
    page.get_by_text("Training options").click()
    epochs = page.get_by_role("spinbutton", name="Epochs", exact=True)
    epochs.fill("2")
    epochs.press("Enter")
    wait_idle(page)
    start = time.perf_counter()
    page.get_by_role("button", name="Start fine-tuning").click()
    wait_for_text(page, "Started job tiny-size")
    screenshot(page, "10-finetune-started")
    wait_for_text(page, "Finished: checkpoint", timeout=JOB_LIMIT_S)
    took = time.perf_counter() - start
    print(f"\n2-epoch fine-tune job: start -> finished on screen {took:.1f} s")
    wait_idle(page)
    charts = page.locator(".js-plotly-plot")
    charts.first.wait_for(state="visible", timeout=30_000)
    assert charts.count() == 2  # loss curves and the validation parity plot
    charts.last.scroll_into_view_if_needed()
    _, png = screenshot(page, "11-finetune-finished")
    assert not_blank(png)
    assert page.get_by_text("epoch 2 of 2").first.is_visible()
    assert not page.console_errors, page.console_errors
