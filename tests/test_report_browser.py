"""The figures page in a real browser (Debian's Chromium, driven by Playwright): opened from a file with
no console message and no request but the file itself, on a phone and on a desktop, and printed.

The page is the hand-built report of tests/test_report_files.py, with the rule and with every count,
and the sample in docs/.
"""

import pytest

from bot.reports.html import render_html
from bot.reports.samples import SAMPLE_HTML
from dialogs.report_model import NO_SUPPRESSION, Suppress
from tests.playground.chromium import chromium
from tests.test_report_files import KNOWN

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(params=["circulated", "all_counts", "sample"])
def page_file(request, tmp_path):
    path = tmp_path / "figures.html"
    if request.param == "sample":
        path.write_bytes(SAMPLE_HTML.read_bytes())
    else:
        hide = Suppress(6) if request.param == "circulated" else NO_SUPPRESSION
        path.write_bytes(render_html(KNOWN, hide))
    return path


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_page_opens_offline_fits_the_screen_and_prints(browser, page_file, viewport):
    context = browser.new_context(viewport=viewport, java_script_enabled=True)
    page = context.new_page()
    requests, console, errors = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(page_file.as_uri(), wait_until="load")
        assert requests == [page_file.as_uri()]  # nothing else: no font, style, image or script
        assert console == [] and errors == []
        # Nothing needs a sideways scroll: wide tables scroll in their own box.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        charts = page.locator("svg[role=img]")
        assert charts.count() == 3
        for i in range(3):
            chart = charts.nth(i)
            box = chart.bounding_box()
            assert box is not None and 0 < box["width"] <= viewport["width"] and box["height"] > 100
            assert chart.get_attribute("aria-label")
        assert page.get_by_role("heading", name="Attendance", exact=True).is_visible()
        pdf = page.pdf(format="A4", print_background=True)
        assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000
        assert requests == [page_file.as_uri()] and console == [] and errors == []
    finally:
        context.close()
