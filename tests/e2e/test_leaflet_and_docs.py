"""In Chromium: the HTML leaflet renders with its own styles and charts (review U1: two CSP
headers blocked every inline style, charts were black boxes) and /docs shows the API (U10:
Swagger UI from a CDN was blocked, a blank page)."""

from __future__ import annotations

import io

from PIL import Image
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.e2e.conftest import screenshot
from tests.e2e.test_browser import DEMO_APS, open_couple


def csp_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def collect(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            errors.append(message.text)

    page.on("console", collect)
    return errors


def dark_share(png: bytes) -> float:
    """The share of near-black pixels: a chart blocked by the CSP is a solid black box."""
    histogram = Image.open(io.BytesIO(png)).convert("L").histogram()
    return sum(histogram[:40]) / sum(histogram)


def check_leaflet(page: Page, name: str) -> None:
    family = page.evaluate("getComputedStyle(document.documentElement).fontFamily")
    assert "DejaVu Sans" in family, family  # the leaflet's stylesheet applied
    chart = page.locator("figure.chart svg").first
    expect(chart).to_be_visible()
    share = dark_share(chart.screenshot())
    assert share < 0.25, f"the chart is {share:.0%} black"
    screenshot(page, name, max_height=2000)


def test_public_leaflet_renders_with_its_styles_and_charts(page: Page) -> None:
    """U1, the public general leaflet linked from /risk."""
    errors = csp_errors(page)
    page.goto("/leaflet?lang=nl")
    check_leaflet(page, "leaflet-html-nl.png")
    assert errors == []


def test_personal_leaflet_from_the_patient_page_renders(clinician: Page) -> None:
    """U1, "Open to print" on a demo couple's page."""
    errors = csp_errors(clinician)
    open_couple(clinician, DEMO_APS)
    clinician.get_by_role("button", name="Open to print").click()
    clinician.wait_for_load_state()
    check_leaflet(clinician, "leaflet-html-personal-en.png")
    assert errors == []


def test_api_docs_show_the_operations(page: Page) -> None:
    """U10: /docs was blank under the app's CSP."""
    errors = csp_errors(page)
    page.goto("/docs")
    expect(page.locator(".opblock").first).to_be_visible(timeout=15000)
    expect(page.get_by_text("/api/v1/assess").first).to_be_visible()
    assert errors == []
