"""Issue 16: the short personal leaflet (at most 4 A4 pages in every language, for every example
case and so every web demo couple), the booklet that holds the rest, and page breaks that keep
headings with their text and table rows whole. Checked on WeasyPrint's laid-out pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rplcare.leaflet.i18n import LANGUAGES
from rplcare.leaflet.model import BarChart, CurveChart, Leaflet, Para, Table
from rplcare.leaflet.render import DEFAULT_PUBLIC_URL, online_url, qr_svg, render_html
from tests.conftest import EXAMPLES
from tests.leaflet.conftest import build

weasyprint = pytest.importorskip("weasyprint")

MAX_PAGES = 4
CASES = [p.stem for p in EXAMPLES]
# Boxes that must never be the last thing on a page: a heading or a caption without its text.
HEADING_TAGS = {"h1", "h2", "h3", "caption"}
HEADING_CLASSES = {"list-caption", "part"}


def _document(html: str) -> Any:
    return weasyprint.HTML(string=html).render()


def _flow(page: Any) -> Iterator[Any]:
    """The page's boxes in document order, without the footer's margin boxes."""
    for child in page._page_box.children:
        if type(child).__name__ != "MarginBox":
            yield from child.descendants()


def _is_heading(element: Any) -> bool:
    classes = set((element.get("class") or "").split())
    return element.tag in HEADING_TAGS or bool(classes & HEADING_CLASSES)


def _text_lines(box: Any, in_heading: bool = False) -> Iterator[tuple[Any, bool]]:
    """(text box, whether it is inside a heading) for every text box under `box`."""
    element = getattr(box, "element", None)
    if element is not None and getattr(box, "element_tag", None) and _is_heading(element):
        in_heading = True
    if type(box).__name__ == "TextBox":
        if box.text.strip():
            yield box, in_heading
        return
    for child in getattr(box, "children", ()):
        yield from _text_lines(child, in_heading)


def last_line_is_heading(page: Any) -> bool:
    """Whether the page's last line of text (lowest, then rightmost) belongs to a heading."""
    lines = [
        line
        for child in page._page_box.children
        if type(child).__name__ != "MarginBox"
        for line in _text_lines(child)
    ]
    _box, heading = max(
        lines, key=lambda x: (x[0].position_y + x[0].margin_height(), x[0].position_x)
    )
    return heading


def pages_ending_with_a_heading(document: Any) -> list[int]:
    return [
        number
        for number, page in enumerate(document.pages[:-1], start=1)
        if last_line_is_heading(page)
    ]


def rows_split_across_pages(document: Any) -> list[str]:
    seen: dict[int, int] = {}
    split = []
    for number, page in enumerate(document.pages):
        for group in _flow(page):
            # Header rows repeat on every page by design (thead); body rows must not.
            if type(group).__name__ != "TableRowGroupBox" or group.is_header:
                continue
            for box in group.children:
                key = id(box.element)
                if seen.setdefault(key, number) != number:
                    split.append(" ".join(box.element.itertext())[:60])
    return split


_short: dict[tuple[str, str], tuple[Leaflet, str, Any]] = {}


def short(case: str, lang: str) -> tuple[Leaflet, str, Any]:
    if (case, lang) not in _short:
        leaflet = build(case, lang, booklet=False)
        html = render_html(leaflet)
        _short[case, lang] = (leaflet, html, _document(html))
    return _short[case, lang]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("case", CASES)
def test_short_leaflet_is_at_most_four_pages_and_no_page_ends_with_a_heading(
    case: str, lang: str
) -> None:
    _leaflet, _html, document = short(case, lang)
    assert len(document.pages) <= MAX_PAGES
    assert pages_ending_with_a_heading(document) == []
    assert rows_split_across_pages(document) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_booklet_keeps_headings_with_their_text_and_rows_whole(lang: str) -> None:
    document = _document(render_html(build("aps-three-losses", lang)))
    assert len(document.pages) > MAX_PAGES  # the booklet is the long one
    assert pages_ending_with_a_heading(document) == []
    assert rows_split_across_pages(document) == []


FILLER = "<p>" + "Filler text that takes a line or two of the page. " * 8 + "</p>"


def _probe(css: str, paragraphs: int) -> str:
    """Filler paragraphs, a heading, then a table of tall rows, with `css`."""
    lines = "<br>".join(f"line {j}" for j in range(12))
    rows = "".join(f"<tr><td>row {i}<br>{lines}</td></tr>" for i in range(20))
    return (
        f"<html><head><style>@page {{ size: A4; margin: 20mm }} {css}</style></head><body>"
        + FILLER * paragraphs
        + "<h2>Heading at the foot</h2>"
        + FILLER
        + f"<table>{rows}</table></body></html>"
    )


# WeasyPrint's own stylesheet may already avoid some breaks; the control allows them all.
ALLOW = "h2 { break-after: auto; } tr { break-inside: auto; }"


def _heading_at_foot(css: str) -> tuple[bool, bool]:
    """Some filler count puts the heading last on page 1 without `break-after: avoid`;
    returns (a page ended with a heading, a table row was split) for that count with `css`."""
    for n in range(8, 30):
        plain = _document(_probe(ALLOW, n))
        if pages_ending_with_a_heading(plain):
            styled = _document(_probe(css, n))
            return bool(pages_ending_with_a_heading(styled)), bool(rows_split_across_pages(styled))
    raise AssertionError("no filler count left the heading at the foot of page 1")


def test_weasyprint_honours_break_after_and_break_inside_avoid() -> None:
    """The checks above can fail: without the rules WeasyPrint leaves a heading at the foot of a
    page and splits a row; with the leaflet's rules it does neither."""
    assert _heading_at_foot(ALLOW) == (True, True)
    rules = "h2 { break-after: avoid; } tr { break-inside: avoid; }"
    assert _heading_at_foot(rules) == (False, False)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_short_leaflet_has_the_essentials_and_one_chart(lang: str) -> None:
    leaflet, html, _document = short("aps-three-losses", lang)
    assert leaflet.kind == "leaflet"
    assert [s.id for s in leaflet.sections] == [
        "you",
        "your_chances",
        "your_tests",
        "your_care",
        "change",
        "support",
    ]
    charts = [b for s in leaflet.sections for b in s.blocks if isinstance(b, BarChart | CurveChart)]
    assert len(charts) == 1
    # No guideline-by-guideline positions and no general sections: those are the booklet's.
    cells = [
        c for s in leaflet.sections for b in s.blocks if isinstance(b, Table) for r in b.rows
        for c in r
    ]  # fmt: skip
    assert cells and not any(c.lines for c in cells)
    assert leaflet.online_url == online_url(lang)
    assert leaflet.labels["booklet_note"] in html
    assert f'href="{leaflet.online_url}"' in html.replace("&amp;", "&")
    qr = qr_svg(leaflet.online_url)
    assert qr in html
    assert qr.startswith('<svg role="img" ') and f"<title>{leaflet.online_url}</title>" in qr


def test_booklet_holds_general_information_full_tests_table_and_guideline_positions() -> None:
    booklet = build("aps-three-losses", "en")
    short_ids = {s.id for s in build("aps-three-losses", "en", booklet=False).sections}
    ids = [s.id for s in booklet.sections]
    general = [s.id for s in booklet.sections if not s.personal]
    assert {"what_is_rpl", "causes", "tests", "treatment", "feelings"} <= set(general)
    assert not set(general) & short_ids
    tables = {b.caption: b for s in booklet.sections for b in s.blocks if isinstance(b, Table)}
    full = tables["Tests and what the guidelines advise"]
    assert len(full.rows) > len(tables["Tests for you"].rows) > 0
    assert all(row[2].lines for row in full.rows)  # each guideline's position, per test
    lines = [line.text for row in tables["Tests for you"].rows for line in row[2].lines]
    assert "RCOG 2023: can be considered" in lines
    assert "disagreements" in ids and "your_results" in ids
    assert booklet.kind == "booklet" and booklet.online_url is None
    assert booklet.title != build("aps-three-losses", "en", booklet=False).title


def test_short_leaflet_names_the_optional_tests_and_the_care_to_talk_about() -> None:
    leaflet, _html, _document = short("two-losses-young", "en")
    paras = [b.text for s in leaflet.sections for b in s.blocks if isinstance(b, Para)]
    talk = next(t for t in paras if t.startswith("You can also talk over these tests"))
    assert "Prolactin" in talk or "prolactin" in talk


def test_online_address_is_the_public_page_and_configurable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RPLCARE_PUBLIC_URL", raising=False)
    assert online_url("nl") == f"{DEFAULT_PUBLIC_URL}/leaflet?lang=nl"
    monkeypatch.setenv("RPLCARE_PUBLIC_URL", "https://rpl.example.org/")
    assert online_url("sv") == "https://rpl.example.org/leaflet?lang=sv"
    assert (
        online_url("zh", "https://clinic.example/rpl")
        == "https://clinic.example/rpl/leaflet?lang=zh"
    )
    # Never a personal page: the link is the general information the app serves signed out.
    assert "/patients" not in online_url("en")
