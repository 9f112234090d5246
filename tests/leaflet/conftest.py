"""Leaflets for the example cases and the general leaflet, built once per test session."""

from __future__ import annotations

from datetime import date

import pytest

from rplcare.io import load_case
from rplcare.knowledge.loader import load_knowledge
from rplcare.leaflet.i18n import LANGUAGES
from rplcare.leaflet.model import Leaflet
from rplcare.leaflet.render import general_leaflet, leaflet_for_case, render_html
from tests.conftest import EXAMPLES

GENERAL_DAY = date(2026, 11, 26)
SUBJECTS = [p.stem for p in EXAMPLES] + ["general"]


def build(subject: str, lang: str, booklet: bool = True) -> Leaflet:
    """The general leaflet, or a case's full booklet (default) or short leaflet."""
    if subject == "general":
        return general_leaflet(lang, GENERAL_DAY)
    path = next(p for p in EXAMPLES if p.stem == subject)
    kb = load_knowledge()
    return leaflet_for_case(load_case(path, kb), lang, kb, booklet=booklet)


_cache: dict[tuple[str, str], tuple[Leaflet, str]] = {}


@pytest.fixture(
    params=[(s, lang) for s in SUBJECTS for lang in LANGUAGES], ids=lambda p: "-".join(p)
)
def rendered(request: pytest.FixtureRequest) -> tuple[str, str, Leaflet, str]:
    """(subject, lang, leaflet, html) for every example case's booklet and the general leaflet
    (the short leaflet has its own tests: test_short_leaflet.py)."""
    key = request.param
    if key not in _cache:
        leaflet = build(*key)
        _cache[key] = (leaflet, render_html(leaflet))
    leaflet, html = _cache[key]
    return key[0], key[1], leaflet, html
