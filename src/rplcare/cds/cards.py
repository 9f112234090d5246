"""Cards for `patient-view`: RPL status per guideline, the work-up still to do, and the risk for
the next pregnancy. Pure: an assessment in, cards out.

Cards are shown to busy clinicians, so there are at most three, and none unless at least one
guideline's evaluation threshold is reached (spec advice: `{"cards": []}` when nothing applies).
Everything a card says comes from the assessment, with its guideline, citation and, where the
knowledge base has it so, the UNVERIFIED mark.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from rplcare.cds.models import SUMMARY_MAX, Card, Coding, Link, Source, Suggestion
from rplcare.engine.assessment import Assessment, WorkupOut
from rplcare.fhir.common import CANONICAL
from rplcare.fhir.exporter import tests_advised_now

TOPIC_SYSTEM = f"{CANONICAL}/CodeSystem/cds-card-topic"
SOURCE_LABEL = "rplcare: guideline support for recurrent pregnancy loss"
DAGGER = "†"
UNVERIFIED_NOTE = (
    f"{DAGGER} UNVERIFIED: guideline content confirmed neither in the guideline's own text nor "
    "in a named secondary source."
)
_SHORT = {
    "eshre-2022": "ESHRE",
    "rcog-2023": "RCOG",
    "asrm-2012": "ASRM",
    "nvog": "NVOG",
    "ngf-2024": "NGF",
}


def card_uuid(hook_instance: str, name: str) -> str:
    """Stable per call and card, so feedback can name the card."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{CANONICAL}/cds/{hook_instance}/{name}"))


def source(base_url: str, topic: str, display: str) -> Source:
    return Source(
        label=SOURCE_LABEL,
        url=f"{base_url}/",
        topic=Coding(system=TOPIC_SYSTEM, code=topic, display=display),
    )


def pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def fit_summary(text: str) -> str:
    """Shortened, if need be, to the specification's limit for card.summary."""
    return text if len(text) < SUMMARY_MAX else text[: SUMMARY_MAX - 2] + "…"


def unverified_mark(verification: str) -> str:
    return f" {DAGGER}" if verification == "unverified" else ""


def applies(a: Assessment) -> bool:
    return any(d.evaluation != "not_indicated" for d in a.definitions.values())


def status_card(a: Assessment, hook_instance: str, base_url: str) -> Card:
    met = [g for g, d in a.definitions.items() if d.meets]
    verdicts = " · ".join(
        f"{_SHORT.get(g, g)} {'yes' if d.meets else 'no'}" for g, d in a.definitions.items()
    )
    summary = f"Recurrent pregnancy loss ({a.history.losses_total} losses): {verdicts}"
    rows = [
        "| Guideline | Meets | Losses counted | Kind | Why |",
        "|---|---|---|---|---|",
    ]
    for gid, d in a.definitions.items():
        why = next(
            (r for r in reversed(d.reasons) if r.startswith(("meets", "in scope", "does not"))), ""
        )
        rows.append(
            f"| {gid}{unverified_mark(d.verification)} | {'yes' if d.meets else 'no'} | "
            f"{d.losses_counted} | {d.kind or '–'} | {why or d.evaluation} ({d.citation}) |"
        )
    detail = [
        f"{len(met)} of {len(a.definitions)} definitions met; the guidelines disagree on what "
        "counts, so each is shown.",
        "",
        *rows,
        "",
        _history_line(a),
        *_footer(a),
    ]
    return _info(hook_instance, base_url, "rpl-status", "RPL status by guideline", summary,
                 detail, links=[_risk_link(a, base_url)])  # fmt: skip


def workup_card(
    a: Assessment, hook_instance: str, base_url: str, orders: dict[str, dict[str, Any]]
) -> Card | None:
    """Tests a guideline advises that are not yet done; one draft order suggestion each."""
    by_test: dict[str, list[WorkupOut]] = defaultdict(list)
    for w in a.workup:
        by_test[w.test].append(w)
    # The same selection as the exported ServiceRequests; the card lists every position.
    due = {test: by_test[test] for test in tests_advised_now(a.workup)}
    if not due:
        return None
    labels = [items[0].test_label for items in due.values()]
    summary = f"RPL work-up: {len(due)} tests advised and not yet done ({', '.join(labels)})"
    lines = []
    for items in due.values():
        positions = "; ".join(
            f"{w.guideline} {w.recommendation.replace('_', ' ')}{unverified_mark(w.verification)}"
            f" ({w.citation})"
            for w in items
        )
        due_date = min((w.due_date for w in items if w.due_date), default=None)
        when = f", due {due_date}" if due_date else ""
        lines.append(f"- **{items[0].test_label}**{when}: {positions}")
    suggestions = [
        Suggestion(
            label=f"Order {due[test][0].test_label} (draft)",
            uuid=card_uuid(hook_instance, f"order-{test}"),
            actions=[
                {
                    "type": "create",
                    "description": f"Create a draft order for {due[test][0].test_label}",
                    "resource": orders[test],
                }
            ],
        )
        for test in due
        if test in orders
    ]
    return _info(hook_instance, base_url, "rpl-workup", "RPL work-up", summary,
                 [*lines, "", *_footer(a)], suggestions=suggestions,
                 selectionBehavior="any" if suggestions else None)  # fmt: skip


def risk_card(a: Assessment, hook_instance: str, base_url: str) -> Card:
    nxt = a.prognosis.next_pregnancy
    risk = nxt.miscarriage_risk
    live = nxt.live_birth_chance.estimate
    if risk.estimate is None or risk.interval is None or live is None:
        # Outside the model's data the prognosis module gives no number, only the reason.
        return Card(
            uuid=card_uuid(hook_instance, "rpl-risk"),
            summary=fit_summary(f"Next-pregnancy risk not estimated: {risk.reason}"),
            indicator="info",
            source=source(base_url, "rpl-risk", "Risk in the next pregnancy"),
        )
    lo, hi = risk.interval
    summary = (
        f"Next pregnancy: miscarriage risk {pct(risk.estimate)} "
        f"(interval {pct(lo)}–{pct(hi)}), live birth {pct(live)}"
    )
    detail = [
        f"Estimated by the rplcare prognosis model {a.prognosis.model_version} "
        f"({nxt.setting} setting: {nxt.setting_reason}).",
        f"Interval: {a.prognosis.interval_method}.",
        "",
        "What moved the estimate: " + ("; ".join(nxt.drivers) or "nothing beyond age"),
        "",
        *(
            ["**Not taken into account:** " + "; ".join(nxt.not_covered) + ".", ""]
            if nxt.not_covered
            else []
        ),
        "Limits: " + " ".join(a.prognosis.limits),
        *_footer(a),
    ]
    return _info(hook_instance, base_url, "rpl-risk", "Risk in the next pregnancy", summary,
                 detail, links=[_risk_link(a, base_url)])  # fmt: skip


def _info(
    hook_instance: str,
    base_url: str,
    topic: str,
    topic_display: str,
    summary: str,
    detail: list[str],
    **more: Any,
) -> Card:
    return Card(
        uuid=card_uuid(hook_instance, topic),
        summary=fit_summary(summary),
        detail="\n".join(detail),
        indicator="info",
        source=source(base_url, topic, topic_display),
        **more,
    )


def _history_line(a: Assessment) -> str:
    h = a.history
    return (
        f"History: {h.pregnancies} pregnancies, {h.losses_total} losses "
        f"({h.losses_first_trimester} first-trimester, {h.losses_second_trimester} "
        f"second-trimester, {h.losses_biochemical} biochemical), {h.live_births} live births, "
        f"{h.consecutive_losses} consecutive losses up to now."
    )


def _footer(a: Assessment) -> list[str]:
    lines = [""]
    if a.unverified_items or any(d.verification == "unverified" for d in a.definitions.values()):
        lines.append(UNVERIFIED_NOTE)
    lines += [
        f"Knowledge base {a.knowledge_version}, as of {a.as_of}. {a.disclaimer}",
    ]
    return lines


def _risk_link(a: Assessment, base_url: str) -> Link:
    """The public risk page, filled in with this history (the page stores nothing)."""
    query = {
        "age": a.patient.age,
        "losses": a.history.losses_total,
        "live_births": a.history.live_births,
    }
    return Link(
        label="Open in rplcare (risk page, nothing stored)",
        url=f"{base_url}/risk?{urlencode(query)}",
        type="absolute",
    )


def patient_view_cards(
    a: Assessment,
    hook_instance: str,
    base_url: str,
    orders: dict[str, dict[str, Any]],
) -> list[Card]:
    if not applies(a):
        return []
    cards = [status_card(a, hook_instance, base_url)]
    workup = workup_card(a, hook_instance, base_url, orders)
    if workup is not None:
        cards.append(workup)
    cards.append(risk_card(a, hook_instance, base_url))
    return cards
