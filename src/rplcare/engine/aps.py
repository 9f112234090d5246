"""Antiphospholipid syndrome under the revised Sapporo (Sydney 2006) criteria.

Laboratory: lupus anticoagulant, anticardiolipin IgG/IgM (medium/high titre or above the 99th
percentile), anti-β2GPI IgG/IgM (above the 99th percentile), each persistent on two occasions
at least the threshold interval apart. Clinical (pregnancy morbidity): a fetal death from 10
weeks, or three or more consecutive losses before 10 weeks. Numbers come from findings.yaml.
"""

from __future__ import annotations

from datetime import date, timedelta

from rplcare.domain.case import Case, Outcome, TestResult
from rplcare.domain.history import Event, History
from rplcare.engine.evidence import Findings, Status, results, shown, statement, threshold_text
from rplcare.knowledge.loader import KnowledgeBase

GROUPS: dict[str, tuple[str, ...]] = {
    "lupus anticoagulant": ("lupus_anticoagulant",),
    "anticardiolipin": ("anticardiolipin_igg", "anticardiolipin_igm"),
    "anti-β2-glycoprotein I": ("anti_b2gpi_igg", "anti_b2gpi_igm"),
}
DAYS_PER_WEEK = 7
DAYS_PER_YEAR = 365.25


def _criterion_positive(t: TestResult, kb: KnowledgeBase) -> bool:
    if t.result == "positive":
        return True  # the laboratory's own positive flag (above its 99th-percentile cut-off)
    if t.code.startswith("anticardiolipin") and t.value is not None:
        return kb.threshold("aps.acl_medium_high_titre").holds(t.value)
    return False


def _laboratory(
    case: Case, kb: KnowledgeBase, f: Findings
) -> tuple[bool, bool, list[str], date | None]:
    """Returns (persistent, any positive pending repeat, evidence, first positive date)."""
    gap = timedelta(days=kb.threshold("aps.persistence_weeks").value * DAYS_PER_WEEK)
    persistent = pending = False
    evidence: list[str] = []
    first_positive: date | None = None
    for name, codes in GROUPS.items():
        tests = sorted((t for c in codes for t in results(case, c)), key=lambda t: t.date)
        positives = [t for t in tests if _criterion_positive(t, kb)]
        if not tests:
            continue
        if not positives:
            evidence.append(f"{name}: negative ({'; '.join(shown(t) for t in tests)})")
            continue
        first = positives[0].date
        first_positive = min(first_positive or first, first)
        if positives[-1].date - first >= gap:
            persistent = True
            evidence.append(
                f"{name}: persistently positive ({shown(positives[0])}; {shown(positives[-1])})"
            )
        elif any(t.date - first >= gap and not _criterion_positive(t, kb) for t in tests):
            evidence.append(f"{name}: positive once, negative on repeat (transient)")
        else:
            pending = True
            due = first + gap
            for t in positives:
                f.repeat_due[t.code] = min(f.repeat_due.get(t.code, due), due)
            evidence.append(f"{name}: positive ({shown(positives[0])}); repeat on or after {due}")
    if persistent or pending:
        evidence.append(threshold_text(kb, "aps.persistence_weeks"))
    return persistent, pending, evidence, first_positive


def _clinical(history: History, kb: KnowledgeBase) -> tuple[list[Event], list[str]]:
    early = kb.threshold("aps.early_loss_before_weeks")
    late = kb.threshold("aps.fetal_death_from_weeks")
    needed = kb.threshold("aps.consecutive_early_losses")
    events: list[Event] = []
    evidence: list[str] = []
    fetal = [
        e
        for e in history.events
        if (
            e.pregnancy.outcome is Outcome.MISCARRIAGE and late.holds(e.pregnancy.gestational_weeks)
        )
        or e.pregnancy.outcome is Outcome.STILLBIRTH
    ]
    if fetal:
        events += fetal
        evidence.append(
            f"clinical criterion (a) possibly met: fetal death at or after 10 weeks in "
            f"{', '.join(e.describe() for e in fetal)}; fetal morphology and other explanations "
            f"are not recorded {threshold_text(kb, 'aps.fetal_death_from_weeks')}"
        )
    early_losses = {e.index for e in history.losses() if early.holds(e.pregnancy.gestational_weeks)}
    run = history.longest_consecutive_run(early_losses)
    if needed.holds(len(run)):
        events += run
        evidence.append(
            f"clinical criterion (c) met: {len(run)} consecutive losses before 10 weeks "
            f"(other causes must be excluded) {threshold_text(kb, 'aps.consecutive_early_losses')}"
        )
    elif not fetal:
        evidence.append(
            f"clinical criterion not met: longest run of consecutive losses before 10 weeks is "
            f"{len(run)} {threshold_text(kb, 'aps.consecutive_early_losses')}"
        )
    evidence.append(
        "criterion (b), preterm birth before 34 weeks for severe pre-eclampsia or placental "
        "insufficiency, cannot be assessed from the case"
    )
    return events, evidence


def interpret_aps(case: Case, history: History, kb: KnowledgeBase, f: Findings) -> None:
    persistent, pending, evidence, first_positive = _laboratory(case, kb, f)
    f.facts["aps.laboratory_criteria_met"] = persistent
    if not evidence:
        f.skip("antiphospholipid_syndrome", "no antiphospholipid antibody results")
        return
    if not (persistent or pending):
        tested = {c for codes in GROUPS.values() for c in codes if results(case, c)}
        if "lupus_anticoagulant" in tested and tested & set(GROUPS["anticardiolipin"]):
            f.add("antiphospholipid_syndrome", Status.EXCLUDED, evidence)
        else:
            f.skip(
                "antiphospholipid_syndrome",
                "incomplete panel: lupus anticoagulant and anticardiolipin both needed "
                f"({'; '.join(evidence)})",
            )
        return
    events, clinical = _clinical(history, kb)
    evidence += clinical
    status = Status.POSSIBLE
    if persistent and events:
        status = Status.CONFIRMED
        assert first_positive is not None
        last_event = max(e.pregnancy.end_date for e in events)
        years = abs((first_positive - last_event).days) / DAYS_PER_YEAR
        if kb.threshold("aps.max_years_between_event_and_test").holds(years):
            status = Status.POSSIBLE
            evidence.append(
                f"{years:.1f} years between the clinical event and the first positive test "
                f"{threshold_text(kb, 'aps.max_years_between_event_and_test')}"
            )
        else:
            evidence.append(statement(kb, "aps.sydney_rule"))
    elif persistent:
        evidence.append("laboratory criteria met without a Sydney clinical criterion")
    evidence.append(statement(kb, "aps.acr_eular_2023"))
    f.add("antiphospholipid_syndrome", status, evidence)
