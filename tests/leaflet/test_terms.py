"""Medical terms are explained the first time they appear (issue 16, item 3).

For each term: where it first appears in the rendered leaflet (the order a reader meets the
texts: paragraphs, table cells of one row together, chart titles), the same text must carry its
plain explanation. English, for every example case and the general leaflet; the translations
follow the English sentences.

Terms that appear first only as names in the list of tests that guidelines advise against
(natural killer cells, cytokines, homocysteine) are left out: that list gives names on purpose,
and each is explained in the tests table.
"""

from __future__ import annotations

import re

import pytest

from rplcare.leaflet.model import Leaflet, Para, Table
from tests.leaflet.conftest import SUBJECTS, build

# term (a regular expression, case-insensitive) -> its plain explanation (the same).
TERMS: dict[str, str] = {
    r"\bseptum\b": r"\bwall\b",
    r"antiphospholipid": r"clot",
    r"biochemical pregnancy": r"before it can be seen on a scan",
    r"\bodds\b": r"a statistical measure",
    r"\bplacebo\b": r"dummy treatment",
    r"\badhesions\b": r"scar tissue",
    r"\bprogesterone\b": r"pregnancy hormone",
    r"\bheparin\b": r"clot",
    r"\bchromosomes?\b": r"genetic material|genes|by chance",
    r"\bcervix\b": r"neck of the womb",
    r"\bfibroids?\b": r"growths? of muscle",
    r"\bectopic\b": r"outside the womb",
    r"\bhCG\b": r"pregnancy hormone",
}


def reading_order(leaflet: Leaflet) -> list[str]:
    """Each text a reader meets, in order; a table row is one text (name beside meaning)."""
    out: list[str] = []
    for s in leaflet.sections:
        for b in s.blocks:
            if isinstance(b, Para):
                out.append(b.text)
            elif isinstance(b, Table):
                out += [" ".join(c.text for c in row) for row in b.rows]
            else:
                out.append(b.title)
    return out


def unexplained(texts: list[str]) -> list[str]:
    problems = []
    for term, explanation in TERMS.items():
        first = next((t for t in texts if re.search(term, t, re.IGNORECASE)), None)
        if first is not None and not re.search(explanation, first, re.IGNORECASE):
            problems.append(f"{term!r} first appears unexplained in: {first}")
    return problems


@pytest.mark.parametrize("subject", SUBJECTS)
def test_medical_terms_are_explained_where_they_first_appear(subject: str) -> None:
    problems = unexplained(reading_order(build(subject, "en")))
    assert not problems, "\n".join(problems)


def test_the_check_finds_a_term_used_before_it_is_explained() -> None:
    texts = ["Treatment with heparin helps some women.", "Heparin stops blood clots."]
    assert unexplained(texts) == [
        "'\\\\bheparin\\\\b' first appears unexplained in: Treatment with heparin helps some women."
    ]
    assert unexplained(list(reversed(texts))) == []
