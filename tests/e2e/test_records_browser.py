"""Correctable records in a real browser (issue 15, U2): edit and remove a pregnancy and a test
result from the timeline, with their confirmation pages and "Saved" notices."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_browser import add_pregnancy, assert_accessible

pytestmark = pytest.mark.e2e


def create_couple(page: Page, label: str) -> None:
    page.goto("/patients/new")
    page.get_by_label("Label (a clinic reference, not a name)").fill(label)
    page.get_by_label("Age (years)").fill("35")
    page.get_by_role("button", name="Create couple").click()
    page.wait_for_url(re.compile(r"/patients/\d+$"))


def test_edit_and_remove_a_pregnancy(clinician: Page) -> None:
    """U2: Edit and Remove on a timeline row; notes are shown in the timeline."""
    page = clinician
    create_couple(page, "e2e-records-pregnancy")
    today = date.today()
    add_pregnancy(page, "miscarriage", today - timedelta(days=300), "8", "no")
    add_pregnancy(page, "miscarriage", today - timedelta(days=100), "7", "no")
    timeline = page.locator("table.timeline tbody")
    expect(timeline.locator("tr")).to_have_count(2)

    page.get_by_role("link", name="Edit Pregnancy 1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit pregnancy 1")
    page.get_by_label("Gestation at the end").fill("60")
    page.get_by_role("button", name="Save pregnancy").click()
    # The form's own page again, with the problem next to the field (nothing saved).
    expect(page.locator("#form-errors")).to_contain_text("Gestation at the end")
    expect(page.get_by_label("Gestation at the end")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "edit pregnancy with errors")

    page.get_by_label("Gestation at the end").fill("9+2")
    page.get_by_label("Notes (optional)").fill("Retained tissue, evacuation")
    page.get_by_role("button", name="Save pregnancy").click()
    page.wait_for_url("**?saved=pregnancy-edited#history")
    expect(page.locator("#history .saved-notice")).to_have_text("Saved: Pregnancy saved.")
    first = timeline.locator("tr").filter(has_text="Pregnancy 1")
    expect(first).to_contain_text("9+2 weeks")
    expect(first).to_contain_text("Notes: Retained tissue, evacuation")

    page.get_by_role("link", name="Remove Pregnancy 2").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Remove an entry")
    assert_accessible(page, "remove confirmation")
    page.get_by_role("button", name="Remove").click()
    page.wait_for_url("**?saved=pregnancy-removed#history")
    expect(page.locator("#history .saved-notice")).to_have_text("Saved: Pregnancy removed.")
    expect(timeline.locator("tr")).to_have_count(1)


def test_edit_and_remove_a_test_result(clinician: Page) -> None:
    """U2, U6: a result chosen per test, then corrected and removed. A laboratory flag that the
    default limit would not give (TSH 'high' at 1.0) is stored with both shown: the laboratory's
    own range wins over the cited default, so it is answered, not refused."""
    page = clinician
    create_couple(page, "e2e-records-test")
    form = page.locator("form").filter(has=page.locator("#t-choice"))
    form.get_by_label("Test and result").select_option("tsh:high")
    form.get_by_label("Value (optional)").fill("1.0")
    form.get_by_label("Unit").select_option(label="mIU/L")
    form.get_by_role("button", name="Save result").click()
    page.wait_for_url("**?saved=test-added#history")
    row = page.locator("table.timeline tbody tr").filter(has_text="Test: TSH")
    expect(row).to_contain_text("high")
    expect(row).to_contain_text("1 mIU/L")

    row.get_by_role("link", name=re.compile("^Edit Test TSH")).click()
    expect(page.get_by_label("Test and result")).to_have_value("tsh:high")
    page.get_by_label("Test and result").select_option("tsh:")
    page.get_by_label("Value (optional)").fill("5.4")
    page.get_by_label("Method (optional)").fill("ECLIA")
    page.get_by_role("button", name="Save result").click()
    page.wait_for_url("**?saved=test-edited#history")
    expect(row).to_contain_text("5.4 mIU/L; method: ECLIA")
    expect(row).not_to_contain_text("high")

    row.get_by_role("link", name=re.compile("^Remove Test TSH")).click()
    page.get_by_role("button", name="Remove").click()
    page.wait_for_url("**?saved=test-removed#history")
    expect(page.locator("table.timeline")).to_have_count(0)
    expect(page.locator("#history")).to_contain_text("Nothing recorded yet.")
