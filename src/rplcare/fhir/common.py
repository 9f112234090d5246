"""Conventions shared by everything rplcare writes as FHIR: its own namespace, stable ids,
citations as `relatedArtifact`, and the verification tag as an extension.

rplcare has no registered domain, so its canonical URLs live under the reserved `.invalid`
top-level domain (RFC 2606): globally unique, never resolvable, obviously not someone else's.
"""

from __future__ import annotations

import uuid
from typing import Any

from rplcare.knowledge.loader import KnowledgeBase
from rplcare.knowledge.schema import Citation, Verification

CANONICAL = "http://rplcare.invalid/fhir"
VERIFICATION_EXTENSION = f"{CANONICAL}/StructureDefinition/verification"
TEST_SYSTEM = f"{CANONICAL}/CodeSystem/test"
INTERVENTION_SYSTEM = f"{CANONICAL}/CodeSystem/intervention"
GUIDELINE_SYSTEM = f"{CANONICAL}/CodeSystem/guideline"
DEFINITION_SYSTEM = f"{CANONICAL}/CodeSystem/rpl-definition"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, CANONICAL)

Resource = dict[str, Any]


def stable_id(*parts: str) -> str:
    """A UUID derived from its parts: the same input gives the same resource ids, so an export
    can be diffed, and re-sent (a conditional create on the id) without creating duplicates."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def activity_url(item_id: str) -> str:
    """The knowledge export's ActivityDefinition for a work-up or care item (exported
    requests point at it with instantiatesCanonical)."""
    return f"{CANONICAL}/ActivityDefinition/{item_id}"


def plan_url(guideline: str) -> str:
    return f"{CANONICAL}/PlanDefinition/{guideline}"


def full_url(resource_id: str) -> str:
    return f"urn:uuid:{resource_id}"


def verification_extension(verification: Verification | str) -> dict[str, str]:
    return {"url": VERIFICATION_EXTENSION, "valueCode": str(verification)}


def unverified_prefix(verification: Verification | str) -> str:
    """Text shown before an unverified statement wherever a person reads it."""
    if verification == "unverified":
        return "UNVERIFIED (not confirmed in the primary source): "
    return ""


def related_artifact(kb: KnowledgeBase, citation: Citation) -> dict[str, str]:
    """A knowledge-base citation as an R4 RelatedArtifact of type `citation`."""
    ref = kb.references[citation.ref]
    text = ref.full
    if citation.locator:
        text += f" — {citation.locator}"
    if citation.note:
        text += f" ({citation.note})"
    out = {"type": "citation", "label": ref.short, "citation": text}
    if ref.url:
        out["url"] = ref.url
    return out


def bundle_entry(resource: Resource) -> dict[str, Any]:
    return {"fullUrl": full_url(resource["id"]), "resource": resource}
