"""Every clinical threshold exercised through the engine just below, at and above it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from rplcare.knowledge.loader import load_knowledge
from tests.factories import care_ids, cause, losses, preg, run

KB = load_knowledge()
PANEL_NEGATIVE = [
    {"code": "lupus_anticoagulant", "result": "negative", "date": "2025-01-10"},
]


def acl(value: float) -> list[dict[str, Any]]:
    return [
        *PANEL_NEGATIVE,
        {"code": "anticardiolipin_igg", "value": value, "unit": "GPL", "date": "2025-01-10"},
        {"code": "anticardiolipin_igg", "value": value, "unit": "GPL", "date": "2025-06-10"},
    ]


@pytest.mark.parametrize(
    ("value", "expected"), [(39.9, "excluded"), (40, "excluded"), (40.1, "confirmed")]
)
def test_anticardiolipin_titre_threshold(value: float, expected: str) -> None:
    assert KB.threshold("aps.acl_medium_high_titre").value == 40
    a = run(pregnancies=losses(3), tests=acl(value))
    assert cause(a, "antiphospholipid_syndrome") == expected


@pytest.mark.parametrize(("gap_days", "status"), [(83, "repeat"), (84, "done")])
def test_antiphospholipid_persistence_interval(gap_days: int, status: str) -> None:
    first = date(2025, 1, 10)
    second = first + timedelta(days=gap_days)
    tests = [
        {"code": "lupus_anticoagulant", "result": "positive", "date": str(first)},
        {"code": "lupus_anticoagulant", "result": "positive", "date": str(second)},
        {"code": "anticardiolipin_igg", "result": "negative", "date": str(first)},
    ]
    a = run(pregnancies=losses(3), tests=tests)
    la = next(w for w in a.workup if w.id == "eshre-2022.inv.lupus-anticoagulant")
    assert la.status == status
    if status == "repeat":
        assert la.due_date == first + timedelta(days=84)
        assert cause(a, "antiphospholipid_syndrome") == "possible"
    else:
        assert cause(a, "antiphospholipid_syndrome") == "confirmed"


@pytest.mark.parametrize(("weeks", "criterion_c"), [(9.9, True), (10, False)])
def test_sydney_early_loss_boundary(weeks: float, criterion_c: bool) -> None:
    tests = [
        {"code": "lupus_anticoagulant", "result": "positive", "date": "2025-01-10"},
        {"code": "lupus_anticoagulant", "result": "positive", "date": "2025-06-10"},
    ]
    a = run(pregnancies=losses(3, weeks=weeks), tests=tests)
    evidence = " ".join(
        next(c for c in a.causes if c.category == "antiphospholipid_syndrome").evidence
    )
    assert ("criterion (c) met" in evidence) is criterion_c
    # From 10 weeks a loss is a fetal death: criterion (a) instead.
    assert ("criterion (a) met" in evidence) is (not criterion_c)


@pytest.mark.parametrize(
    ("tsh", "expected"), [(3.99, "excluded"), (4.0, "excluded"), (4.01, "confirmed")]
)
def test_tsh_upper_limit_without_local_range(tsh: float, expected: str) -> None:
    tests = [
        {"code": "tsh", "value": tsh, "unit": "mIU/L", "date": "2025-01-10"},
        {"code": "free_t4", "result": "normal", "date": "2025-01-10"},
    ]
    a = run(pregnancies=losses(2), tests=tests)
    assert cause(a, "subclinical_hypothyroidism") == expected


def test_laboratory_flag_wins_over_default_tsh_limit() -> None:
    tests = [
        {"code": "tsh", "value": 3.5, "unit": "mIU/L", "result": "high", "date": "2025-01-10"},
        {"code": "free_t4", "result": "normal", "date": "2025-01-10"},
    ]
    assert (
        cause(run(pregnancies=losses(2), tests=tests), "subclinical_hypothyroidism") == "confirmed"
    )


@pytest.mark.parametrize(
    ("field", "value", "flagged"),
    [
        ("bmi", 18.9, True),
        ("bmi", 19, False),
        ("bmi", 25, False),
        ("bmi", 25.1, True),
        ("alcohol_units_per_week", 10, False),
        ("alcohol_units_per_week", 10.5, True),
        ("caffeine_mg_per_day", 200, False),
        ("caffeine_mg_per_day", 201, True),
    ],
)
def test_lifestyle_thresholds(field: str, value: float, flagged: bool) -> None:
    a = run(pregnancies=losses(2), lifestyle={field: value})
    risk = next(r.status for r in a.risk_factors if r.category == "lifestyle_risk")
    assert (risk == "present") is flagged
    advice = {
        "bmi": "eshre-2022.tx.weight-management",
        "alcohol_units_per_week": "eshre-2022.tx.alcohol-reduction",
        "caffeine_mg_per_day": "eshre-2022.tx.caffeine-reduction",
    }[field]
    assert (advice in care_ids(a)) is flagged


@pytest.mark.parametrize(("n", "rcog_meets"), [(2, False), (3, True)])
def test_rcog_three_loss_threshold(n: int, rcog_meets: bool) -> None:
    a = run(pregnancies=losses(n))
    assert a.definitions["rcog-2023"].meets is rcog_meets
    assert a.definitions["rcog-2023"].evaluation == ("indicated" if rcog_meets else "discretionary")


@pytest.mark.parametrize(("n", "meets"), [(1, False), (2, True)])
def test_eshre_and_asrm_two_loss_threshold(n: int, meets: bool) -> None:
    a = run(pregnancies=losses(n))
    assert a.definitions["eshre-2022"].meets is meets
    assert a.definitions["asrm-2012"].meets is meets


@pytest.mark.parametrize(
    ("n", "eshre_item"),
    [(2, "eshre-2022.tx.aps-heparin-2-losses"), (3, "eshre-2022.tx.aps-heparin-3-losses")],
)
def test_eshre_aps_treatment_loss_threshold(n: int, eshre_item: str) -> None:
    tests = [
        {"code": "lupus_anticoagulant", "result": "positive", "date": "2025-01-10"},
        {"code": "lupus_anticoagulant", "result": "positive", "date": "2025-06-10"},
    ]
    ids = care_ids(run(pregnancies=losses(n), tests=tests))
    assert eshre_item in ids
    other = {2: "eshre-2022.tx.aps-heparin-3-losses", 3: "eshre-2022.tx.aps-heparin-2-losses"}[n]
    assert other not in ids


def test_aps_not_classified_when_test_and_event_are_over_five_years_apart() -> None:
    tests = [
        {"code": "lupus_anticoagulant", "result": "positive", "date": "2025-01-10"},
        {"code": "lupus_anticoagulant", "result": "positive", "date": "2025-06-10"},
    ]
    assert (
        cause(run(pregnancies=losses(3, start=2020), tests=tests), "antiphospholipid_syndrome")
        == "confirmed"
    )
    assert (
        cause(run(pregnancies=losses(3, start=2016), tests=tests), "antiphospholipid_syndrome")
        == "possible"
    )


def test_second_trimester_loss_alone_meets_rcog() -> None:
    a = run(
        pregnancies=[
            preg("miscarriage", "2024-01-01", KB.history.second_trimester_from_weeks.value)
        ]
    )
    assert a.definitions["rcog-2023"].meets
    assert not a.definitions["eshre-2022"].meets


def test_aps_not_classified_when_positive_tests_are_within_12_weeks_of_the_event() -> None:
    recent = [preg("miscarriage", d, 8) for d in ("2025-01-01", "2025-05-01", "2025-09-01")]
    tests = [
        {"code": "lupus_anticoagulant", "result": "positive", "date": "2025-06-01"},
        {"code": "lupus_anticoagulant", "result": "positive", "date": "2025-09-20"},
    ]
    a = run(pregnancies=recent, tests=tests)
    assert cause(a, "antiphospholipid_syndrome") == "possible"
    later = [*tests[:1], {**tests[1], "date": "2025-12-20"}]
    assert cause(run(pregnancies=recent, tests=later), "antiphospholipid_syndrome") == "confirmed"


def test_unflagged_anti_b2gpi_value_is_not_read_as_negative() -> None:
    tests = [
        {"code": "lupus_anticoagulant", "result": "negative", "date": "2025-01-10"},
        {"code": "anti_b2gpi_igg", "value": 35, "unit": "U/mL", "date": "2025-01-10"},
    ]
    a = run(pregnancies=losses(3), tests=tests)
    assert cause(a, "antiphospholipid_syndrome") is None  # incomplete: not assessed
    reason = next(
        n.reason for n in a.causes_not_assessed if n.category == "antiphospholipid_syndrome"
    )
    assert "not interpreted" in reason


def test_anticardiolipin_persistence_is_per_isotype() -> None:
    tests = [
        {"code": "lupus_anticoagulant", "result": "negative", "date": "2025-01-10"},
        {"code": "anticardiolipin_igg", "result": "positive", "date": "2025-01-10"},
        {"code": "anticardiolipin_igm", "result": "positive", "date": "2025-06-10"},
    ]
    a = run(pregnancies=losses(3), tests=tests)
    assert cause(a, "antiphospholipid_syndrome") == "possible"
    assert {w.status for w in a.workup if w.test.startswith("anticardiolipin")} == {"repeat"}
