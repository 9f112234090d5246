"""What a leaflet is made of, independent of HTML or PDF: sections of cited blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Para:
    """A paragraph with its footnote numbers; `unverified` shows a visible mark."""

    text: str
    refs: tuple[int, ...] = ()
    unverified: bool = False


@dataclass(frozen=True)
class Bar:
    label: str
    estimate: float
    low: float | None = None
    high: float | None = None
    highlight: bool = False


@dataclass(frozen=True)
class BarChart:
    title: str
    axis_label: str
    bars: tuple[Bar, ...]
    alt: str
    interval_note: str | None = None


@dataclass(frozen=True)
class CurveChart:
    title: str
    x_label: str
    y_label: str
    weeks: tuple[float, ...]
    risks: tuple[float, ...]
    marker_week: float | None
    marker_label: str
    alt: str


Chart = BarChart | CurveChart


@dataclass(frozen=True)
class Line:
    """One line in a cell, e.g. one guideline's advice; unverified lines carry a mark."""

    text: str
    unverified: bool = False


@dataclass(frozen=True)
class Cell:
    text: str
    refs: tuple[int, ...] = ()
    unverified: bool = False
    lines: tuple[Line, ...] = ()


@dataclass(frozen=True)
class Table:
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    # Shown as a list ("name: what it is (status)") rather than a grid: the short leaflet.
    as_list: bool = False


Block = Para | BarChart | CurveChart | Table


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: tuple[Block, ...]
    personal: bool = False


@dataclass(frozen=True)
class Source:
    number: int
    short: str
    full: str
    url: str | None


#: "leaflet": the short personal leaflet (at most 4 A4 pages); "booklet": the full personal
#: booklet (personal sections, then the general information); "general": not about one couple.
Kind = Literal["leaflet", "booklet", "general"]


@dataclass(frozen=True)
class Leaflet:
    lang: str
    html_lang: str
    title: str
    subtitle: str
    personal: bool
    date_text: str
    knowledge_version: str
    content_version: str
    model_version: str
    sections: tuple[Section, ...]
    sources: tuple[Source, ...]
    labels: dict[str, str] = field(default_factory=dict)
    kind: Kind = "general"
    # The public general information online (the short leaflet links to it, with a QR code).
    online_url: str | None = None
