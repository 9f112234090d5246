"""The shipped examples/ assess as documented (the same files `make run` prints)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rplcare.engine.assess import assess
from rplcare.io import load_case
from tests.factories import care_ids, cause

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.json"))


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_assesses_to_the_contract(path: Path) -> None:
    data = assess(load_case(path)).to_json_dict()
    json.dumps(data)  # serialisable
    assert data["schema"] == "rplcare.assessment/1"
    definitions = data["definitions"]
    assert isinstance(definitions, dict)
    assert set(definitions) == {"eshre-2022", "rcog-2023", "asrm-2012", "nvog", "ngf-2024"}
    assert "does not replace" in str(data["disclaimer"])


def test_aps_three_losses() -> None:
    a = assess(load_case("examples/aps-three-losses.json"))
    assert (a.definitions["eshre-2022"].meets, a.definitions["eshre-2022"].losses_counted) == (
        True,
        3,
    )
    assert (a.definitions["asrm-2012"].meets, a.definitions["asrm-2012"].losses_counted) == (
        True,
        2,
    )
    assert a.definitions["rcog-2023"].meets is False
    assert a.definitions["rcog-2023"].evaluation == "discretionary"
    # LA positive 2025-11-03 and 2026-02-16 (15 weeks apart); three consecutive losses < 10 weeks.
    assert cause(a, "antiphospholipid_syndrome") == "confirmed"
    assert cause(a, "unexplained") == "excluded"
    ids = care_ids(a)
    assert {"eshre-2022.tx.aps-aspirin-3-losses", "rcog-2023.tx.aps-heparin"} <= ids
    assert "eshre-2022.tx.aps-aspirin-2-losses" not in ids
    assert "eshre-2022.tx.weight-management" in ids  # BMI 26


def test_secondary_current_pregnancy() -> None:
    a = assess(load_case("examples/secondary-current-pregnancy.json"))
    for g in ("eshre-2022", "rcog-2023", "asrm-2012"):
        assert a.definitions[g].meets and a.definitions[g].kind == "secondary"
    assert a.history.ectopic == 1
    assert a.history.consecutive_losses == 3
    assert cause(a, "parental_chromosomal_rearrangement") == "confirmed"
    assert [r.status for r in a.risk_factors if r.category == "lifestyle_risk"] == ["present"]
    ids = care_ids(a)
    assert "nice-ng126.tx.progesterone-bleeding" in ids
    assert "rcog-2023.tx.progesterone-bleeding" in ids
    assert {"eshre-2022.tx.smoking-cessation", "eshre-2022.tx.caffeine-reduction"} <= ids
    assert "eshre-2022.tx.alcohol-reduction" not in ids  # 2 units a week


def test_two_losses_young() -> None:
    a = assess(load_case("examples/two-losses-young.json"))
    assert a.patient.age == 30
    assert a.definitions["eshre-2022"].meets and a.definitions["asrm-2012"].meets
    assert not a.definitions["rcog-2023"].meets
    assert cause(a, "unexplained") == "possible"
    assert all(w.status in {"to_do", "optional", "not_indicated"} for w in a.workup)
    assert all(w.status == "optional" for w in a.workup if w.recommendation == "consider")
    rcog = [
        w
        for w in a.workup
        if w.guideline == "rcog-2023"
        and w.published_recommendation == "recommended"
        # the plan for the next loss's tissue applies whatever the discretion
        and w.id != "rcog-2023.inv.poc-cytogenetics-next-loss"
    ]
    assert rcog and all(w.recommendation == "consider" for w in rcog)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_to_json_is_the_contract_document(path: Path) -> None:
    """The one-pass JSON the API sends is the same document as to_json_dict, key order too."""
    assessment = assess(load_case(path))
    text = assessment.to_json()
    assert json.loads(text) == assessment.to_json_dict()
    assert list(json.loads(text)) == list(assessment.to_json_dict())
