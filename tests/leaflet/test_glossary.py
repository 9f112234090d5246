"""The catalogs use each language's glossary: the words clinics, prescriptions and patients use."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from pydantic import BaseModel, ConfigDict, Field

from rplcare.leaflet.catalog import package_dir
from rplcare.leaflet.i18n import CATALOGS

WEB_LOCALE = Path(__file__).resolve().parents[2] / "src" / "rplcare" / "web" / "locale"


class Term(BaseModel):
    model_config = ConfigDict(extra="forbid")
    en: str
    match: list[str] = Field(default_factory=list)
    use: list[str] = Field(default_factory=list)
    avoid: list[str] = Field(default_factory=list)
    catalogs: list[str] = Field(default_factory=lambda: ["leaflet"])
    review: str | None = None
    note: str | None = None


class Glossary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    locale: str
    terms: list[Term]


def load_glossary(locale: str) -> Glossary:
    path = package_dir() / "glossary" / f"{locale}.yaml"
    return Glossary.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def read(path: Path) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh)


def catalog_for(kind: str, locale: str) -> Catalog:
    if kind == "leaflet":
        return read(package_dir() / "locale" / locale / "LC_MESSAGES" / "rplcare.po")
    return read(WEB_LOCALE / locale / "LC_MESSAGES" / "web.po")


def pairs(catalog: Catalog) -> list[tuple[str, str]]:
    """(English, translation) for every translated form of every message."""
    out: list[tuple[str, str]] = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        english = " ".join(str(i) for i in ids)
        out.extend((english, str(s)) for s in strings if s)
    return out


def violations(glossary: Glossary, kind: str, messages: list[tuple[str, str]]) -> list[str]:
    problems = []
    for term in glossary.terms:
        if kind not in term.catalogs:
            continue
        for english, translated in messages:
            low = translated.lower()
            for word in term.avoid:
                if word.lower() in low:
                    problems.append(f"{term.en}: avoid {word!r} in {translated[:80]!r}")
            brought_up = term.use and any(m.lower() in english.lower() for m in term.match)
            if brought_up and not any(u.lower() in low for u in term.use):
                problems.append(f"{term.en}: expected one of {term.use} in {translated[:80]!r}")
    return problems


@pytest.mark.parametrize("locale", sorted(CATALOGS.values()))
def test_glossary_is_valid_and_names_its_review_rows(locale: str) -> None:
    glossary = load_glossary(locale)
    assert glossary.locale == locale
    assert len(glossary.terms) >= 10
    for term in glossary.terms:
        assert set(term.catalogs) <= {"leaflet", "web"}, term.en
        assert bool(term.match) == bool(term.use), f"{term.en}: match and use go together"
        assert term.use or term.avoid, f"{term.en}: says nothing to check"


@pytest.mark.parametrize("kind", ["leaflet", "web"])
@pytest.mark.parametrize("locale", sorted(CATALOGS.values()))
def test_catalog_follows_its_glossary(locale: str, kind: str) -> None:
    problems = violations(load_glossary(locale), kind, pairs(catalog_for(kind, locale)))
    assert problems == [], "\n".join(problems)


def test_the_check_catches_an_avoided_word_and_a_missing_term() -> None:
    glossary = Glossary(
        locale="nl",
        terms=[Term(en="aspirin", match=["aspirin"], use=["acetylsalicylzuur"], avoid=["odds"])],
    )
    found = violations(
        glossary,
        "leaflet",
        [("Low-dose aspirin", "Aspirine in lage dosis"), ("The odds", "De odds")],
    )
    assert any("expected one of" in p for p in found)
    assert any("avoid 'odds'" in p for p in found)
    assert violations(glossary, "web", [("Low-dose aspirin", "Aspirine")]) == []
