"""`order-select`: recognise RPL tests in the newly selected draft orders, and warn when the
guidelines advise against them for this woman (NK cells, routine hereditary thrombophilia, ...).

Orders are recognised by LOINC code (terminology table), by rplcare's own test code, and, for
tests without a checked code, by words in the order's text (terminology `order_text`); the
card says which rule matched, so a wrong match is visible.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from rplcare.cds.cards import UNVERIFIED_NOTE, card_uuid, fit_summary, source, unverified_mark
from rplcare.cds.models import Card, Coding, Suggestion
from rplcare.engine.assessment import Assessment, WorkupOut
from rplcare.fhir import reading
from rplcare.fhir.common import CANONICAL, TEST_SYSTEM
from rplcare.fhir.terminology import Terminology

OVERRIDE_SYSTEM = f"{CANONICAL}/CodeSystem/cds-override-reason"
OVERRIDE_REASONS = [
    Coding(system=OVERRIDE_SYSTEM, code=code, display=display)
    for code, display in (
        ("other-indication", "Ordered for another indication"),
        ("research", "Part of a research protocol"),
        ("informed-request", "Requested after counselling"),
    )
]


@dataclass(frozen=True)
class Match:
    order_ref: str  # e.g. "ServiceRequest/123"
    order_label: str
    tests: tuple[str, ...]
    how: str  # which rule recognised it


def selected_orders(context: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(reference, resource) of each newly selected order found in `draftOrders`."""
    selections = context.get("selections")
    draft = context.get("draftOrders")
    if not isinstance(selections, list) or not isinstance(draft, dict):
        return []
    wanted = {s for s in selections if isinstance(s, str)}
    found = []
    for entry in draft.get("entry") or []:
        r = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(r, dict):
            ref = f"{r.get('resourceType')}/{r.get('id')}"
            if ref in wanted:
                found.append((ref, r))
    return found


def recognise(term: Terminology, ref: str, order: dict[str, Any]) -> Match | None:
    if order.get("resourceType") != "ServiceRequest":
        return None
    concept = order.get("code")
    label = reading.label(concept)
    loinc = term.url("loinc")
    for system, code, _ in reading.codings(concept):
        if system == loinc and (test := term.test_for_loinc(code)):
            return Match(ref, label, (test,), f"LOINC {code}")
        if system == TEST_SYSTEM:
            return Match(ref, label, (code,), f"rplcare code {code}")
    words = " ".join([label, *(d for _, _, d in reading.codings(concept))])
    for name, panel in term.order_panels.items():
        if any(re.search(p, words, re.IGNORECASE) for p in panel.patterns):
            return Match(ref, label, tuple(panel.tests), f"order text ({name})")
    for test, patterns in term.order_text.items():
        if any(re.search(p, words, re.IGNORECASE) for p in patterns):
            return Match(ref, label, (test,), "order text")
    return None


def advised_against(a: Assessment, tests: tuple[str, ...]) -> list[WorkupOut]:
    """The positions on these tests, when no guideline advises doing them for this woman."""
    items = [w for w in a.workup if w.test in tests]
    if not items or any(w.recommendation != "not_recommended" for w in items):
        return []
    return items


def order_cards(
    a: Assessment, matches: list[Match], hook_instance: str, base_url: str
) -> list[Card]:
    cards = []
    for m in matches:
        items = advised_against(a, m.tests)
        if not items:
            continue
        per_test: dict[str, list[WorkupOut]] = defaultdict(list)
        for w in items:
            per_test[w.test_label].append(w)
        guidelines = sorted({w.guideline for w in items})
        subject = m.order_label if len(per_test) > 1 else next(iter(per_test))
        summary = f"{subject}: not recommended for RPL ({', '.join(guidelines)})"
        lines = [f"The selected order *{m.order_label}* was recognised by {m.how}."]
        for label, ws in per_test.items():
            lines.append(f"\n**{label}**")
            lines += [
                f"- {w.guideline}: {w.statement}{unverified_mark(w.verification)} "
                f"({w.strength}; {w.citation})"
                for w in ws
            ]
        lines.append("")
        if any(w.verification == "unverified" for w in items):
            lines.append(UNVERIFIED_NOTE)
        lines.append(a.disclaimer)
        cards.append(
            Card(
                uuid=card_uuid(hook_instance, f"advise-against-{m.order_ref}"),
                summary=fit_summary(summary),
                detail="\n".join(lines),
                indicator="warning",
                source=source(base_url, "rpl-order-advice", "RPL test not recommended"),
                suggestions=[
                    Suggestion(
                        label=f"Remove the order for {m.order_label}",
                        uuid=card_uuid(hook_instance, f"remove-{m.order_ref}"),
                        isRecommended=True,
                        actions=[
                            {
                                "type": "delete",
                                "description": f"Remove the draft order {m.order_label}",
                                "resourceId": m.order_ref,
                            }
                        ],
                    )
                ],
                selectionBehavior="at-most-one",
                overrideReasons=OVERRIDE_REASONS,
            )
        )
    return cards
