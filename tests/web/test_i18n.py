"""The UI language: chosen with the switch (remembered), else the browser's, else English."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from rplcare.web.i18n import from_accept_language
from rplcare.web.routes.language import same_site_path


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        ("nl-NL,nl;q=0.9,en;q=0.8", "nl"),
        ("de-DE,sv;q=0.7,en;q=0.5", "sv"),
        ("en;q=0.4,zh-CN;q=0.9", "zh"),
        ("zh-Hans-CN", "zh"),
        ("fr-FR,de;q=0.8", None),
        ("nl;q=0,en", "en"),
        ("sv;q=abc,nl", "nl"),
        ("", None),
    ],
)
def test_accept_language_is_matched_by_preference(header: str, lang: str | None) -> None:
    assert from_accept_language(header) == lang


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/patients/12?x=1", "/patients/12?x=1"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_the_switch_only_returns_to_this_site(target: str, safe: str) -> None:
    assert same_site_path(target) == safe


def test_the_browser_language_sets_the_page_language(client: TestClient) -> None:
    page = client.get("/risk", headers={"accept-language": "sv-SE,sv;q=0.9"})
    assert '<html lang="sv">' in page.text
    assert 'lang="sv" hreflang="sv" aria-current="true">Svenska</a>' in page.text


def test_the_switch_is_remembered_over_the_browser_language(client: TestClient) -> None:
    r = client.get(
        "/language", params={"set": "zh", "next": "/risk?age=34"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/risk?age=34"
    assert "rplcare_lang=zh" in r.headers["set-cookie"]
    page = client.get("/risk", headers={"accept-language": "nl"})
    assert '<html lang="zh-Hans">' in page.text
    login = client.get("/login")
    assert '<html lang="zh-Hans">' in login.text


def test_an_unknown_language_changes_nothing(client: TestClient) -> None:
    r = client.get("/language", params={"set": "de", "next": "/risk"}, follow_redirects=False)
    assert r.status_code == 303 and "set-cookie" not in r.headers
    assert '<html lang="en-GB">' in client.get("/risk").text


def test_the_vocabulary_covers_every_coded_value_the_ui_shows() -> None:
    """Coded values reach the catalogs only through rplcare.web.vocabulary."""
    from typing import get_args

    from rplcare.domain.case import Outcome
    from rplcare.engine import assessment as a
    from rplcare.web import vocabulary as v
    from rplcare.web.repository import CARE_STATUSES
    from rplcare.web.security import ROLES

    def words(values: object) -> set[str]:
        return {str(x).replace("_", " ") for x in values}  # type: ignore[attr-defined]

    fields = a.DefinitionOut.model_fields
    assert words(Outcome) == set(v.OUTCOMES)
    assert words(get_args(get_args(fields["kind"].annotation)[0])) == set(v.DEFINITION_KINDS)
    assert words(get_args(fields["evaluation"].annotation)) == set(v.EVALUATIONS)
    assert words(get_args(a.WorkupOut.model_fields["status"].annotation)) == set(v.WORKUP_STATUSES)
    assert words(get_args(a.WorkupOut.model_fields["recommendation"].annotation)) == set(
        v.RECOMMENDATIONS
    )
    assert words(get_args(a.WorkupOut.model_fields["verification"].annotation)) == set(
        v.VERIFICATIONS
    )
    assert words(CARE_STATUSES) == set(v.CARE_STATUSES)
    assert words(ROLES) == set(v.ROLES)
    assert v.DISCLAIMER == a.DISCLAIMER


# --- the catalogs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web_template() -> Any:
    from rplcare.web.catalog import extract_template

    return extract_template()


@pytest.mark.parametrize("lang", ["nl", "sv", "zh"])
def test_every_ui_message_is_translated_with_the_same_placeholders(
    lang: str, web_template: Any
) -> None:
    """No missing, untranslated, fuzzy or stale message; placeholders identical."""
    from rplcare.web.catalog import check

    problems = check(lang, web_template)
    assert problems == [], "\n".join(f"{p.problem}: {p.msgid[:70]}" for p in problems)


def test_committed_ui_template_matches_the_code(web_template: Any) -> None:
    """Run scripts/update-catalogs after changing a UI message; this fails until you do."""
    from babel.messages.pofile import read_po

    from rplcare.web.i18n import DOMAIN, locale_dir

    with (locale_dir() / f"{DOMAIN}.pot").open("rb") as fh:
        committed = read_po(fh)
    assert {m.id for m in committed if m.id} == {m.id for m in web_template if m.id}


@pytest.mark.parametrize("lang", ["nl", "sv", "zh"])
def test_compiled_ui_catalog_matches_its_po_file(lang: str) -> None:
    """The .mo is built from the .po at install time; a stale build would show old text."""
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    from rplcare.web.catalog import po_path

    with po_path(lang).open("rb") as fh:
        po = read_po(fh)
    with po_path(lang).with_suffix(".mo").open("rb") as fh:
        mo = read_mo(fh)
    for message in po:
        if message.id:
            found = mo.get(message.id)
            assert found is not None and found.string == message.string, message.id


@pytest.mark.parametrize(
    ("lang", "heading"), [("nl", "Inloggen"), ("sv", "Logga in"), ("zh", "登录")]
)
def test_pages_are_shown_in_the_chosen_language(
    client: TestClient, lang: str, heading: str
) -> None:
    from rplcare.web.i18n import gettext_for

    assert gettext_for(lang)("Sign in") == heading
    page = client.get("/login", headers={"accept-language": lang}).text
    assert f"<h1>{heading}</h1>" in page
    risk = client.get(
        "/risk", params={"age": "34", "losses": "3"}, headers={"accept-language": lang}
    )
    assert gettext_for(lang)("Miscarriage in the next pregnancy") in risk.text
    assert "Miscarriage in the next pregnancy" not in risk.text
