"""The knowledge base as an R4 Bundle of PlanDefinition + ActivityDefinition: valid R4, one
resource per item and per guideline, citations and UNVERIFIED marks kept, positions and
conditions faithful to the knowledge files, the same Bundle every time."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rplcare.cli import app
from rplcare.engine.conditions import evaluate
from rplcare.fhir.common import CANONICAL, INTERVENTION_SYSTEM, TEST_SYSTEM, stable_id
from rplcare.fhir.knowledge_export import (
    CONDITION_EXTENSION,
    EVALUATE_TITLE,
    RECOMMENDATION_EXTENSION,
    fhirpath,
    knowledge_bundle,
)
from rplcare.fhir.terminology import load_terminology
from rplcare.knowledge.loader import load_knowledge
from rplcare.knowledge.schema import Condition, Investigation, Predicate, Treatment
from tests.fhir.r4 import assert_valid_r4

KB = load_knowledge()
ITEMS: list[Investigation | Treatment] = [*KB.investigations, *KB.treatments]
VERIFICATION = f"{CANONICAL}/StructureDefinition/verification"
LOINC = "http://loinc.org"


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return knowledge_bundle(KB)


def resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def activities(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """ActivityDefinitions by knowledge item id (the last segment of their url)."""
    prefix = f"{CANONICAL}/ActivityDefinition/"
    out = {}
    for r in resources(bundle, "ActivityDefinition"):
        assert r["url"].startswith(prefix)
        out[r["url"].removeprefix(prefix)] = r
    return out


def plans(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["url"].rsplit("/", 1)[1]: r for r in resources(bundle, "PlanDefinition")}


def leaf_actions(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for a in actions:
        out += leaf_actions(a["action"]) if "action" in a else [a]
    return out


def item_actions(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in leaf_actions(plan["action"]) if "definitionCanonical" in a]


def extension(element: dict[str, Any], url: str) -> Any:
    values = [e for e in element.get("extension", []) if e["url"] == url]
    assert len(values) == 1, (url, element.get("extension"))
    return values[0]


def parsed(condition: dict[str, Any]) -> Condition | Predicate:
    raw = json.loads(extension(condition["expression"], CONDITION_EXTENSION)["valueString"])
    return Predicate.model_validate(raw) if "fact" in raw else Condition.model_validate(raw)


# --- shape ----------------------------------------------------------------------------------


def test_bundle_is_valid_r4(bundle: dict[str, Any]) -> None:
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "collection"
    assert bundle["id"] == stable_id("Bundle", "knowledge", KB.version)
    assert_valid_r4(bundle)  # every entry as well


def test_one_activity_definition_per_item(bundle: dict[str, Any]) -> None:
    ads = resources(bundle, "ActivityDefinition")
    assert len(ads) == len(ITEMS) == len(KB.investigations) + len(KB.treatments)
    assert [a["url"].rsplit("/", 1)[1] for a in ads] == [i.id for i in ITEMS]  # KB order
    for item in ITEMS:
        ad = activities(bundle)[item.id]
        assert ad["id"] == stable_id("ActivityDefinition", item.id)
        assert ad["version"] == KB.version
        assert ad["status"] == "active"
        assert ad["experimental"] is False
        assert ad["publisher"] == "rplcare"
        assert item.statement in ad["description"]


def test_one_plan_definition_per_guideline_with_items(bundle: dict[str, Any]) -> None:
    with_items = [g for g in KB.guidelines if any(i.guideline == g for i in ITEMS)]
    assert list(plans(bundle)) == with_items
    assert {"eshre-2022", "rcog-2023", "asrm-2012", "nice-ng126"} <= set(with_items)
    for gid, plan in plans(bundle).items():
        assert plan["id"] == stable_id("PlanDefinition", gid)
        assert plan["title"] == KB.guidelines[gid].name
        assert plan["type"]["coding"][0]["code"] == "clinical-protocol"
        assert "does not replace, a clinician" in plan["description"]
        ref = KB.references[KB.guidelines[gid].reference]
        assert plan["relatedArtifact"][0]["label"] == ref.short
        # each of the guideline's items exactly once, in KB order, under this guideline only
        canonicals = [a["definitionCanonical"] for a in item_actions(plan)]
        assert canonicals == [
            f"{CANONICAL}/ActivityDefinition/{i.id}" for i in ITEMS if i.guideline == gid
        ]


def test_guideline_without_items_gets_no_plan_definition() -> None:
    kb = dataclasses.replace(
        KB,
        investigations=tuple(i for i in KB.investigations if i.guideline != "nice-ng126"),
        treatments=tuple(t for t in KB.treatments if t.guideline != "nice-ng126"),
    )
    out = knowledge_bundle(kb)
    assert "nice-ng126" not in plans(out)
    assert len(out["entry"]) == len(knowledge_bundle(KB)["entry"]) - 1 - sum(
        i.guideline == "nice-ng126" for i in ITEMS
    )


def test_names_are_computable_and_unique(bundle: dict[str, Any]) -> None:
    names = [e["resource"]["name"] for e in bundle["entry"]]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]{0,254}", n) for n in names), names
    assert activities(bundle)["eshre-2022.inv.tsh"]["name"] == "Eshre2022InvTsh"


# --- content --------------------------------------------------------------------------------


def test_codes(bundle: dict[str, Any]) -> None:
    term = load_terminology()
    for item in ITEMS:
        code = activities(bundle)[item.id]["code"]
        if isinstance(item, Investigation):
            label = KB.vocabulary.tests[item.test].label
            own = {"system": TEST_SYSTEM, "code": item.test, "display": label}
            loinc = [c.code for c in term.tests[item.test].codes] if item.test in term.tests else []
        else:
            label = KB.vocabulary.interventions[item.intervention]
            own = {"system": INTERVENTION_SYSTEM, "code": item.intervention, "display": label}
            loinc = []
        assert code["text"] == label
        assert code["coding"][0] == own
        assert [c["code"] for c in code["coding"][1:] if c["system"] == LOINC] == loinc
    tsh = activities(bundle)["eshre-2022.inv.tsh"]
    assert tsh["kind"] == "ServiceRequest"
    assert tsh["code"]["coding"][1]["code"] == "3016-3"
    assert extension(tsh["code"]["coding"][1], VERIFICATION)["valueCode"] == "secondary"
    assert "LOINC 3016-3 is from a secondary source" in tsh["usage"]
    lac = activities(bundle)["eshre-2022.inv.lupus-anticoagulant"]
    assert [c["system"] for c in lac["code"]["coding"]] == [TEST_SYSTEM]  # no checked LOINC
    assert "kind" not in activities(bundle)[KB.treatments[0].id]


def test_citation_label_is_the_reference_short_name(bundle: dict[str, Any]) -> None:
    for item in ITEMS:
        artifacts = activities(bundle)[item.id]["relatedArtifact"]
        assert artifacts[0]["type"] == "citation"
        assert artifacts[0]["label"] == KB.references[item.citation.ref].short
        guideline_ref = KB.guidelines[item.guideline].reference
        if item.citation.ref != guideline_ref:
            assert artifacts[1]["type"] == "documentation"
            assert artifacts[1]["label"] == KB.references[guideline_ref].short
        else:
            assert len(artifacts) == 1


def test_unverified_items_are_marked(bundle: dict[str, Any]) -> None:
    unverified = [i for i in ITEMS if i.verification == "unverified"]
    assert unverified, "the knowledge base ships unverified items; this test must see some"
    for item in ITEMS:
        ad = activities(bundle)[item.id]
        marked = ad["description"].startswith("UNVERIFIED")
        assert marked == (item.verification == "unverified"), item.id
        assert extension(ad, VERIFICATION)["valueCode"] == item.verification.value
    for plan in plans(bundle).values():
        for action in item_actions(plan):
            item_id = action["definitionCanonical"].rsplit("/", 1)[1]
            item = next(i for i in ITEMS if i.id == item_id)
            assert action["description"].startswith("UNVERIFIED") == (
                item.verification == "unverified"
            )


def test_positions(bundle: dict[str, Any]) -> None:
    for item in ITEMS:
        ad = activities(bundle)[item.id]
        position = item.recommendation.value
        assert ad.get("doNotPerform", False) is (position == "not_recommended"), item.id
        assert extension(ad, RECOMMENDATION_EXTENSION)["valueCode"] == position
        assert ad["usage"].startswith(f"Position: {position.replace('_', ' ')}.")
        assert f"Strength as published: {item.strength}." in ad["usage"]
        assert "priority" not in ad
    aspirin3 = activities(bundle)["eshre-2022.tx.aps-aspirin-3-losses"]
    assert aspirin3["usage"].startswith("Position: consider.")
    assert "Evidence quality: ⊕○○○." in aspirin3["usage"]
    assert "doNotPerform" not in aspirin3
    assert activities(bundle)["eshre-2022.tx.aps-aspirin-2-losses"]["doNotPerform"] is True
    assert activities(bundle)["eshre-2022.inv.tsh"]["usage"].startswith("Position: recommended.")


def test_every_definition_canonical_resolves(bundle: dict[str, Any]) -> None:
    urls = {r["url"] for r in resources(bundle, "ActivityDefinition")}
    used = [
        a["definitionCanonical"]
        for plan in plans(bundle).values()
        for a in leaf_actions(plan["action"])
        if "definitionCanonical" in a
    ]
    assert sorted(used) == sorted(urls)  # each resolves, and each item is used exactly once


def test_conditions_match_the_knowledge_base(bundle: dict[str, Any]) -> None:
    gate = Predicate.model_validate({"fact": "evaluation", "in": ["indicated", "discretionary"]})
    by_id = {i.id: i for i in ITEMS}
    for plan in plans(bundle).values():
        for action in item_actions(plan):
            item = by_id[action["definitionCanonical"].rsplit("/", 1)[1]]
            expected: list[Condition | Predicate] = []
            if isinstance(item, Investigation) and item.requires_evaluation:
                expected.append(gate)
            if item.when is not None:
                expected.append(item.when)
            conditions = action.get("condition", [])
            assert [parsed(c) for c in conditions] == expected, item.id
            for c in conditions:
                assert c["kind"] == "applicability"
                assert c["expression"]["language"] == "text/fhirpath"
                assert c["expression"]["expression"] == fhirpath(parsed(c))
                assert c["expression"]["description"]


def test_investigation_without_evaluation_gate() -> None:
    tsh = next(i for i in KB.investigations if i.id == "eshre-2022.inv.tsh")
    assert tsh.when is None and tsh.requires_evaluation
    ungated = tsh.model_copy(update={"requires_evaluation": False})
    kb = dataclasses.replace(
        KB, investigations=tuple(ungated if i is tsh else i for i in KB.investigations)
    )
    for knowledge, gated in ((KB, True), (kb, False)):
        actions = item_actions(plans(knowledge_bundle(knowledge))["eshre-2022"])
        action = next(a for a in actions if a["definitionCanonical"].endswith("/" + tsh.id))
        assert ("condition" in action) is gated


def test_condition_rendering() -> None:
    item = next(i for i in KB.treatments if i.id == "eshre-2022.tx.aps-aspirin-3-losses")
    assert item.when is not None
    assert fhirpath(item.when) == (
        "iif(%`aps.laboratory_criteria_met` = true, true, false) and "
        "iif(%`losses_counted` >= 3, true, false)"
    )
    # `ne` holds when the fact is unknown (engine semantics), so FHIRPath's empty must not leak
    cond = Condition.model_validate(
        {"any": [{"not": {"fact": "s", "in": ["it's", "b"]}}, {"fact": "x", "ne": True}]}
    )
    assert fhirpath(cond) == (
        "((iif(%`s` in ('it\\'s' | 'b'), true, false)).not()) or iif(%`x` = true, false, true)"
    )
    assert cond.any is not None
    assert evaluate(cond.any[1], {}) is True


def test_described_conditions_are_readable(bundle: dict[str, Any]) -> None:
    eshre = plans(bundle)["eshre-2022"]
    action = next(
        a
        for a in item_actions(eshre)
        if a["definitionCanonical"].endswith("eshre-2022.tx.aps-aspirin-3-losses")
    )
    assert action["title"] == "Low-dose aspirin: consider"
    assert [c["expression"]["description"] for c in action["condition"]] == [
        "aps: laboratory criteria met is true and losses counted ≥ 3"
    ]


@pytest.mark.parametrize(("gid", "losses"), [("eshre-2022", 2), ("rcog-2023", 3), ("asrm-2012", 2)])
def test_definition_actions(bundle: dict[str, Any], gid: str, losses: int) -> None:
    d = KB.definitions[gid]
    assert d.min_losses == losses
    first = plans(bundle)[gid]["action"][0]
    assert first["title"] == EVALUATE_TITLE
    assert d.statement in first["description"]
    assert f"at least {d.min_losses} counted losses" in first["description"]
    assert extension(first, VERIFICATION)["valueCode"] == d.verification.value
    assert first["documentation"][0]["label"] == KB.references[d.citation.ref].short
    assert first["condition"][0]["kind"] == "applicability"
    consecutive = "consecutive" if d.consecutive_required else "not necessarily consecutive"
    assert consecutive in first["description"]
    discretion = "evaluation is at the clinician's discretion" in first["description"]
    assert discretion == (d.discretion_min_losses is not None)
    # groups follow: work-up, then care plan
    assert [a["title"] for a in plans(bundle)[gid]["action"][1:]] == ["Work-up", "Care plan"]


def test_no_definition_action_without_a_definition(bundle: dict[str, Any]) -> None:
    for gid, plan in plans(bundle).items():
        titles = [a["title"] for a in plan["action"]]
        assert (EVALUATE_TITLE in titles) == (gid in KB.definitions), gid


# --- determinism ----------------------------------------------------------------------------


def test_ids_unique_and_stable(bundle: dict[str, Any]) -> None:
    ids = [e["resource"]["id"] for e in bundle["entry"]]
    assert len(set(ids)) == len(ids)
    assert [e["fullUrl"] for e in bundle["entry"]] == [f"urn:uuid:{i}" for i in ids]
    urls = [e["resource"]["url"] for e in bundle["entry"]]
    assert len(set(urls)) == len(urls)
    again = knowledge_bundle(KB)
    assert json.dumps(again, sort_keys=False) == json.dumps(bundle, sort_keys=False)


# --- CLI ------------------------------------------------------------------------------------


def test_cli_writes_the_bundle(tmp_path: Path) -> None:
    out = tmp_path / "knowledge.json"
    result = CliRunner().invoke(app, ["knowledge", "export-fhir", "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["resourceType"] == "Bundle"
    n_plans = sum(any(i.guideline == g for i in ITEMS) for g in KB.guidelines)
    assert len(written["entry"]) == len(ITEMS) + n_plans
    assert written == knowledge_bundle(KB)
