"""HTML and PDF output: accessible markup, embedded charts, A4 pages with numbers, date,
knowledge-base version and disclaimer, in every language, for every example and the general
leaflet."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from rplcare.leaflet.i18n import localizer
from rplcare.leaflet.model import BarChart, CurveChart, Leaflet
from rplcare.leaflet.render import render_pdf

A4_POINTS = (595.3, 841.9)
POINT_TOLERANCE = 1.0  # WeasyPrint rounds the page box to whole pixels


class _Outline(HTMLParser):
    """Collects what the accessibility checks need from an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.html_lang: str | None = None
        self.ids: list[str] = []
        self.svgs: list[dict[str, str | None]] = []
        self.svg_titles = 0
        self.figcaptions = 0
        self.th_without_scope = 0
        self.h1 = 0
        self._in_svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang")
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "svg":
            if not self._in_svg:
                self.svgs.append(a)
            self._in_svg += 1
        if tag == "title" and self._in_svg:
            self.svg_titles += 1
        if tag == "figcaption":
            self.figcaptions += 1
        if tag == "th" and "scope" not in a:
            self.th_without_scope += 1
        if tag == "h1":
            self.h1 += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._in_svg -= 1


def charts(leaflet: Leaflet) -> int:
    return sum(isinstance(b, BarChart | CurveChart) for s in leaflet.sections for b in s.blocks)


def test_html_is_accessible_and_self_contained(rendered: tuple[str, str, Leaflet, str]) -> None:
    _subject, lang, leaflet, html = rendered
    page = _Outline()
    page.feed(html)
    assert page.html_lang == localizer(lang).html_lang
    assert page.h1 == 1
    n = charts(leaflet)
    assert n >= 2  # the general charts at least; personal leaflets add the risk chart
    assert len(page.svgs) == n
    for svg in page.svgs:
        assert svg.get("role") == "img"
        assert svg.get("aria-labelledby")
    assert page.svg_titles >= n
    assert page.figcaptions == n  # every chart has a visible text description
    assert page.th_without_scope == 0
    assert len(page.ids) == len(set(page.ids)), "duplicate ids between inline charts"
    assert "<link" not in html and "<script" not in html  # one file, prints anywhere
    assert leaflet.labels["disclaimer"] in html
    assert leaflet.knowledge_version in html
    assert ("review" in leaflet.labels) == (lang != "en")
    if lang != "en":
        assert leaflet.labels["review"] in html


def _pdf_text(pdf: bytes) -> list[str]:
    if shutil.which("pdftotext"):
        out = subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
        ).stdout.decode("utf-8")
        return out.split("\f")[:-1]
    return [page.extract_text() or "" for page in PdfReader(BytesIO(pdf)).pages]


_pdfs: dict[tuple[str, str], bytes] = {}


def test_pdf_is_a4_with_numbered_pages_date_version_and_disclaimer(
    rendered: tuple[str, str, Leaflet, str],
) -> None:
    subject, lang, leaflet, html = rendered
    pdf = _pdfs.setdefault((subject, lang), render_pdf(html))
    reader = PdfReader(BytesIO(pdf))
    pages = len(reader.pages)
    assert pages >= (14 if subject != "general" else 8)
    for page in reader.pages:
        box = page.mediabox
        assert float(box.width) == pytest.approx(A4_POINTS[0], abs=POINT_TOLERANCE)
        assert float(box.height) == pytest.approx(A4_POINTS[1], abs=POINT_TOLERANCE)
    text = _pdf_text(pdf)
    assert len(text) == pages
    squash = [re.sub(r"\s+", "", t) for t in text]
    page_of = leaflet.labels["page_of"]
    for number in (1, pages):
        label = page_of % {"page": number, "pages": pages}
        assert re.sub(r"\s+", "", label) in squash[number - 1]
    assert re.sub(r"\s+", "", leaflet.date_text) in squash[0]
    assert leaflet.knowledge_version in text[0]
    everything = "".join(squash)
    assert re.sub(r"\s+", "", leaflet.title) in everything
    assert re.sub(r"\s+", "", leaflet.labels["disclaimer"])[:40] in squash[0]
    # The charts are vector SVG with text: their titles are searchable in the PDF.
    for s in leaflet.sections:
        for b in s.blocks:
            if isinstance(b, BarChart | CurveChart):
                assert re.sub(r"\s+", "", b.title)[:20] in everything


def test_chinese_pdf_embeds_a_cjk_font() -> None:
    from rplcare.leaflet.render import render_html
    from tests.leaflet.conftest import build

    pdf = _pdfs.get(("general", "zh")) or render_pdf(render_html(build("general", "zh")))
    reader = PdfReader(BytesIO(pdf))
    fonts: set[str] = set()
    for page in reader.pages[:3]:
        resources: Any = page["/Resources"]
        for font in resources.get("/Font", {}).values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    assert any("CJK" in f for f in fonts), fonts


def test_pdf_pages_render_as_images(tmp_path: Path) -> None:
    """The check a person does: rasterise page 1 and see that it is not blank."""
    if not shutil.which("pdftoppm"):
        pytest.skip("poppler-utils not installed")
    from PIL import Image

    from rplcare.leaflet.render import render_html
    from tests.leaflet.conftest import build

    pdf = tmp_path / "l.pdf"
    pdf.write_bytes(render_pdf(render_html(build("aps-three-losses", "sv"))))
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")],
        check=True,
    )
    import numpy as np

    pixels = np.asarray(Image.open(next(tmp_path.glob("p*.png"))).convert("L"))
    assert (pixels < 128).mean() > 0.01


def test_unverified_paragraphs_are_visibly_marked(rendered: tuple[str, str, Leaflet, str]) -> None:
    _subject, _lang, leaflet, html = rendered
    marked = [b for s in leaflet.sections for b in s.blocks if getattr(b, "unverified", False)]
    assert marked, "the content has unverified paragraphs; they must be marked"
    # The brackets are the language's own (Chinese （）), so the whole note is one message.
    note = leaflet.labels["unverified_note"]
    assert note.strip("()（）") == leaflet.labels["unverified_mark"]
    assert html.count(note) >= len(marked)
