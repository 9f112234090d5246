"""Chance of a live birth within 1, 2 and 5 years (cumulative.py)."""

from __future__ import annotations

import pytest

from rplcare.prognosis.cumulative import (
    YEARS,
    calibrate,
    cumulative_live_birth,
    describe,
    load_explorer,
    target_value,
)
from rplcare.prognosis.data import Setting
from rplcare.prognosis.model import Estimate

SETTINGS: tuple[Setting, ...] = ("population", "clinic")


def num(e: Estimate) -> float:
    assert e.estimate is not None, e.reason
    return e.estimate


def _valid(e: Estimate) -> None:
    assert e.estimate is not None and e.interval and e.confidence_interval, e.reason
    assert 0.0 <= e.interval[0] <= e.confidence_interval[0] <= e.estimate
    assert e.estimate <= e.confidence_interval[1] <= e.interval[1] <= 1.0


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize(("age", "history"), [(25, ""), (34, "LLL"), (40, "LL"), (44, "BLLLL")])
def test_shape_and_intervals(age: float, history: str, setting: Setting) -> None:
    out = cumulative_live_birth(age, history, setting)
    assert [y.years for y in out] == list(YEARS)
    for y in out:
        _valid(y.estimate)
        d = y.as_dict()
        assert set(d) >= {"years", "estimate", "interval", "confidence_interval"}


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("history", ["", "L", "LLL", "BLL"])
def test_rises_with_time(history: str, setting: Setting) -> None:
    values = [num(y.estimate) for y in cumulative_live_birth(33, history, setting)]
    assert values == sorted(values) and values[0] < values[-1]


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("history", ["", "LL", "LLL"])
def test_falls_with_age(history: str, setting: Setting) -> None:
    for year in range(3):
        values = [
            num(cumulative_live_birth(a, history, setting)[year].estimate)
            for a in (30, 34, 37, 40, 43, 46)
        ]
        assert values == sorted(values, reverse=True), values


def test_falls_with_losses_and_smoking() -> None:
    by_losses = [num(cumulative_live_birth(34, "L" * k, "clinic")[2].estimate) for k in range(5)]
    assert by_losses == sorted(by_losses, reverse=True)
    smoker = num(cumulative_live_birth(34, "LLL", "clinic", smoker=True)[2].estimate)
    assert smoker < by_losses[3]


@pytest.mark.parametrize(("age", "history"), [(55, "LLL"), (30, "L" * 9)])
def test_outside_the_data(age: float, history: str) -> None:
    out = cumulative_live_birth(age, history, "clinic")
    assert [y.years for y in out] == list(YEARS)
    for y in out:
        assert y.estimate.out_of_range and y.estimate.reason
        assert y.as_dict()["out_of_range"] is True


def test_calibration_reproduces_the_cohorts() -> None:
    """Every calibration figure within 0.15 of the model (the residual spread is fitted), and the
    withheld-from-fit 5-year live births inside the 5-year prediction interval."""
    cal = calibrate()
    for t in cal.targets:
        assert abs(target_value(t, cal.phi) - float(t["value"])) < 0.15, t["id"]
    five = cumulative_live_birth(33, "LLL", "clinic")[2].estimate
    assert five.interval is not None
    for t in load_explorer()["cumulative"]["validation"]:
        assert five.interval[0] <= float(t["value"]) <= five.interval[1], t["id"]
        # Counted to the start of the pregnancy, so at or above the live-birth figure.
        assert num(five) >= float(t["value"]) - 0.03


def test_data_are_cited_and_tagged() -> None:
    data = load_explorer()
    cites = data["citations"]
    for t in data["cumulative"]["calibration"] + data["cumulative"]["validation"]:
        assert t["source"] in cites and t["tag"] in {"P", "S"}
    for e in data["cumulative"]["fecundability_effects"].values():
        assert e["source"] in cites and e["tag"] in {"P", "S"}
    withheld = ("knudsen", "brigham", "clifford", "makrydimas")
    text = str(data).lower()
    assert not any(w in text for w in withheld)
    assert describe("clinic")["setting"] == "clinic"


def test_reproducible() -> None:
    a = cumulative_live_birth(36, "LL", "population")
    b = cumulative_live_birth(36, "LL", "population")
    assert a == b


def test_stored_calibration_matches_the_current_inputs() -> None:
    """`rplcare model fit` writes cumulative.json; a change to explorer.yaml or to the
    next-pregnancy parameters without a refit would silently refit at first use."""
    import json
    from importlib import resources

    from rplcare.prognosis.cumulative import (
        CALIBRATION_FILE,
        calibration_inputs_sha,
        fit_calibration,
    )

    doc = json.loads(
        resources.files("rplcare.prognosis").joinpath(CALIBRATION_FILE).read_text("utf-8")
    )
    assert doc["inputs_sha256"] == calibration_inputs_sha(), "run `rplcare model fit`"
    fresh = fit_calibration()
    for name, value in doc["parameters"].items():
        assert abs(value - float(fresh.phi[list(doc["parameters"]).index(name)])) < 0.02, name
