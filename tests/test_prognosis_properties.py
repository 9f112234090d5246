"""Properties the prognosis must keep for any input (Hypothesis)."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from rplcare.prognosis.current import WEEK_12, WEEK_20
from rplcare.prognosis.data import Setting
from rplcare.prognosis.predict import current_pregnancy, history_string, next_pregnancy

ages = st.floats(min_value=16, max_value=49, allow_nan=False)
settings_: st.SearchStrategy[Setting] = st.sampled_from(["population", "clinic"])
bmis = st.one_of(st.none(), st.floats(min_value=15, max_value=50, allow_nan=False))


def _valid(e: object) -> None:
    from rplcare.prognosis.model import Estimate

    assert isinstance(e, Estimate)
    assert 0.0 <= e.interval[0] <= e.confidence_interval[0] <= e.estimate
    assert e.estimate <= e.confidence_interval[1] <= e.interval[1] <= 1.0


@settings(max_examples=150, deadline=None)
@given(ages, st.integers(0, 7), st.integers(0, 3), settings_, bmis, st.booleans(), st.booleans())
def test_risk_rises_with_each_loss(
    age: float,
    losses: int,
    births: int,
    setting: Setting,
    bmi: float | None,
    smoker: bool,
    pcos: bool,
) -> None:
    before = next_pregnancy(
        age, history_string(losses, births), setting, bmi=bmi, smoker=smoker, pcos=pcos
    )
    after = next_pregnancy(
        age, history_string(losses + 1, births), setting, bmi=bmi, smoker=smoker, pcos=pcos
    )
    assert after.miscarriage_risk.estimate > before.miscarriage_risk.estimate
    assert after.live_birth_chance.estimate < before.live_birth_chance.estimate
    for e in (before.miscarriage_risk, before.live_birth_chance, after.miscarriage_risk):
        _valid(e)
    total = before.miscarriage_risk.estimate + before.live_birth_chance.estimate
    assert total <= 1.0 + 1e-9


@settings(max_examples=100, deadline=None)
@given(ages, st.integers(0, 5), st.integers(35, 160), st.booleans())
def test_current_risk_falls_with_gestation(
    age: float, losses: int, day: int, heartbeat: bool
) -> None:
    now = current_pregnancy(day, heartbeat, losses, age)
    later = current_pregnancy(day + 7, heartbeat, losses, age)
    assert later.loss_to_20_weeks.estimate <= now.loss_to_20_weeks.estimate
    assert now.loss_to_12_weeks.estimate <= now.loss_to_20_weeks.estimate
    if day >= WEEK_20:
        assert now.loss_to_20_weeks.estimate == 0.0
    if day >= WEEK_12:
        assert now.loss_to_12_weeks.estimate == 0.0
    if day < WEEK_12:
        _valid(now.loss_to_12_weeks)


@settings(max_examples=100, deadline=None)
@given(ages, st.integers(0, 5), st.integers(35, 130))
def test_heartbeat_is_reassuring_and_losses_are_not(age: float, losses: int, day: int) -> None:
    seen = current_pregnancy(day, True, losses, age).loss_to_20_weeks.estimate
    unseen = current_pregnancy(day, False, losses, age).loss_to_20_weeks.estimate
    more = current_pregnancy(day, True, losses + 1, age).loss_to_20_weeks.estimate
    assert seen < unseen
    assert more > seen


def test_curve_is_daily_and_decreasing() -> None:
    curve = current_pregnancy(49, True, 2, 33).curve
    days = [p["day"] for p in curve]
    risks = [p["risk"] for p in curve]
    assert days == list(range(35, WEEK_20))
    assert all(a >= b for a, b in itertools.pairwise(risks))


def test_clinic_is_lower_than_registry_for_the_same_history() -> None:
    pop = next_pregnancy(33, "LLL", "population").miscarriage_risk.estimate
    clinic = next_pregnancy(33, "LLL", "clinic").miscarriage_risk.estimate
    assert clinic < pop


def test_age_curve_is_j_shaped() -> None:
    risk = {a: next_pregnancy(a, "", "population").miscarriage_risk.estimate for a in (18, 27, 45)}
    assert risk[27] < risk[18] < risk[45]
