"""The prognosis models against the published figures they were fitted to.

Pinned values are copied from the papers (via docs/reference/prognosis.md) so that an edit of
sources.yaml cannot silently move the target. Tolerances are named and explained.
"""

from __future__ import annotations

import pytest

from rplcare.prognosis.data import load_published_data
from rplcare.prognosis.validate import Report, Row, validation_report

REPORT: Report = validation_report()
ROWS = {r.id: r for r in REPORT.rows}

#: Published values (risk or ratio) pinned from the papers.
PINNED = {
    "magnus-2019.age[25-29]": 10172 / 104546,
    "magnus-2019.age[45-49]": 572 / 1006,
    "magnus-2019.or1": 1.54,
    "magnus-2019.or2": 2.21,
    "magnus-2019.or3": 3.97,
    "nybo-andersen-2000.age[20-24]": 24465 / 275712,
    "nybo-andersen-2000.age[45-49]": 509 / 681,
    "bhattacharya-2010.or1v0": 1.94,
    "regan-1989.sole-miscarriage": 12 / 59,
    "lidegaard-2020.overall": 0.096,
    "quenby-2021.pooled-risk": 0.153,
    "brigham-1999.overall": 55 / 226,
    "kaandorp-2014.overall": 69 / 213,
    "kolte-2014.rr-per-loss": 0.90,
    "egerup-2016.before-birth": 0.88,
    "tong-2008.w6": 0.094,
    "tong-2008.w8": 0.015,
    "jmfnm-2022.high": 0.337,
    "westin-2007": 77 / 14278,
    "promise-2015.placebo": 157 / 428,
    "linehan-2022.first-pregnancy": 208 / 573,
    "hyer-2004.rpl": 54 / 300,
    "hyer-2004.controls": 6 / 300,
    "pmc8366802.w8": 37 / 1032,
    "deaton-1997.40plus": 0.29,
    "frederiksen-2018.20-34": 0.0042,
    "jmfnm-2022.per-week": 0.72,
    "jmfnm-2022.per-loss": 1.56,
}
#: Published values are stored and re-derived in floating point; 1e-3 relative is far below
#: any rounding in the papers.
PINNED_RTOL = 1e-3

#: Residuals (model - published, logit or log scale) may be at most this many predictive SDs
#: (parameter uncertainty + fitted heterogeneity + the figure's own sampling error): the
#: sources disagree with each other by that much (e.g. Magnus 56.9% vs Nybo Andersen 74.7% at
#: 45+), so no single curve can be closer to both.
RESIDUAL_SDS = 3.0
#: Figures the model is known not to cover, each with the reason (kept visible, not hidden).
KNOWN_OUTSIDE = {
    "tong-2008.w9": (
        "0.5% after a heartbeat at 9 weeks is below the 0.7% Tong reports at 10 weeks: no "
        "falling hazard reproduces both (secondary copies, small numbers: 11 losses in all)"
    ),
    "hoesli-2001 (validation only)": (
        "3.86% between 12 and 28 weeks is seven times Westin's 0.54% and Frederiksen's 0.42% "
        "after the 11-14 week scan; its window needs the full text, so it is not fitted"
    ),
}
#: Prediction intervals must cover about 95% of the published figures ...
MIN_COVERAGE = 0.90
#: ... and be no wider than needed: shrunk to this fraction of their width they must lose it.
NARROWER = 0.6


@pytest.mark.parametrize("figure", sorted(PINNED))
def test_pinned_published_values(figure: str) -> None:
    assert ROWS[figure].published == pytest.approx(PINNED[figure], rel=PINNED_RTOL)


@pytest.mark.parametrize("row", REPORT.rows, ids=lambda r: r.id)
def test_published_figure_reproduced(row: Row) -> None:
    if row.id in KNOWN_OUTSIDE:
        assert not row.inside, f"{row.id} is now inside: remove it from KNOWN_OUTSIDE"
        return
    assert row.inside, f"{row.id}: published {row.published} outside {row.interval}"


def test_residuals_within_named_tolerance() -> None:
    for r in REPORT.rows:
        if r.id in KNOWN_OUTSIDE:
            continue
        assert abs(r.z) <= RESIDUAL_SDS, f"{r.id}: residual {r.residual:+.3f} is {r.z:+.1f} SD"


def test_prediction_intervals_are_honest_and_not_too_wide() -> None:
    assert REPORT.share_inside >= MIN_COVERAGE
    narrowed = 0
    for r in REPORT.rows:
        lo, hi = r.interval
        mid, half = (lo + hi) / 2, (hi - lo) / 2 * NARROWER
        narrowed += mid - half <= r.published <= mid + half
    assert narrowed / REPORT.total < MIN_COVERAGE


def test_every_fitted_observation_is_reported() -> None:
    """Guard: the report cannot quietly drop figures that fit badly."""
    data = load_published_data()
    reported_sources = {r.id.split("[")[0] for r in REPORT.rows}
    assert {o.id for o in data.observations} <= reported_sources
    assert REPORT.total >= 45
