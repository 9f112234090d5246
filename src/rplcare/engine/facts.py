"""The facts a knowledge item's condition is evaluated against (names: knowledge/facts.py)."""

from __future__ import annotations

from rplcare.domain.case import Case, Outcome
from rplcare.domain.history import History, LossKind
from rplcare.engine.aps import fetal_deaths
from rplcare.engine.conditions import Facts
from rplcare.engine.definitions import Classification, Evaluation
from rplcare.engine.evidence import Findings
from rplcare.knowledge.loader import KnowledgeBase

DAYS_PER_WEEK = 7


def overall_evaluation(classifications: dict[str, Classification]) -> Evaluation:
    """For guidelines without an RPL definition of their own (NICE, Lancet, ATA, ...)."""
    levels = {c.evaluation for c in classifications.values()}
    for level in (Evaluation.INDICATED, Evaluation.DISCRETIONARY):
        if level in levels:
            return level
    return Evaluation.NOT_INDICATED


def base_facts(
    case: Case, history: History, findings: Findings, kb: KnowledgeBase
) -> dict[str, object]:
    conventions = kb.history
    cp = case.current_pregnancy
    weeks = cp.gestational_age_days / DAYS_PER_WEEK if cp else None
    facts: dict[str, object] = {
        "losses_total": history.losses_total,
        "losses_clinical": history.losses_clinical,
        "losses_biochemical": history.losses_biochemical,
        "losses_first_trimester": history.losses_first_trimester,
        "losses_second_trimester": history.losses_second_trimester,
        "live_births": history.live_births,
        "stillbirths": history.count(Outcome.STILLBIRTH),
        "ectopic_pregnancies": history.count(Outcome.ECTOPIC),
        "molar_pregnancies": history.count(Outcome.MOLAR),
        "aps.clinical_criterion_a_event": bool(fetal_deaths(history, kb)),
        "patient.pcos": case.patient.pcos,
        "loss_max_weeks": max(
            (
                e.pregnancy.gestational_weeks
                for e in history.events
                if (e.loss_kind is not None or e.pregnancy.outcome is Outcome.STILLBIRTH)
                and e.loss_kind is not LossKind.BIOCHEMICAL
                and not e.pregnancy.gestational_weeks_assumed
            ),
            default=None,
        ),
        "consecutive_losses": history.consecutive_losses,
        "current.pregnant": cp is not None,
        "current.bleeding": cp.bleeding if cp else None,
        "current.heartbeat": cp.heartbeat_seen if cp else None,
        "current.gestational_weeks": weeks,
        "current.first_trimester": (
            None if weeks is None else not conventions.second_trimester_from_weeks.holds(weeks)
        ),
        # A seen heartbeat places the pregnancy in the uterus for NICE's purposes.
        "current.intrauterine": (cp.intrauterine_confirmed or cp.heartbeat_seen) if cp else None,
    }
    facts.update(findings.facts)
    return facts


def guideline_facts(
    base: dict[str, object],
    guideline: str,
    classifications: dict[str, Classification],
    history: History,
) -> Facts:
    c = classifications.get(guideline)
    facts = dict(base)
    if c is None:
        facts.update(
            losses_counted=history.losses_total,
            definition_met=None,
            evaluation=overall_evaluation(classifications).value,
            rpl_kind=None,
        )
    else:
        facts.update(
            losses_counted=c.losses_counted,
            definition_met=c.meets,
            evaluation=c.evaluation.value,
            rpl_kind=c.kind,
        )
    return facts  # type: ignore[return-value]
