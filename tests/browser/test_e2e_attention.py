"""End to end in headless Chromium: the Attention page on a SMILES, heat map and coloured
3D view drawn; then the Learn page. Screenshots go to test-artifacts/.
Run: `pytest -m browser -s tests/browser/test_e2e_attention.py`."""

from __future__ import annotations

import time

import pytest

from browser.conftest import (
    click_settled,
    go_to,
    not_blank,
    open_app,
    screenshot,
    wait_for_text,
    wait_idle,
)

pytestmark = pytest.mark.browser
VIEWER = 'iframe[title^="3D view"]'


def canvas_png(page, name: str, timeout: float = 30) -> bytes:
    """Screenshot of the first viewer's WebGL canvas once it shows something."""
    canvas = page.frame_locator(VIEWER).first.locator("canvas").first
    canvas.wait_for(state="visible", timeout=timeout * 1000)
    canvas.scroll_into_view_if_needed()
    deadline = time.monotonic() + timeout
    while True:
        _, png = screenshot(page, name, canvas)
        if not_blank(png) or time.monotonic() > deadline:
            return png
        page.wait_for_timeout(200)


def explain_typed(page, app_url: str, smiles: str) -> None:
    """Open the Attention page, type `smiles`, wait until its explanation is drawn."""
    open_app(page, app_url)
    go_to(page, "Attention")
    wait_for_text(page, "Type a SMILES")
    box = page.get_by_role("textbox", name="SMILES")
    box.fill(smiles)
    box.press("Enter")
    wait_for_text(page, "The bars add up to", timeout=60)
    wait_idle(page)


def test_attention_page_draws_heatmap_and_coloured_view(app_url, page):
    explain_typed(page, app_url, "CC(=O)Nc1ccc(O)cc1")
    screenshot(page, "attention-top")

    split = page.get_by_test_id("stPlotlyChart").first  # where each prediction comes from
    split.scroll_into_view_if_needed()
    split.locator(".barlayer .point").first.wait_for(state="attached")
    _, png = screenshot(page, "attention-local-global-split", split)
    assert not_blank(png), "the local/global split chart is blank"

    heatmap = page.get_by_test_id("stPlotlyChart").nth(1)
    heatmap.scroll_into_view_if_needed()
    heatmap.locator(".heatmaplayer, .hm image, image").first.wait_for(state="attached")
    _, png = screenshot(page, "attention-heatmap", heatmap)
    assert not_blank(png), "the heat map is blank"

    png = canvas_png(page, "attention-view-local-global")
    assert not_blank(png), "the local/global-coloured 3D view is blank"
    screenshot(page, "attention-page")

    page.get_by_role("radiogroup", name="Colour atoms by").get_by_text(
        "attention", exact=True
    ).click()
    wait_idle(page)
    png = canvas_png(page, "attention-view-attention")
    assert not_blank(png), "the attention-coloured 3D view is blank"

    page.get_by_role("radiogroup", name="Colour atoms by").get_by_text("contribution").click()
    wait_idle(page)
    png = canvas_png(page, "attention-view-contribution")
    assert not_blank(png), "the contribution-coloured 3D view is blank"
    assert not page.console_errors, page.console_errors


def test_learn_page(app_url, page):
    open_app(page, app_url)
    go_to(page, "Learn")
    wait_for_text(page, "Local or global? Ask the model", timeout=60)
    wait_idle(page)
    png = canvas_png(page, "learn-edge-view")
    assert not_blank(png), "the edge view is blank"
    screenshot(page, "learn-page")
    for name, header in (("learn-cost", "2 · Why angles"), ("learn-attention", "3 · Local or")):
        page.get_by_text(header).first.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        screenshot(page, name)
    assert page.get_by_text("DimeNet-style angle terms").first.is_visible()
    assert not page.console_errors, page.console_errors


def test_integrated_gradients_click_draws_both_charts(app_url, page):
    # issue 17: the IG click that drew nothing. Typed SMILES, expander, click: both
    # charts (atom identity, atom position) with their completeness captions
    explain_typed(page, app_url, "CC(C)CO")
    page.get_by_text("Integrated Gradients", exact=True).click()
    click_settled(page.get_by_role("button", name="Compute Integrated Gradients"))
    page.get_by_text("Baseline:").nth(1).wait_for(timeout=120_000)
    wait_idle(page)
    captions = page.get_by_text("Baseline:").all_inner_texts()
    assert len(captions) == 2 and all("steps)" in c for c in captions), captions
    assert "Traceback" not in page.content()
    screenshot(page, "attention-ig")
