"""Out of sample: each source left out, the models refitted without it, its figures predicted
(leave-one-source-out, `rplcare model validate`). The refits take about a minute on two
cores; `loso_report()` caches them for the whole test session."""

from __future__ import annotations

import pytest

from rplcare.prognosis.validate import (
    GROUPS,
    TARGET_COVERAGE_LOSO,
    LosoReport,
    calibrate,
    loso_report,
)


@pytest.fixture(scope="module")
def loso() -> LosoReport:
    return loso_report()


#: Out-of-sample coverage of the calibrated 95% prediction intervals, each source judged with
#: the extra variance calibrated on the other sources only (issue 14: at least 90%).
MIN_LOSO_COVERAGE = 0.90
#: Overall LOSO mean absolute error of the risks (percentage points) as measured when the
#: calibration was committed (3.5 overall, 5.6 next pregnancy, 2.0 current pregnancy), with
#: this much room for refits on other machines and small data corrections.
MAE_POINTS = {"next pregnancy": 5.6, "current pregnancy": 2.0, "all": 3.5}
MAE_SLACK_POINTS = 0.5
#: Median width of the calibrated intervals (percentage points) as committed (26 and 8):
#: reported, and pinned so that a change that widens them is noticed.
MEDIAN_WIDTH_POINTS = {"next pregnancy": 26.2, "current pregnancy": 8.0}
WIDTH_SLACK_POINTS = 2.0
#: Every source of sources.yaml is left out once (at least this many).
MIN_SOURCES = {"next pregnancy": 14, "current pregnancy": 15}


def test_every_source_is_left_out(loso: LosoReport) -> None:
    sources = {(f.model_name, f.source) for f in loso.figures}
    for model, n in MIN_SOURCES.items():
        assert len({s for m, s in sources if m == model}) >= n, model


def test_loso_coverage_meets_the_target(loso: LosoReport) -> None:
    overall = loso.by_model()
    for name in ("next pregnancy", "current pregnancy", "all"):
        assert overall[name]["coverage_cross_validated"] >= MIN_LOSO_COVERAGE, name
        assert overall[name]["coverage"] >= MIN_LOSO_COVERAGE, name


def test_loso_errors_as_committed(loso: LosoReport) -> None:
    overall = loso.by_model()
    for name, mae in MAE_POINTS.items():
        assert overall[name]["mae_points"] <= mae + MAE_SLACK_POINTS, name


def test_interval_widths_as_committed(loso: LosoReport) -> None:
    overall = loso.by_model()
    for name, width in MEDIAN_WIDTH_POINTS.items():
        assert overall[name]["median_width_points"] == pytest.approx(
            width, abs=WIDTH_SLACK_POINTS
        ), name


def test_stored_calibration_matches_the_loso(loso: LosoReport) -> None:
    """parameters.json holds what this LOSO gives (rplcare model fit computes it)."""
    for group in GROUPS:
        fitted = [f for f in loso.figures if f.group == group and f.fitted]
        assert calibrate(fitted) ** 0.5 == pytest.approx(loso.sds[group], abs=0.02), group


def test_intervals_are_not_wider_than_needed(loso: LosoReport) -> None:
    """The new-source variance is the smallest reaching the target: 10% less misses it."""
    for group in GROUPS:
        fitted = [f for f in loso.figures if f.group == group and f.fitted]
        v = loso.sds[group] ** 2
        if v == 0.0:
            continue
        inside = sum(f.inside(0.9 * v) for f in fitted) / len(fitted)
        assert inside < TARGET_COVERAGE_LOSO, group
