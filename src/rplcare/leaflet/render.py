"""Leaflets as HTML (Jinja2) and PDF (WeasyPrint), and the glue from a case to a leaflet."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from importlib import resources
from typing import Any, Literal

from rplcare import __version__
from rplcare.domain.case import Case
from rplcare.errors import RplcareError
from rplcare.knowledge.loader import KnowledgeBase, load_knowledge
from rplcare.knowledge.profile import Profile
from rplcare.leaflet.build import ModelFigures, build_leaflet
from rplcare.leaflet.charts import chart_svg
from rplcare.leaflet.content import Content, load_content
from rplcare.leaflet.i18n import Localizer, localizer
from rplcare.leaflet.model import BarChart, CurveChart, Leaflet, Para, Table

OutputFormat = Literal["html", "pdf"]


class PdfUnavailableError(RplcareError):
    """WeasyPrint (the `pdf` extra) or its system libraries are missing."""


def changeable_effects(case: Case, setting: str) -> tuple[tuple[str, int, str], ...]:
    """The cited effects of what this woman can change (the what-if explorer's data): for a
    smoker, a BMI of 25 or more, caffeine. Percent more miscarriage, rounded."""
    from rplcare.prognosis.cumulative import load_explorer

    effects = load_explorer()["what_if"]
    life = case.lifestyle
    if life is None:
        return ()

    def pct(e: dict[str, Any]) -> int:
        return round((float(e["estimate"]) - 1.0) * 100)

    out: list[tuple[str, int, str]] = []
    if life.smoker:
        out.append(("smoking", pct(effects["smoking"]), str(effects["smoking"]["source"])))
    bmi_effects = effects["bmi_categories"]["clinic" if setting == "clinic" else "population"]
    if life.bmi is not None and life.bmi >= 30:
        e = bmi_effects["from_30"]
        out.append(("bmi_over_30", pct(e), str(e["source"])))
    elif life.bmi is not None and life.bmi >= 25:
        e = bmi_effects["from_25"]
        out.append(("bmi_over_25", pct(e), str(e["source"])))
    if life.caffeine_mg_per_day:
        e = effects["caffeine_per_100mg_day"]
        out.append(("caffeine", pct(e), str(e["source"])))
    # An effect near nothing is not a change worth listing.
    return tuple(x for x in out if x[1] > 0)


def model_figures(content: Content, age: int | None) -> ModelFigures:
    from rplcare.prognosis.model import load_model
    from rplcare.prognosis.predict import history_string, next_pregnancy

    model = load_model()

    def risk(at: float, losses: int) -> tuple[float, float, float] | None:
        e = next_pregnancy(at, history_string(losses, 0), "population", model=model)
        m = e.miscarriage_risk
        if m.estimate is None or m.interval is None:
            return None  # outside the model's data
        return (m.estimate, m.interval[0], m.interval[1])

    spec = content.charts.risk_by_losses
    by_losses = [risk(spec.example_age, k) for k in range(spec.max_losses + 1)]
    return ModelFigures(
        model_version=model.version,
        population_same_age=risk(age, 0) if age is not None else None,
        by_losses=tuple(r for r in by_losses if r is not None),
    )


#: Where the public general information is served when nothing else is configured: the address
#: `rplcare serve` listens on. Set RPLCARE_PUBLIC_URL to the address patients can reach.
DEFAULT_PUBLIC_URL = "http://localhost:8000"


def online_url(lang: str, base: str | None = None) -> str:
    """The public general information in `lang` (the web app's /leaflet, served without sign-in).
    Never a personal booklet: those are only served to signed-in clinicians."""
    import os

    base = base or os.environ.get("RPLCARE_PUBLIC_URL") or DEFAULT_PUBLIC_URL
    return f"{base.rstrip('/')}/leaflet?lang={lang}"


def leaflet_for_case(
    case: Case,
    lang: str,
    kb: KnowledgeBase | None = None,
    profile: Profile | None = None,
    *,
    booklet: bool = False,
    public_url: str | None = None,
) -> Leaflet:
    """The short personal leaflet, or with `booklet` the full booklet. The short leaflet links
    to the general information at `public_url` (default: RPLCARE_PUBLIC_URL, else
    DEFAULT_PUBLIC_URL)."""
    from rplcare.engine.assess import assess

    kb = kb or load_knowledge()
    content = load_content()
    assessment = assess(case, kb, profile=profile)
    setting = assessment.prognosis.next_pregnancy.setting
    results = [(t.code, t.date, t.result, t.value, t.unit) for t in case.tests]
    return build_leaflet(
        loc=localizer(lang),
        kb=kb,
        content=content,
        figures=replace(
            model_figures(content, assessment.patient.age),
            changeable=changeable_effects(case, setting),
        ),
        today=case.as_of,
        assessment=assessment,
        results=results,
        booklet=booklet,
        online_url=None if booklet else online_url(lang, public_url),
    )


def general_leaflet(lang: str, today: date, kb: KnowledgeBase | None = None) -> Leaflet:
    content = load_content()
    return build_leaflet(
        loc=localizer(lang),
        kb=kb or load_knowledge(),
        content=content,
        figures=model_figures(content, None),
        today=today,
    )


@dataclass(frozen=True)
class _View:
    kind: str
    text: str = ""
    refs: tuple[int, ...] = ()
    unverified: bool = False
    svg: str = ""
    alt: str = ""
    note: str | None = None
    table: Table | None = None

    @property
    def has_dagger(self) -> bool:
        rows = self.table.rows if self.table else ()
        return any(line.unverified for row in rows for cell in row for line in cell.lines)


def _css_string(value: str) -> str:
    """A CSS string literal (for @page margin boxes)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    # "<" as a CSS escape, so no text can close the <style> element.
    escaped = escaped.replace("<", "\\3c ")
    return f'"{escaped}"'


def _page_counter(template: str) -> str:
    """CSS `content` for "Page %(page)s of %(pages)s" in any word order."""
    import re

    parts = []
    for piece in re.split(r"(%\((?:page|pages)\)s)", template):
        if piece == "%(page)s":
            parts.append("counter(page)")
        elif piece == "%(pages)s":
            parts.append("counter(pages)")
        elif piece:
            parts.append(_css_string(piece))
    return " ".join(parts)


@cache
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("rplcare.leaflet", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=False,
        lstrip_blocks=False,
    )
    env.filters["css_string"] = _css_string
    return env


def _views(leaflet: Leaflet, loc: Localizer) -> list[tuple[Any, list[_View]]]:
    out = []
    for section in leaflet.sections:
        views = []
        for b in section.blocks:
            if isinstance(b, Para):
                views.append(_View("para", b.text, b.refs, b.unverified))
            elif isinstance(b, BarChart | CurveChart):
                svg = chart_svg(b, fmt=loc.percent, tick=lambda x: loc.percent(x, 0))
                note = b.interval_note if isinstance(b, BarChart) else None
                views.append(_View("chart", svg=svg, alt=b.alt, note=note))
            else:
                views.append(_View("table", table=b))
        out.append((section, views))
    return out


def render_html(leaflet: Leaflet) -> str:
    loc = localizer(leaflet.lang)
    css = resources.files("rplcare.leaflet").joinpath("templates/leaflet.css").read_text("utf-8")
    versions = leaflet.labels["versions"] % {
        "kb": leaflet.knowledge_version,
        "content": leaflet.content_version,
        "model": leaflet.model_version,
    }
    sections = [_SectionView(s.id, s.title, s.personal, views) for s, views in _views(leaflet, loc)]
    qr = qr_svg(leaflet.online_url) if leaflet.online_url else ""
    return str(
        _environment()
        .get_template("leaflet.html")
        .render(
            l=_LeafletView(leaflet, sections),
            css=css,
            version=__version__,
            versions=versions,
            footer_left=f"{leaflet.date_text} · rplcare {leaflet.knowledge_version}",
            page_of=_page_counter(leaflet.labels["page_of"]),
            qr=qr,
        )
    )


def qr_svg(url: str) -> str:
    """A QR code for `url` as inline SVG (segno: pure Python, no image libraries)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(url, error="m").save(
        out, kind="svg", xmldecl=False, svgns=True, scale=3, border=2, title=url
    )
    # An image named by its <title> (the address), as the charts are.
    return out.getvalue().decode("utf-8").replace("<svg ", '<svg role="img" ', 1)


@dataclass(frozen=True)
class _SectionView:
    id: str
    title: str
    personal: bool
    blocks: list[_View]


class _LeafletView:
    def __init__(self, leaflet: Leaflet, sections: list[_SectionView]) -> None:
        self._leaflet = leaflet
        self.sections = sections

    def __getattr__(self, name: str) -> Any:
        return getattr(self._leaflet, name)


class _SvgPropertyNoise:
    def filter(self, record: object) -> bool:
        import logging

        assert isinstance(record, logging.LogRecord)
        return "unknown property" not in record.getMessage()


def render_pdf(html: str) -> bytes:
    try:
        from weasyprint import HTML  # type: ignore[import-untyped]
    except (ImportError, OSError) as exc:  # OSError: missing Pango/cairo system libraries
        raise PdfUnavailableError(
            f"PDF output needs WeasyPrint and its system libraries ({exc}); install the "
            "'pdf' extra (make install does)"
        ) from None
    import logging

    # WeasyPrint's HTML pass also reads the inline SVG's style attributes and warns about SVG
    # properties (fill, text-anchor) that its SVG renderer then applies; silence only those.
    log = logging.getLogger("weasyprint")
    only_real = _SvgPropertyNoise()
    log.addFilter(only_real)
    try:
        pdf = HTML(string=html).write_pdf()
    finally:
        log.removeFilter(only_real)
    assert pdf is not None
    return bytes(pdf)


def render(leaflet: Leaflet, fmt: OutputFormat) -> bytes:
    html = render_html(leaflet)
    return render_pdf(html) if fmt == "pdf" else html.encode("utf-8")
