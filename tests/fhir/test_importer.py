"""FHIR import: the nine Synthea patients classify as their README expects, every assumption is
reported, and odd input gives clear errors or warnings, never a traceback."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from rplcare.cli import app
from rplcare.domain.case import Outcome
from rplcare.domain.history import LossKind, derive_history
from rplcare.engine.assess import assess
from rplcare.errors import InputError, RplcareError
from rplcare.fhir.importer import ImportResult, import_bundle
from rplcare.knowledge.loader import KnowledgeBase, load_knowledge
from tests.fhir.r4 import SYNTHEA, SYNTHEA_NAMES, synthea_bundle

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge()


# README of tests/fhir/data/synthea: outcome sequence, losses, which definitions are met.
# Loria's 1963 miscarriage has no pregnancy episode in the export window; it is imported as a
# pregnancy of its own ("+1 older"), so she has 4 losses.
M, A, T, L, E = "miscarriage", "anembryonic", "termination", "live_birth", "ectopic"
EXPECTED: dict[str, dict[str, Any]] = {
    "raeann_okon": {
        "outcomes": [A, M, T, A, M, L],
        "losses": 4,
        "meets": {"eshre-2022": True, "rcog-2023": True, "asrm-2012": True},
        "kind": "primary",
    },
    "loria_jenkins": {
        "outcomes": [M, M, A, M],
        "losses": 4,
        "meets": {"eshre-2022": True, "rcog-2023": True, "asrm-2012": True},
        "kind": "primary",
    },
    "virginia_mercado": {
        "outcomes": [A, M, L],
        "losses": 2,
        "meets": {"eshre-2022": True, "rcog-2023": False, "asrm-2012": True},
        "kind": "primary",
    },
    "cristina_madrid": {
        "outcomes": [L, M, M, L, L],
        "losses": 2,
        "meets": {"eshre-2022": True, "rcog-2023": False, "asrm-2012": True},
        "kind": "secondary",
    },
    "samira_parisian": {
        "outcomes": [A, T, T, A, T],
        "losses": 2,
        "meets": {"eshre-2022": True, "rcog-2023": False},
        "kind": "primary",
    },
    "vera_spinka": {"outcomes": [M, L], "losses": 1, "meets": {}, "kind": None},
    "shasta_towne": {"outcomes": [L, A], "losses": 1, "meets": {}, "kind": None},
    "willia_runolfsdottir": {"outcomes": [M, E], "losses": 1, "meets": {}, "kind": None},
    "robbin_gutmann": {"outcomes": [M, E, L, L, T, T], "losses": 1, "meets": {}, "kind": None},
}
# Historical records: assess them when the history was current (the women are over 70 now).
AS_OF = {"loria_jenkins": date(1990, 1, 1), "willia_runolfsdottir": date(1973, 1, 1)}


def imported(name: str, kb: KnowledgeBase) -> ImportResult:
    return import_bundle(synthea_bundle(name), as_of=AS_OF.get(name, date(2021, 6, 1)), kb=kb)


def test_all_nine_fixtures_are_covered() -> None:
    assert sorted(EXPECTED) == SYNTHEA_NAMES


@pytest.mark.parametrize("name", SYNTHEA_NAMES)
def test_synthea_patients_classify_as_expected(name: str, kb: KnowledgeBase) -> None:
    want = EXPECTED[name]
    result = imported(name, kb)
    case = result.case
    ordered = sorted(case.pregnancies, key=lambda p: p.end_date)
    assert [p.outcome.value for p in ordered] == want["outcomes"]
    a = assess(case, kb)
    assert a.history.losses_total == want["losses"]
    for gid, meets in want["meets"].items():
        assert a.definitions[gid].meets is meets, (gid, a.definitions[gid].reasons)
    if not want["meets"]:
        assert not any(d.meets for d in a.definitions.values())
    if want["kind"]:
        assert a.definitions["eshre-2022"].kind == want["kind"]
    # Synthea records no gestation: every pregnancy is a flagged placeholder, and said so.
    assert all(p.gestational_weeks_assumed for p in case.pregnancies)
    assert any("gestation not recorded" in w for w in result.warnings)


def test_raeann_four_losses_are_not_consecutive_because_of_the_termination(
    kb: KnowledgeBase,
) -> None:
    history = derive_history(imported("raeann_okon", kb).case, kb.history)
    assert history.losses_total == 4
    assert history.longest_consecutive_run({e.index for e in history.losses()}) != list(
        history.losses()
    )


def test_every_outcome_record_is_accounted_for(kb: KnowledgeBase) -> None:
    """No outcome record is dropped silently: each one's id is in some pregnancy's notes."""
    outcome_codes = {"19169002", "35999006", "156073000", "79586000", "714812005", "66348005"}
    for name in SYNTHEA_NAMES:
        result = imported(name, kb)
        notes = " ".join(p.notes or "" for p in result.case.pregnancies)
        for entry in synthea_bundle(name)["entry"]:
            r = entry["resource"]
            codes = {c["code"] for c in r.get("code", {}).get("coding", [])}
            when = r.get("onsetDateTime") or r.get("performedPeriod", {}).get("start", "")
            if codes & outcome_codes and when[:10] <= result.case.as_of.isoformat():
                assert r["id"] in notes, (name, r["id"])


def test_tubal_pregnancy_is_ectopic_and_not_a_loss(kb: KnowledgeBase) -> None:
    case = imported("willia_runolfsdottir", kb).case
    history = derive_history(case, kb.history)
    ectopic = [e for e in history.events if e.pregnancy.outcome is Outcome.ECTOPIC]
    assert len(ectopic) == 1 and ectopic[0].loss_kind is None


def test_synthea_warnings_name_the_assumptions(kb: KnowledgeBase) -> None:
    warnings = imported("cristina_madrid", kb).warnings
    text = "\n".join(warnings)
    assert "pregnancy 1, 4, 5: a delivery procedure was read as a live birth" in text
    assert "2 record(s) coded 156073000" in text
    assert "not used (no pregnancy, test or lifestyle code)" in text


def test_labs_and_lifestyle_are_read(kb: KnowledgeBase) -> None:
    case = imported("raeann_okon", kb).case
    assert {t.code for t in case.tests} == {"hba1c"}
    assert all(t.unit == "%" and t.value is not None for t in case.tests)
    assert case.lifestyle is not None
    assert case.lifestyle.smoker is False
    assert case.lifestyle.bmi is not None and 10 < case.lifestyle.bmi < 60


# --- synthetic bundles --------------------------------------------------------------------


def bundle(*resources: dict[str, Any], birth: str = "1990-05-01") -> dict[str, Any]:
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": birth}
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in (patient, *resources)],
    }


def condition(code: str, onset: str, abatement: str | None = None, **extra: Any) -> dict[str, Any]:
    r = {
        "resourceType": "Condition",
        "id": f"c-{code}-{onset}",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": SNOMED, "code": code}]},
        "onsetDateTime": onset,
        **extra,
    }
    if abatement:
        r["abatementDateTime"] = abatement
    return r


def observation(loinc: str, when: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"o-{loinc}-{when}",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "effectiveDateTime": when,
        **value,
    }


def run(kb: KnowledgeBase, *resources: dict[str, Any], **kw: Any) -> ImportResult:
    return import_bundle(bundle(*resources, **kw), as_of=date(2026, 1, 1), kb=kb)


def test_second_trimester_code_gives_a_second_trimester_loss(kb: KnowledgeBase) -> None:
    result = run(kb, condition("85116003", "2024-03-01"), condition("17369002", "2025-02-01"))
    history = derive_history(result.case, kb.history)
    assert [e.loss_kind for e in history.events] == [
        LossKind.SECOND_TRIMESTER,
        LossKind.CLINICAL_FIRST_TRIMESTER,
    ]
    # 17369002 says nothing about the trimester: the importer says what it assumed.
    assert any("no code says the trimester" in w for w in result.warnings)


def test_records_within_two_weeks_are_one_pregnancy(kb: KnowledgeBase) -> None:
    same = run(kb, condition("19169002", "2024-03-01"), condition("79586000", "2024-03-05"))
    assert [p.outcome for p in same.case.pregnancies] == [Outcome.ECTOPIC]
    apart = run(kb, condition("19169002", "2024-03-01"), condition("79586000", "2024-05-01"))
    assert [p.outcome for p in apart.case.pregnancies] == [Outcome.MISCARRIAGE, Outcome.ECTOPIC]


def test_episode_with_conflicting_outcomes_is_reported(kb: KnowledgeBase) -> None:
    episode = condition("72892002", "2024-01-01", "2024-09-01")
    result = run(
        kb,
        episode,
        condition("19169002", "2024-03-01"),
        condition("281050002", "2024-09-01"),
    )
    assert [p.outcome for p in result.case.pregnancies] == [Outcome.LIVE_BIRTH]
    assert any("records disagree" in w for w in result.warnings)


def test_ongoing_and_empty_episodes_are_reported_not_invented(kb: KnowledgeBase) -> None:
    ongoing = condition("72892002", "2025-11-01", clinicalStatus={"coding": [{"code": "active"}]})
    empty = condition("72892002", "2023-01-01", "2023-02-01")
    result = run(kb, ongoing, empty)
    assert result.case.pregnancies == [] and result.case.current_pregnancy is None
    text = "\n".join(result.warnings)
    assert "an ongoing pregnancy since 2025-11-01" in text
    assert "has no outcome record: not imported" in text


def test_void_and_foreign_records_are_skipped_with_a_warning(kb: KnowledgeBase) -> None:
    refuted = condition(
        "19169002", "2024-03-01", verificationStatus={"coding": [{"code": "entered-in-error"}]}
    )
    foreign = condition("19169002", "2024-06-01", subject={"reference": "Patient/other"})
    result = run(kb, refuted, foreign)
    assert result.case.pregnancies == []
    assert any("entered-in-error" in w for w in result.warnings)
    assert any("other patients were skipped" in w for w in result.warnings)


def test_unmapped_pregnancy_condition_is_named(kb: KnowledgeBase) -> None:
    odd = condition("999999999", "2024-03-01")
    odd["code"]["text"] = "Missed miscarriage"
    result = run(kb, odd)
    assert any("Missed miscarriage" in w and "does not map" in w for w in result.warnings)


def test_lab_with_ucum_unit_and_interpretation(kb: KnowledgeBase) -> None:
    tsh = observation(
        "3016-3",
        "2025-06-01",
        valueQuantity={"value": 5.1, "unit": "mIU/L", "system": "http://unitsofmeasure.org",
                       "code": "m[IU]/L"},
        interpretation=[{"coding": [{"code": "H"}]}],
    )  # fmt: skip
    odd_unit = observation("3024-7", "2025-06-01", valueQuantity={"value": 1, "code": "furlong"})
    result = run(kb, tsh, odd_unit)
    [test] = result.case.tests
    assert (test.code, test.value, test.unit, test.result) == ("tsh", 5.1, "mIU/L", "high")
    assert any("'furlong'" in w for w in result.warnings)


def test_partial_birth_date_gives_the_lower_bound_age(kb: KnowledgeBase) -> None:
    result = run(kb, birth="1990")
    assert result.case.patient.age == 35
    assert any("known only to the year" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"resourceType": "Patient"}, "expected a FHIR Bundle"),
        ({"resourceType": "Bundle"}, "no entries"),
        ({"resourceType": "Bundle", "entry": []}, "no Patient resource"),
        (
            {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]},
            "no birthDate",
        ),
    ],
)
def test_unusable_input_is_a_clear_error(
    kb: KnowledgeBase, data: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        import_bundle(data, as_of=date(2026, 1, 1), kb=kb)


def test_two_patients_need_a_choice(kb: KnowledgeBase) -> None:
    two = bundle({"resourceType": "Patient", "id": "p2", "birthDate": "1985-01-01"})
    with pytest.raises(InputError, match="several patients"):
        import_bundle(two, as_of=date(2026, 1, 1), kb=kb)
    chosen = import_bundle(two, as_of=date(2026, 1, 1), kb=kb, patient_id="Patient/p2")
    assert chosen.case.patient.birth_date == date(1985, 1, 1)


def test_placeholder_gestation_does_not_decide_aps_criteria(kb: KnowledgeBase) -> None:
    """Three imported first-trimester losses with persistent lupus anticoagulant: the
    gestation-based APS clinical criteria must not be claimed on placeholder gestations."""
    losses = [condition("19169002", d) for d in ("2023-01-01", "2023-09-01", "2024-05-01")]
    document = run(kb, *losses).document
    document["tests"] = [
        {"code": "lupus_anticoagulant", "date": "2024-08-01", "result": "positive"},
        {"code": "lupus_anticoagulant", "date": "2024-12-01", "result": "positive"},
    ]
    from rplcare.domain.validation import parse_case

    a = assess(parse_case(document, kb), kb)
    aps = next(c for c in a.causes if c.category == "antiphospholipid_syndrome")
    evidence = " ".join(aps.evidence)
    assert "gestation at loss not recorded" in evidence
    assert "criterion (c) met" not in evidence and "criterion (a) met" not in evidence
    assert aps.status != "confirmed"


# --- property: any junk resource list gives a case or a clear error ------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
_resource = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(["Condition", "Procedure", "Observation", "Encounter"])},
    optional={
        "code": st.fixed_dictionaries(
            {"coding": st.lists(st.fixed_dictionaries(
                {"system": st.sampled_from([SNOMED, LOINC, "x"]),
                 "code": st.sampled_from(["72892002", "19169002", "66348005", "3016-3", "1"])}
            ), max_size=2)}
        ),
        "onsetDateTime": st.sampled_from(["2024-01-01", "2024", "bad", "2025-02-30", "2027-01-01"]),
        "abatementDateTime": st.sampled_from(["2024-02-01", "x"]),
        "effectiveDateTime": st.sampled_from(["2024-01-01", "2024-13"]),
        "valueQuantity": _json,
        "interpretation": _json,
        "subject": _json,
        "status": st.sampled_from(["final", "entered-in-error"]),
    },
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resources=st.lists(_resource, max_size=8))
def test_any_resources_import_or_fail_clearly(resources: list[dict[str, Any]]) -> None:
    kb = load_knowledge()
    try:
        result = import_bundle(bundle(*resources), as_of=date(2026, 1, 1), kb=kb)
    except RplcareError as exc:
        assert str(exc)
        return
    assess(result.case, kb)


# --- CLI ----------------------------------------------------------------------------------


def test_cli_import_then_assess(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "case.json"
    r = runner.invoke(
        app,
        ["fhir", "import", str(SYNTHEA / "virginia_mercado.json.gz"), "-o", str(out),
         "--as-of", "2021-01-01"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "warning: gestation not recorded" in r.output
    assert "wrote" in r.output and "3 pregnancies" in r.output
    case = json.loads(out.read_text())
    assert case["schema"] == "rplcare.case/1" and case["as_of"] == "2021-01-01"
    r = runner.invoke(app, ["assess", str(out), "-f", "json"])
    assert r.exit_code == 0
    assert json.loads(r.stdout)["definitions"]["eshre-2022"]["meets"] is True


def test_cli_as_of_record_and_historical_hint(tmp_path: Path) -> None:
    runner = CliRunner()
    loria = str(SYNTHEA / "loria_jenkins.json.gz")
    r = runner.invoke(app, ["fhir", "import", loria, "-o", str(tmp_path / "a.json")])
    assert r.exit_code == 2
    assert "give --as-of a date when the history was current" in r.output
    r = runner.invoke(app, ["fhir", "import", loria, "--as-of", "record"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["as_of"] == "1993-02-06"  # her latest dated record


def test_cli_bad_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    r = CliRunner().invoke(app, ["fhir", "import", str(bad)])
    assert r.exit_code == 2 and "not valid JSON" in r.output and "Traceback" not in r.output
