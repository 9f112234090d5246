"""Properties the prognosis must keep for any input (Hypothesis)."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from rplcare.prognosis.current import WEEK_12, WEEK_20
from rplcare.prognosis.data import Setting
from rplcare.prognosis.model import Estimate, load_parameters
from rplcare.prognosis.predict import current_pregnancy, history_string, next_pregnancy

ages = st.floats(min_value=16, max_value=49, allow_nan=False)
settings_: st.SearchStrategy[Setting] = st.sampled_from(["population", "clinic"])
bmis = st.one_of(st.none(), st.floats(min_value=15, max_value=50, allow_nan=False))


def num(e: Estimate) -> float:
    """The estimate, which must exist inside the model's data."""
    assert e.estimate is not None, e.reason
    return e.estimate


def _valid(e: object) -> None:
    assert isinstance(e, Estimate)
    assert e.estimate is not None and e.interval and e.confidence_interval, e.reason
    assert 0.0 <= e.interval[0] <= e.confidence_interval[0] <= e.estimate
    assert e.estimate <= e.confidence_interval[1] <= e.interval[1] <= 1.0


@settings(max_examples=150, deadline=None)
@given(ages, st.integers(0, 3), st.integers(0, 3), settings_, bmis, st.booleans(), st.booleans())
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
    assert num(after.miscarriage_risk) > num(before.miscarriage_risk)
    assert num(after.live_birth_chance) < num(before.live_birth_chance)
    for e in (before.miscarriage_risk, before.live_birth_chance, after.miscarriage_risk):
        _valid(e)
    total = num(before.miscarriage_risk) + num(before.live_birth_chance)
    assert total <= 1.0 + 1e-9


@settings(max_examples=100, deadline=None)
@given(ages, st.integers(0, 3), st.integers(35, 160), st.booleans())
def test_current_risk_falls_with_gestation(
    age: float, losses: int, day: int, heartbeat: bool
) -> None:
    now = current_pregnancy(day, heartbeat, losses, age)
    later = current_pregnancy(day + 7, heartbeat, losses, age)
    assert num(later.loss_to_20_weeks) <= num(now.loss_to_20_weeks)
    assert num(now.loss_to_12_weeks) <= num(now.loss_to_20_weeks)
    if day >= WEEK_20:
        assert num(now.loss_to_20_weeks) == 0.0
    if day >= WEEK_12:
        assert num(now.loss_to_12_weeks) == 0.0
    if day < WEEK_12:
        _valid(now.loss_to_12_weeks)


@settings(max_examples=100, deadline=None)
@given(ages, st.integers(0, 2), st.integers(35, 130))
def test_heartbeat_is_reassuring_and_losses_are_not(age: float, losses: int, day: int) -> None:
    seen = num(current_pregnancy(day, True, losses, age).loss_to_20_weeks)
    unseen = num(current_pregnancy(day, False, losses, age).loss_to_20_weeks)
    more = num(current_pregnancy(day, True, losses + 1, age).loss_to_20_weeks)
    # Without a heartbeat the extra risk acts in the first trimester only (weeks 0-12): from
    # 13 weeks both branches share the same hazard.
    assert seen < unseen if day < WEEK_12 else seen <= unseen
    assert more > seen


def test_curve_is_daily_and_decreasing() -> None:
    curve = current_pregnancy(49, True, 2, 33).curve
    days = [p["day"] for p in curve]
    risks = [p["risk"] for p in curve]
    assert days == list(range(35, WEEK_20))
    assert all(a >= b for a, b in itertools.pairwise(risks))


def test_clinic_is_lower_than_registry_for_the_same_history() -> None:
    pop = num(next_pregnancy(33, "LLL", "population").miscarriage_risk)
    clinic = num(next_pregnancy(33, "LLL", "clinic").miscarriage_risk)
    assert clinic < pop


def test_age_curve_is_j_shaped() -> None:
    risk = {a: num(next_pregnancy(a, "", "population").miscarriage_risk) for a in (18, 27, 45)}
    assert risk[27] < risk[18] < risk[45]


@settings(max_examples=100, deadline=None)
@given(
    st.floats(min_value=10, max_value=70, allow_nan=False),
    st.integers(0, 12),
    st.integers(0, 315),
    st.booleans(),
)
def test_outside_the_data_there_is_no_number_only_a_reason(
    age: float, losses: int, day: int, heartbeat: bool
) -> None:
    """One mechanism: every estimate outside the fitted data's range is null with a reason
    naming the range; inside it there is always a number."""
    params = load_parameters()
    nxt_domain = params["next_pregnancy"]["domain"]
    cur_domain = params["current_pregnancy"]["domain"]
    nxt = next_pregnancy(age, history_string(losses, 0), "population")
    inside = nxt_domain["ages"][0] <= age <= nxt_domain["ages"][1]
    inside = inside and losses <= nxt_domain["losses"][1]
    for e in (nxt.miscarriage_risk, nxt.live_birth_chance):
        assert (e.estimate is not None) is inside
        if not inside:
            assert e.reason and "the model's data cover" in e.reason
            assert e.as_dict()["out_of_range"] is True and e.as_dict()["interval"] is None
    cur = current_pregnancy(day, heartbeat, losses, age)
    first, last = cur_domain["gestational_days"]
    inside_cur = (
        cur_domain["ages"][0] <= age <= cur_domain["ages"][1]
        and losses <= cur_domain["losses"][1]
        and first <= day <= last
    )
    assert (cur.loss_to_20_weeks.estimate is not None) is inside_cur
    if not inside_cur:
        assert cur.curve == [] and "the model's data cover" in (cur.loss_to_20_weeks.reason or "")
