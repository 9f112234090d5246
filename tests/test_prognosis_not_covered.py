"""Issue 14 item 7: what the model does not know is said beside the figure, and a stillbirth
is not a birth that resets the risk."""

from __future__ import annotations

from rplcare.engine.assess import assess, history_sequence
from rplcare.io import load_case
from tests.factories import case, losses, preg, run

VIGNETTES = "tests/vignettes"


def test_stillbirth_is_not_a_birth_that_resets_the_risk() -> None:
    stillbirth_first = run(
        pregnancies=[preg("stillbirth", "2022-03-10", 31), *losses(2, start=2024)]
    )
    no_birth = run(pregnancies=losses(2, start=2024))
    live_birth_first = run(
        pregnancies=[preg("live_birth", "2022-03-10", 39), *losses(2, start=2024)]
    )
    risk = {
        name: a.prognosis.next_pregnancy.miscarriage_risk.estimate
        for name, a in (
            ("stillbirth", stillbirth_first),
            ("none", no_birth),
            ("live", live_birth_first),
        )
    }
    assert risk["stillbirth"] == risk["none"]
    drivers = " ".join(stillbirth_first.prognosis.next_pregnancy.drivers)
    assert "earlier birth" not in drivers and "resets" not in drivers
    assert "earlier birth" in " ".join(live_birth_first.prognosis.next_pregnancy.drivers)
    notes = stillbirth_first.prognosis.next_pregnancy.not_covered
    assert any("stillbirth" in n for n in notes)


def test_history_sequence_passes_over_a_stillbirth() -> None:
    from rplcare.domain.history import derive_history
    from rplcare.knowledge.loader import load_knowledge

    c = case([preg("stillbirth", "2022-03-10", 31), preg("live_birth", "2023-05-01", 39)])
    assert history_sequence(derive_history(c, load_knowledge().history)) == "B"


def test_confirmed_cause_and_mid_trimester_loss_are_named_beside_the_figure() -> None:
    a = assess(load_case(f"{VIGNETTES}/64-triple-positive-aps-fetal-death/case.json"))
    notes = a.prognosis.next_pregnancy.not_covered
    assert any(n.startswith("Antiphospholipid syndrome is confirmed") for n in notes)
    assert any("second-trimester loss" in n for n in notes)


def test_unexplained_rpl_has_nothing_to_add() -> None:
    a = run(pregnancies=losses(3))
    assert a.prognosis.next_pregnancy.not_covered == []


def test_bleeding_is_named_for_the_current_pregnancy() -> None:
    a = assess(load_case("tests/vignettes/42-progesterone-bleeding-heartbeat/case.json"))
    cur = a.prognosis.current_pregnancy
    assert cur is not None
    assert "bleeding in this pregnancy: not in the model" in cur.not_covered
