"""The knowledge base as a FHIR R4 Bundle (type `collection`) of definitional resources.

- One **ActivityDefinition** per knowledge item (investigation or treatment): the test or
  intervention as `code`, the statement as `description` (prefixed UNVERIFIED where the item is),
  the citation as `relatedArtifact`, the verification tag as an extension.
- One **PlanDefinition** per guideline with items (`clinical-protocol`): first, where the
  guideline has an RPL definition, an action "Evaluate for recurrent pregnancy loss" describing
  it; then a "Work-up" and a "Care plan" group with one action per item, each pointing at its
  ActivityDefinition through `definitionCanonical`.

**Position.** `recommended`, `consider` and `not_recommended` are kept apart without `priority`
(which is about urgency, not strength): `not_recommended` sets `doNotPerform`; every
ActivityDefinition carries the position as the extension `RECOMMENDATION_EXTENSION`
(valueCode = the knowledge base's own code) and spells it out at the start of `usage`
("Position: consider. ..."), and each PlanDefinition action's title ends with it.

**Conditions.** An item's `when` condition, and for investigations the gate on the guideline's
evaluation threshold (`requires_evaluation`), become separate `applicability` conditions (FHIR
combines them with AND). The R4 JSON schema accepts only `text/cql`, `text/fhirpath` and
`application/x-fhir-query` as `Expression.language` (although the binding is extensible), so
each Expression carries:

- `expression`: the condition in FHIRPath over environment variables named after rplcare's
  facts (%`losses_counted`, %`cause.unexplained`; see `knowledge/facts.py`), an unknown
  fact being empty. Every comparison is wrapped in `iif(..., true, false)` so that it is true or
  false, never empty, as in the engine: an unknown fact satisfies no comparison but `ne`.
- the condition itself as compact JSON in the extension `CONDITION_EXTENSION` (readable back with
  `Condition.model_validate`): the exact form rplcare evaluates.
- `description`: the condition in words. The engine's extra rule (a recommended test becomes
  "consider" when evaluation is only discretionary) is stated in the gate's description.

Codes: the rplcare code first, then LOINC codings from the terminology table for tests (verified
and secondary codes only), each carrying the table's status in the verification extension.
No `date`, `text` or timestamps, so the same knowledge base always gives the same Bundle.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from rplcare.fhir.common import (
    CANONICAL,
    INTERVENTION_SYSTEM,
    TEST_SYSTEM,
    Resource,
    activity_url,
    bundle_entry,
    plan_url,
    related_artifact,
    stable_id,
    unverified_prefix,
    verification_extension,
)
from rplcare.fhir.terminology import Terminology, load_terminology
from rplcare.knowledge.loader import KnowledgeBase
from rplcare.knowledge.schema import (
    Citation,
    Condition,
    DefinitionRule,
    Investigation,
    Predicate,
    Recommendation,
    Treatment,
)

RECOMMENDATION_EXTENSION = f"{CANONICAL}/StructureDefinition/recommendation"
CONDITION_EXTENSION = f"{CANONICAL}/StructureDefinition/condition"
PUBLISHER = "rplcare"
EVALUATE_TITLE = "Evaluate for recurrent pregnancy loss"

_POSITION = {
    Recommendation.RECOMMENDED: "recommended",
    Recommendation.CONSIDER: "consider",
    Recommendation.NOT_RECOMMENDED: "not recommended",
}
_KIND = {
    "biochemical": "biochemical losses",
    "clinical_first_trimester": "first-trimester miscarriages",
    "second_trimester": "second-trimester losses",
}
_WORDS = {"=": "is", "!=": "is not", ">=": "≥", ">": ">", "<=": "≤", "<": "<", "in": "is one of"}
# The engine's gate for items with `requires_evaluation` (rplcare.engine.planning).
_EVALUATION_GATE = Predicate.model_validate(
    {"fact": "evaluation", "in": ["indicated", "discretionary"]}
)

Item = Investigation | Treatment


def knowledge_bundle(kb: KnowledgeBase) -> dict[str, Any]:
    """Every guideline with items as a PlanDefinition, then every item as an ActivityDefinition,
    in knowledge-base order."""
    term = load_terminology()
    items: list[Item] = [*kb.investigations, *kb.treatments]
    plans = [
        _plan(kb, gid, [i for i in items if i.guideline == gid])
        for gid in kb.guidelines
        if any(i.guideline == gid for i in items)
    ]
    activities = [_activity(kb, term, item) for item in items]
    return {
        "resourceType": "Bundle",
        "id": stable_id("Bundle", "knowledge", kb.version),
        "type": "collection",
        "entry": [bundle_entry(r) for r in [*plans, *activities]],
    }


def computable_name(key: str) -> str:
    """`eshre-2022.inv.tsh` -> `Eshre2022InvTsh`: letters and digits, initial capital (pdf-0)."""
    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", key))
    return name if name[:1].isalpha() else f"N{name}"


# --- ActivityDefinition -----------------------------------------------------------------------


def _activity(kb: KnowledgeBase, term: Terminology, item: Item) -> Resource:
    guideline = kb.guidelines[item.guideline]
    system, code, label = _code(kb, item)
    codings: list[dict[str, Any]] = [{"system": system, "code": code, "display": label}]
    entry = term.tests.get(item.test) if isinstance(item, Investigation) else None
    table = [c for c in entry.codes if c.status in ("verified", "secondary")] if entry else []
    codings += [{**term.coding(c), "extension": [verification_extension(c.status)]} for c in table]
    # Said in words as well, like the assessment export's notes.
    secondary = [
        f"{c.system.upper()} {c.code} is from a secondary source; check before relying on it."
        for c in table
        if c.status == "secondary"
    ]
    artifacts = [related_artifact(kb, item.citation)]
    if item.citation.ref != guideline.reference:
        own = related_artifact(kb, Citation(ref=guideline.reference))
        artifacts.append({**own, "type": "documentation", "display": guideline.name})
    resource: Resource = {
        "resourceType": "ActivityDefinition",
        "id": stable_id("ActivityDefinition", item.id),
        "extension": [
            verification_extension(item.verification),
            {"url": RECOMMENDATION_EXTENSION, "valueCode": item.recommendation.value},
        ],
        "url": activity_url(item.id),
        "version": kb.version,
        "name": computable_name(item.id),
        "title": f"{label} ({kb.references[guideline.reference].short})",
        "status": "active",
        "experimental": False,
        "publisher": PUBLISHER,
        "description": unverified_prefix(item.verification) + item.statement,
        "usage": " ".join([_usage(item), *secondary]),
        "relatedArtifact": artifacts,
    }
    # Treatments mix drugs, surgery, counselling and lifestyle advice: no single request type.
    if isinstance(item, Investigation):
        resource["kind"] = "ServiceRequest"
    resource["code"] = {"coding": codings, "text": label}
    # A guideline position is advice to a clinician, not an order.
    resource["intent"] = "proposal"
    if item.recommendation is Recommendation.NOT_RECOMMENDED:
        resource["doNotPerform"] = True
    return resource


def _code(kb: KnowledgeBase, item: Item) -> tuple[str, str, str]:
    if isinstance(item, Investigation):
        return TEST_SYSTEM, item.test, kb.vocabulary.tests[item.test].label
    return INTERVENTION_SYSTEM, item.intervention, kb.vocabulary.interventions[item.intervention]


def _usage(item: Item) -> str:
    parts = [
        f"Position: {_POSITION[item.recommendation]}.",
        f"Strength as published: {item.strength}.",
    ]
    if item.evidence_quality:
        parts.append(f"Evidence quality: {item.evidence_quality}.")
    parts.append(f"Guideline version: {item.version}.")
    if item.note:
        parts.append(item.note)
    return " ".join(parts)


# --- PlanDefinition ---------------------------------------------------------------------------


def _plan(kb: KnowledgeBase, gid: str, items: list[Item]) -> Resource:
    guideline = kb.guidelines[gid]
    unverified = sum(i.verification == "unverified" for i in items)
    investigations = [i for i in items if isinstance(i, Investigation)]
    treatments = [i for i in items if isinstance(i, Treatment)]
    actions: list[dict[str, Any]] = []
    if gid in kb.definitions:
        actions.append(_definition_action(kb, kb.definitions[gid]))
    for title, group in (("Work-up", investigations), ("Care plan", treatments)):
        if group:
            actions.append(
                {
                    "title": title,
                    "groupingBehavior": "logical-group",
                    "selectionBehavior": "any",
                    "action": [_item_action(kb, i) for i in group],
                }
            )
    return {
        "resourceType": "PlanDefinition",
        "id": stable_id("PlanDefinition", gid),
        "url": plan_url(gid),
        "version": kb.version,
        "name": computable_name(gid),
        "title": guideline.name,
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/plan-definition-type",
                    "code": "clinical-protocol",
                }
            ]
        },
        "status": "active",
        "experimental": False,
        "publisher": PUBLISHER,
        "description": (
            f"rplcare's computable rendering of the positions of {guideline.name} "
            f"({guideline.publisher}, {guideline.year or 'date not seen'}) "
            f"in knowledge base {kb.version}: "
            f"{len(investigations)} investigations and {len(treatments)} treatments, "
            f"{unverified} of them UNVERIFIED (marked in their descriptions). Statements are in "
            "rplcare's own words, not the guideline's. It supports, and does not replace, "
            "a clinician."
        ),
        "usage": f"Strengths are quoted on the guideline's scale: {guideline.strength_scale}.",
        "relatedArtifact": [related_artifact(kb, Citation(ref=guideline.reference))],
        "action": actions,
    }


def _definition_action(kb: KnowledgeBase, d: DefinitionRule) -> dict[str, Any]:
    kinds = ", ".join(_KIND[k] for k in d.counted_kinds)
    consecutive = "consecutive" if d.consecutive_required else "not necessarily consecutive"
    rule = [
        f"rplcare applies it as: RPL from at least {d.min_losses} counted losses ({kinds}), "
        f"{consecutive}."
    ]
    if d.single_second_trimester_loss_meets:
        rule.append("One second-trimester miscarriage also meets it.")
    if d.discretion_min_losses is not None:
        either = " or ".join(_KIND[k] for k in d.discretion_kinds)
        rule.append(
            f"From {d.discretion_min_losses} {either}, evaluation is at the clinician's discretion."
        )
    if d.evaluation_min_losses is not None:
        rule.append(
            f"Routine evaluation from {d.evaluation_min_losses} counted losses; below that, at "
            "the clinician's discretion."
        )
    if d.not_counted_reasons:
        rule.append(f"Not counted: {'; '.join(d.not_counted_reasons.values())}.")
    rule.append(f"Source: {kb.cite(d.citation)}; verification: {d.verification}.")
    return {
        "extension": [verification_extension(d.verification)],
        "title": EVALUATE_TITLE,
        "description": f"{unverified_prefix(d.verification)}{d.statement} {' '.join(rule)}",
        "documentation": [related_artifact(kb, d.citation)],
        "condition": [
            _applicability(
                _EVALUATION_GATE,
                "evaluation is indicated (the definition is met) or at the clinician's discretion",
            )
        ],
    }


def _item_action(kb: KnowledgeBase, item: Item) -> dict[str, Any]:
    conditions = []
    if isinstance(item, Investigation) and item.requires_evaluation:
        conditions.append(_applicability(_EVALUATION_GATE, _gate_description(kb, item.guideline)))
    if item.when is not None:
        conditions.append(_applicability(item.when, _describe(kb, item.when)))
    action: dict[str, Any] = {
        "title": f"{_code(kb, item)[2]}: {_POSITION[item.recommendation]}",
        "description": unverified_prefix(item.verification) + item.statement,
    }
    if conditions:
        action["condition"] = conditions
    action["definitionCanonical"] = activity_url(item.id)
    return action


def _gate_description(kb: KnowledgeBase, gid: str) -> str:
    whose = (
        "this guideline's RPL definition is met, or evaluation is at the clinician's discretion"
        if gid in kb.definitions
        else "this guideline has no RPL definition of its own: evaluation is indicated or at "
        "the clinician's discretion under at least one guideline's definition"
    )
    return (
        f"{_describe(kb, _EVALUATION_GATE)}: {whose}; when only at discretion, "
        "a recommended test is to be considered"
    )


# --- conditions -------------------------------------------------------------------------------


def _applicability(cond: Condition | Predicate, description: str) -> dict[str, Any]:
    compact = json.dumps(
        cond.model_dump(mode="json", by_alias=True, exclude_none=True),
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return {
        "kind": "applicability",
        "expression": {
            "extension": [{"url": CONDITION_EXTENSION, "valueString": compact}],
            "description": description,
            "language": "text/fhirpath",
            "expression": fhirpath(cond),
        },
    }


def fhirpath(cond: Condition | Predicate) -> str:
    """The condition in FHIRPath, two-valued like `rplcare.engine.conditions.evaluate`."""
    return _render(cond, _fhirpath_predicate, lambda inner: f"({inner}).not()")


def _fhirpath_predicate(p: Predicate) -> str:
    fact = f"%`{p.fact}`"
    if p.ne is not None:  # true when the fact is unknown, as in the engine
        return f"iif({fact} = {_literal(p.ne)}, false, true)"
    if p.in_ is not None:
        return f"iif({fact} in ({' | '.join(map(_literal, p.in_))}), true, false)"
    op, value = next((o, v) for o, v in _comparisons(p) if v is not None)
    return f"iif({fact} {op} {_literal(value)}, true, false)"


def _describe(kb: KnowledgeBase, cond: Condition | Predicate) -> str:
    """The condition in words, e.g. `Antiphospholipid syndrome (cause) is confirmed and losses
    counted ≥ 3`."""

    def predicate(p: Predicate) -> str:
        op, value = next((_WORDS[o], v) for o, v in _comparisons(p) if v is not None)
        return f"{_fact(kb, p.fact)} {op} {_value(value)}"

    return _render(cond, predicate, lambda inner: f"not ({inner})")


def _render(
    cond: Condition | Predicate,
    predicate: Callable[[Predicate], str],
    negate: Callable[[str], str],
) -> str:
    if isinstance(cond, Predicate):
        return predicate(cond)
    if cond.not_ is not None:
        return negate(_render(cond.not_, predicate, negate))
    parts = cond.all if cond.all is not None else cond.any or []
    return (" and " if cond.all is not None else " or ").join(
        f"({_render(p, predicate, negate)})" if isinstance(p, Condition) else predicate(p)
        for p in parts
    )


def _comparisons(p: Predicate) -> list[tuple[str, Any]]:
    return [
        ("=", p.eq),
        ("!=", p.ne),
        (">=", p.ge),
        (">", p.gt),
        ("<=", p.le),
        ("<", p.lt),
        ("in", p.in_),
    ]


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return _value(value)


def _fact(kb: KnowledgeBase, fact: str) -> str:
    kind, _, name = fact.partition(".")
    if kind == "cause" and name in kb.vocabulary.causes:
        return f"{kb.vocabulary.causes[name]} (cause)"
    if kind == "result" and name in kb.vocabulary.tests:
        return f"latest {kb.vocabulary.tests[name].label} result"
    return fact.replace("_", " ").replace(".", ": ")


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("_", " ")
