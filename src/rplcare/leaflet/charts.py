"""Leaflet charts as SVG (matplotlib), with text kept as text so that it can be read,
searched and rendered in any script by the browser or WeasyPrint."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from itertools import count
from typing import Any

from rplcare.leaflet.model import BarChart, CurveChart

# Colour-blind-safe pair (Okabe-Ito blue and grey) with enough contrast on white.
HIGHLIGHT = "#0072B2"
OTHER = "#7a7a7a"
INK = "#1a1a1a"
FONTS = ["DejaVu Sans", "Noto Sans CJK SC", "Noto Sans CJK JP", "sans-serif"]
_ids = count(1)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


Fmt = Callable[[float], str]


def _default_percent(x: float) -> str:
    return f"{100 * x:.0f}%"


def _to_svg(fig: Any, title: str, desc: str) -> str:
    import matplotlib

    plt = _pyplot()
    buf = io.StringIO()
    n = next(_ids)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"rplcare-{n}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    # Accessible name and description; ids unique within one HTML page (matplotlib numbers
    # its elements from 1 in every figure).
    uid = f"chart{n}"
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{uid}-{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{uid}-{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{uid}-{m.group(1)}"', svg)
    svg = re.sub(
        r"<svg ",
        f'<svg role="img" aria-labelledby="{uid}-t {uid}-d" ',
        svg,
        count=1,
    )
    head = f'<title id="{uid}-t">{_esc(title)}</title><desc id="{uid}-d">{_esc(desc)}</desc>'
    svg = re.sub(r"(<svg [^>]*>)", lambda m: m.group(1) + head, svg, count=1)
    return svg


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fonts() -> list[str]:
    """The preferred families matplotlib can find (CJK only where installed), to avoid
    findfont warnings for each label."""
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    return [f for f in FONTS if f in have or f == "sans-serif"]


def _style() -> dict[str, Any]:
    return {
        "font.family": _fonts(),
        "font.size": 9,
        "axes.edgecolor": INK,
        "axes.labelcolor": INK,
        "xtick.color": INK,
        "ytick.color": INK,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }


def bar_chart_svg(
    chart: BarChart, fmt: Fmt = _default_percent, tick: Fmt = _default_percent
) -> str:
    import matplotlib
    from matplotlib.ticker import FuncFormatter

    plt = _pyplot()
    with matplotlib.rc_context(_style()):  # type: ignore[arg-type]
        height = 0.5 + 0.42 * len(chart.bars)
        fig, ax = plt.subplots(figsize=(6.2, height))
        labels = [b.label for b in chart.bars][::-1]
        bars = list(chart.bars)[::-1]
        y = list(range(len(bars)))
        colours = [HIGHLIGHT if b.highlight else OTHER for b in bars]
        ax.barh(y, [b.estimate for b in bars], color=colours, height=0.6)
        top = max((b.high if b.high is not None else b.estimate) for b in bars)
        for yi, b in zip(y, bars, strict=True):
            if b.low is not None and b.high is not None:
                ax.plot([b.low, b.high], [yi, yi], color=INK, linewidth=1.4)
                ax.plot([b.low, b.low], [yi - 0.15, yi + 0.15], color=INK, linewidth=1.4)
                ax.plot([b.high, b.high], [yi - 0.15, yi + 0.15], color=INK, linewidth=1.4)
            end = b.high if b.high is not None else b.estimate
            ax.text(end + top * 0.02, yi, fmt(b.estimate), va="center", color=INK)
        ax.set_yticks(y, labels)
        ax.set_xlim(0, min(1.0, top * 1.25 + 0.02))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: tick(x)))
        ax.set_xlabel(chart.axis_label)
        ax.set_title(chart.title, loc="left", fontsize=10, color=INK)
    return _to_svg(fig, chart.title, chart.alt)


def curve_chart_svg(chart: CurveChart, tick: Fmt = _default_percent) -> str:
    import matplotlib
    from matplotlib.ticker import FuncFormatter

    plt = _pyplot()
    with matplotlib.rc_context(_style()):  # type: ignore[arg-type]
        fig, ax = plt.subplots(figsize=(6.2, 2.8))
        ax.plot(chart.weeks, chart.risks, color=HIGHLIGHT, linewidth=2)
        marker = chart.marker_week
        if marker is not None and chart.weeks:
            nearest = min(range(len(chart.weeks)), key=lambda i: abs(chart.weeks[i] - marker))
            mx, my = chart.weeks[nearest], chart.risks[nearest]
            ax.plot([mx], [my], marker="o", color=INK, markersize=6)
            ax.annotate(
                chart.marker_label,
                (mx, my),
                xytext=(8, 8),
                textcoords="offset points",
                color=INK,
            )
        ax.set_ylim(0, max(chart.risks, default=0.1) * 1.15 + 0.005)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _pos: tick(x)))
        ax.set_xlabel(chart.x_label)
        ax.set_ylabel(chart.y_label)
        ax.set_title(chart.title, loc="left", fontsize=10, color=INK)
    return _to_svg(fig, chart.title, chart.alt)


def chart_svg(
    chart: BarChart | CurveChart, fmt: Fmt = _default_percent, tick: Fmt = _default_percent
) -> str:
    if isinstance(chart, BarChart):
        return bar_chart_svg(chart, fmt, tick)
    return curve_chart_svg(chart, tick)
