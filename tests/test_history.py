"""Derived history: counts computed from the pregnancy list."""

from __future__ import annotations

from rplcare.domain.history import History, LossKind, derive_history
from rplcare.knowledge.loader import load_knowledge
from tests.factories import case, preg

KB = load_knowledge()


def history(*pregnancies: dict[str, object]) -> History:
    return derive_history(case(list(pregnancies)), KB.history)


def test_counts_by_kind() -> None:
    h = history(
        preg("biochemical", "2019-01-01", 5),
        preg("miscarriage", "2019-06-01", 8),
        preg("anembryonic", "2020-01-01", 9),
        preg("miscarriage", "2020-09-01", 16),
        preg("ectopic", "2021-03-01", 7),
        preg("molar", "2021-09-01", 10),
        preg("live_birth", "2022-09-01", 39),
    )
    assert (h.losses_total, h.losses_biochemical, h.losses_first_trimester) == (4, 1, 2)
    assert (h.losses_second_trimester, h.losses_clinical, h.live_births) == (1, 3, 1)
    assert h.consecutive_losses == 0
    assert h.losses_since_last_birth == 0


def test_trimester_boundary_is_data_driven() -> None:
    boundary = KB.history.second_trimester_from_weeks.value
    h = history(
        preg("miscarriage", "2020-01-01", boundary - 0.1),
        preg("miscarriage", "2021-01-01", boundary),
    )
    assert [e.loss_kind for e in h.events] == [
        LossKind.CLINICAL_FIRST_TRIMESTER,
        LossKind.SECOND_TRIMESTER,
    ]


def test_chronology_uses_end_date_not_file_order() -> None:
    h = history(
        preg("miscarriage", "2024-01-01", 8),
        preg("live_birth", "2020-01-01", 40),
        preg("miscarriage", "2023-01-01", 8),
    )
    assert [e.index for e in h.events] == [1, 2, 0]
    assert h.consecutive_losses == 2


def test_consecutive_run_skips_ectopic_and_molar_but_stops_at_termination_and_birth() -> None:
    h = history(
        preg("miscarriage", "2018-01-01", 8),
        preg("termination", "2019-01-01", 9),
        preg("miscarriage", "2020-01-01", 8),
        preg("ectopic", "2021-01-01", 7),
        preg("biochemical", "2022-01-01", 5),
    )
    assert h.consecutive_losses == 2
    assert h.losses_since_last_birth == 3


def test_losses_since_last_birth_ignore_terminations() -> None:
    h = history(
        preg("live_birth", "2017-01-01", 40),
        preg("miscarriage", "2018-01-01", 8),
        preg("termination", "2019-01-01", 9),
        preg("miscarriage", "2020-01-01", 8),
    )
    assert h.consecutive_losses == 1
    assert h.losses_since_last_birth == 2


def test_stillbirth_is_a_birth_not_a_loss() -> None:
    h = history(preg("stillbirth", "2019-01-01", 30), preg("miscarriage", "2020-01-01", 8))
    assert h.losses_total == 1
    assert h.losses_since_last_birth == 1


def test_empty_history() -> None:
    h = history()
    assert (h.losses_total, h.consecutive_losses, h.live_births) == (0, 0, 0)
