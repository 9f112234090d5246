"""Server-side SVG charts: pure functions that return accessible inline SVG markup.

No JavaScript and no external libraries. Every chart carries `role="img"`, a `<title>` and
a `<desc>` that states the numbers, so the chart is never the only way to read them. Colours
are set with presentation attributes (no `style` attributes or `<style>` elements, which a
`default-src 'self'` Content-Security-Policy would block), every meaning is also carried by
shape or text (a filled bar with a dark edge, a whisker with end caps, a dashed marker with a
label), and all text that reaches the markup is escaped.

Risks are fractions in [0, 1], as `rplcare.prognosis.quick.quick_risk` returns them; the
charts show them as percentages. The only numbers drawn are the ones passed in, plus the
fixed axis scale (0 to 100%).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from functools import cache
from html import escape

from babel import Locale
from babel.numbers import format_percent

from rplcare.leaflet.i18n import LOCALES
from rplcare.web.i18n import current_language
from rplcare.web.i18n import translate as _

SVG_NS = "http://www.w3.org/2000/svg"

# Contrast against white: INK 17:1, BAR 8.6:1, MARK 7.1:1, EDGE 6.2:1 (WCAG non-text >= 3:1).
INK = "#1a1a1a"
BAR = "#1d4f91"
# The estimate bar's fill: light, so that the dark whisker reads on it (INK 8.7:1); its edge
# is drawn in BAR, which carries the contrast against the track.
BAR_FILL = "#9db9e0"
MARK = "#a1260d"
EDGE = "#5a6472"
TRACK = "#eef1f5"
GRID = "#c9ced6"
WHITE = "#ffffff"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


def _esc(text: str) -> str:
    return escape(text, quote=True)


def _num(x: float) -> str:
    """A coordinate: short, locale-free, never scientific notation."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def pct(fraction: float) -> str:
    """A fraction as a percentage with one decimal in the request's language: 0.4007 is
    '40.1%' in English, '40,1%' in Dutch, '40,1 %' in Swedish."""
    locale, pattern = _percent_format(current_language())
    return str(format_percent(fraction, pattern, locale=locale))


@cache
def _percent_format(lang: str) -> tuple[Locale, str]:
    locale = Locale.parse(LOCALES[lang])
    pattern = locale.percent_formats[None].pattern.replace("#,##0", "#,##0.0")
    return locale, pattern


def gestation(day: int) -> str:
    """Gestational age in words, e.g. 52 -> '7 weeks 3 days'."""
    weeks, days = divmod(day, 7)
    w = _("1 week") if weeks == 1 else _("{n} weeks").format(n=weeks)
    d = _("1 day") if days == 1 else _("{n} days").format(n=days)
    return f"{w} {d}"


def _fraction(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a fraction between 0 and 1, got {value!r}")
    return value


def _chart_id(kind: str, *parts: object) -> str:
    """A deterministic id for title/desc references; distinct charts get distinct ids."""
    digest = hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()[:10]
    return f"{kind}-{digest}"


def _open_svg(chart_id: str, width: int, height: int, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="{SVG_NS}" class="chart-svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" '
        f'font-family="{_esc(FONT)}" font-size="14" fill="{INK}">',
        f'<title id="{chart_id}-title">{_esc(title)}</title>',
        f'<desc id="{chart_id}-desc">{_esc(desc)}</desc>',
    ]


def _text(x: float, y: float, content: str, *, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}"{extra}>{_esc(content)}</text>'


def _line(
    x1: float, y1: float, x2: float, y2: float, stroke: str, width: float, extra: str = ""
) -> str:
    return (
        f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" '
        f'stroke="{stroke}" stroke-width="{_num(width)}"{extra}/>'
    )


def risk_bar_svg(
    estimate: float,
    interval: Sequence[float],
    label: str,
    reference: float | None = None,
    *,
    reference_label: str | None = None,
    chart_id: str | None = None,
    compact: bool = False,
) -> str:
    """A horizontal 0-100% bar: the estimate as a filled bar, the 95% prediction interval as a
    whisker with end caps, and optionally a dashed reference marker.

    `estimate`, `interval` (low, high) and `reference` are fractions in [0, 1]; `label` names
    the quantity (for example "Miscarriage in the next pregnancy"). Raises ValueError on
    anything else, so a chart never silently shows a wrong number. `compact` leaves out the
    visible label and figures (for a page that prints them next to the chart); the title and
    description, and the reference line's legend, stay.
    """
    est = _fraction("estimate", estimate)
    if len(interval) != 2:
        raise ValueError(f"interval must be (low, high), got {interval!r}")
    lo, hi = _fraction("interval low", interval[0]), _fraction("interval high", interval[1])
    if lo > hi:
        raise ValueError(f"interval low {lo!r} is above interval high {hi!r}")
    ref = None if reference is None else _fraction("reference", reference)
    ref_name = reference_label or _("reference")
    cid = chart_id or _chart_id("bar", est, lo, hi, label, ref, ref_name)

    summary = _("Estimate {est}; 95% prediction interval {lo} to {hi}").format(
        est=pct(est), lo=pct(lo), hi=pct(hi)
    )
    ref_text = (
        None
        if ref is None
        else _("Dashed line: {name}, {value}").format(name=ref_name, value=pct(ref))
    )
    desc = " ".join(
        [
            _("Horizontal bar on a scale from 0 to 100 percent."),
            _("{label}: estimate {est}, 95% prediction interval {lo} to {hi}.").format(
                label=label, est=pct(est), lo=pct(lo), hi=pct(hi)
            ),
        ]
        + (
            []
            if ref is None
            else [_("Reference ({name}): {value}.").format(name=ref_name, value=pct(ref))]
        )
    )

    lines: list[tuple[str, str]] = (
        [] if compact else [(label, ' font-weight="600" font-size="15"'), (summary, "")]
    )
    if ref_text is not None:
        lines.append((ref_text, ""))
    text_h = 20.0 * len(lines) + (10.0 if lines else 6.0)
    width, height = 480, round(text_h + 54)
    x0, x1 = 12.0, 468.0
    top, bar_h = text_h, 24.0
    mid = top + bar_h / 2

    def x(f: float) -> float:
        return x0 + f * (x1 - x0)

    out = _open_svg(cid, width, height, label, desc)
    for i, (content, attrs) in enumerate(lines):
        out.append(_text(x0, 18 + 20 * i, content, extra=attrs or ' font-size="13"'))
    # Track (the 0-100% scale) with a visible edge, then the estimate bar.
    out.append(
        f'<rect class="chart-track" x="{_num(x0)}" y="{_num(top)}" width="{_num(x1 - x0)}" '
        f'height="{_num(bar_h)}" fill="{TRACK}" stroke="{EDGE}" stroke-width="1"/>'
    )
    out.append(
        f'<rect class="chart-bar" x="{_num(x0)}" y="{_num(top)}" width="{_num(x(est) - x0)}" '
        f'height="{_num(bar_h)}" fill="{BAR_FILL}" stroke="{BAR}" stroke-width="1.5"/>'
    )
    # Axis ticks at 0, 25, 50, 75, 100%.
    for i, tick in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):
        out.append(_line(x(tick), top + bar_h, x(tick), top + bar_h + 5, EDGE, 1))
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        out.append(
            _text(
                x(tick),
                top + bar_h + 22,
                f"{round(100 * tick)}%",
                anchor=anchor,
                extra=' font-size="12"',
            )
        )
    # Whisker: one dark line with end caps. It reads on the light bar and on the track alike;
    # a white halo under it looked like a second whisker over the bar (review finding U5).
    cap = 9.0
    out.append(_line(x(lo), mid, x(hi), mid, INK, 2.0, ' class="chart-whisker"'))
    out.append(_line(x(lo), mid - cap, x(lo), mid + cap, INK, 2.0))
    out.append(_line(x(hi), mid - cap, x(hi), mid + cap, INK, 2.0))
    # The estimate itself: a short vertical mark, visible even when the bar has zero width.
    out.append(_line(x(est), top - 4, x(est), top + bar_h + 4, INK, 3, ' class="chart-estimate"'))
    if ref is not None:
        out.append(
            _line(
                x(ref),
                top - 6,
                x(ref),
                top + bar_h + 6,
                MARK,
                2,
                ' stroke-dasharray="4 3" class="chart-reference"',
            )
        )
    out.append("</svg>")
    return "\n".join(out)


def curve_svg(
    points: Sequence[Mapping[str, float]],
    day_now: int | None,
    *,
    chart_id: str | None = None,
) -> str:
    """Line chart of the current-pregnancy curve: risk (%) against gestational week.

    `points` is `curve_to_20_weeks` from `quick_risk`: one {"day", "risk"} per day, where risk
    is the chance of a loss from that day until the end of the curve (the day after the last
    point). `day_now` (days since the last menstrual period) is marked with a dashed line, a
    ring on the curve and a label; if it lies outside the curve, the chart says so instead.
    """
    if not points:
        raise ValueError("curve_svg needs at least one point")
    pts: list[tuple[int, float]] = []
    for p in points:
        day = int(p["day"])
        if day != p["day"] or day < 0:
            raise ValueError(f"curve day must be a whole number of days, got {p['day']!r}")
        pts.append((day, _fraction("curve risk", p["risk"])))
    pts.sort()
    first, last = pts[0][0], pts[-1][0]
    end_day = last + 1  # each point is the risk from that day until the end of the curve
    end_text = gestation(end_day) if end_day % 7 else _("{n} weeks").format(n=end_day // 7)
    cid = chart_id or _chart_id("curve", tuple(pts), day_now)

    title = _("Risk of a loss before {end}, by how far the pregnancy has come").format(end=end_text)
    weekly = [(d, r) for d, r in pts if d % 7 == 0]
    parts = [
        _(
            "Line chart of the risk of a pregnancy loss before {end} for a pregnancy that is "
            "still ongoing, against the week of pregnancy."
        ).format(end=end_text),
        _("At {start}: {first}; at {stop}: {last}.").format(
            start=gestation(first), first=pct(pts[0][1]), stop=gestation(last), last=pct(pts[-1][1])
        ),
    ]
    if weekly:
        parts.append(
            _("Start of each week:")
            + " "
            + "; ".join(_("week {w}: {risk}").format(w=d // 7, risk=pct(r)) for d, r in weekly)
            + "."
        )
    now: tuple[int, float] | None = None
    if day_now is not None and first <= day_now <= last:
        now = min(pts, key=lambda p: abs(p[0] - day_now))
        parts.append(
            _("Today, at {when}: {risk}.").format(when=gestation(now[0]), risk=pct(now[1]))
        )
    elif day_now is not None:
        parts.append(
            _("Today, at {when}, is outside the range of the chart.").format(
                when=gestation(day_now)
            )
        )
    desc = " ".join(parts)

    width, height = 480, 300
    left, right, top, bottom = 48.0, 464.0, 44.0, 250.0
    span = max(end_day - first, 1)

    def x(day: float) -> float:
        return left + (day - first) / span * (right - left)

    def y(risk: float) -> float:
        return bottom - risk * (bottom - top)

    out = _open_svg(cid, width, height, title, desc)
    out.append(
        _text(
            4,
            18,
            _("Risk of a loss before {end}").format(end=end_text) + " (%)",
            extra=' font-weight="600" font-size="14"',
        )
    )
    # Horizontal grid and y labels.
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        colour = EDGE if tick == 0.0 else GRID
        out.append(_line(left, y(tick), right, y(tick), colour, 1))
        out.append(
            _text(
                left - 6, y(tick) + 4, f"{round(100 * tick)}", anchor="end", extra=' font-size="12"'
            )
        )
    out.append(_line(left, top, left, bottom, EDGE, 1))
    # X ticks at whole weeks, thinned so that the labels never crowd.
    first_week, last_week = -(-first // 7), end_day // 7
    step = max(1, math.ceil((last_week - first_week + 1) / 16))
    for week in range(first_week, last_week + 1, step):
        out.append(_line(x(7 * week), bottom, x(7 * week), bottom + 5, EDGE, 1))
        out.append(
            _text(x(7 * week), bottom + 19, str(week), anchor="middle", extra=' font-size="12"')
        )
    out.append(
        _text(
            (left + right) / 2,
            height - 6,
            _("Week of pregnancy"),
            anchor="middle",
            extra=' font-size="13"',
        )
    )
    # The curve: points at each day (a single point is drawn as a dot).
    if len(pts) == 1:
        out.append(
            f'<circle cx="{_num(x(pts[0][0]))}" cy="{_num(y(pts[0][1]))}" r="3" fill="{BAR}"/>'
        )
    else:
        coords = " ".join(f"{_num(x(d))},{_num(y(r))}" for d, r in pts)
        out.append(
            f'<polyline class="chart-line" points="{coords}" fill="none" stroke="{BAR}" '
            f'stroke-width="2.5" stroke-linejoin="round"/>'
        )
    if now is not None:
        nx, ny = x(now[0]), y(now[1])
        out.append(_line(nx, top, nx, bottom, MARK, 2, ' stroke-dasharray="5 4" class="chart-now"'))
        out.append(
            f'<circle cx="{_num(nx)}" cy="{_num(ny)}" r="6" fill="{WHITE}" stroke="{MARK}" '
            f'stroke-width="3"/>'
        )
        label = _("Today: {risk}").format(risk=pct(now[1]))
        if nx < (left + right) / 2:
            out.append(_text(nx + 8, top + 14, label, extra=' font-weight="600"'))
        else:
            out.append(_text(nx - 8, top + 14, label, anchor="end", extra=' font-weight="600"'))
    elif day_now is not None:
        out.append(
            _text(
                right,
                top - 10,
                _("Today is outside this chart"),
                anchor="end",
                extra=' font-size="12"',
            )
        )
    out.append("</svg>")
    return "\n".join(out)
