"""Every page with each kind of bundled example (molecule, complex, RNA), at 1400 and at
760 px wide: no exception, no traceback text, no browser error; a screenshot of each."""

from __future__ import annotations

import pytest

from browser.conftest import go_to, open_app, screenshot, wait_for_text, wait_idle

pytestmark = pytest.mark.browser

PAGES = ("Structure", "Predict", "Attention", "Fine-tune", "Learn")
EXAMPLES = ("ethanol", "complex", "rna")


def _load_example(page, name: str) -> None:
    go_to(page, "Structure")
    page.get_by_role("tab", name="Example").click()
    box = page.get_by_test_id("stSelectbox").filter(has_text="Bundled example").first
    box.click()
    page.get_by_role("option").filter(has_text=f"{name}:").first.click()
    wait_idle(page)
    page.get_by_role("button", name="Load example").click()
    wait_for_text(page, "Two-hop angles", timeout=60)
    wait_idle(page)


def _problems(page) -> list[str]:
    found = [
        f"exception box: {e.inner_text()[:300]}" for e in page.get_by_test_id("stException").all()
    ]
    text = page.inner_text("body")
    found += [
        f"'{w}' on screen" for w in ("Traceback (most recent call last)", "Error:") if w in text
    ]
    return found + list(page.console_errors)


@pytest.mark.parametrize("width", [1400, 760])
def test_every_page_with_each_example(app_url, _playwright, width):
    context = _playwright.new_context(viewport={"width": width, "height": 1000})
    page = context.new_page()
    page.console_errors = []
    page.on("pageerror", lambda e: page.console_errors.append(f"uncaught: {e}"))
    try:
        open_app(page, app_url)
        problems = []
        for example in EXAMPLES:
            _load_example(page, example)
            for name in PAGES:
                go_to(page, name, timeout=90)
                wait_idle(page, timeout=120)
                screenshot(page, f"examples-{width}-{example}-{name.lower()}")
                problems += [f"{example} on {name}: {p}" for p in _problems(page)]
                page.console_errors.clear()
        assert not problems, "\n".join(problems)
    finally:
        context.close()
