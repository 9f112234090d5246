"""Antiphospholipid syndrome under the revised Sapporo (Sydney 2006) criteria.

Laboratory: lupus anticoagulant, anticardiolipin IgG or IgM (medium/high titre or above the 99th
percentile), anti-β2GPI IgG or IgM (above the 99th percentile), each antibody persistent on two
occasions at least the threshold interval apart. Clinical (pregnancy morbidity): (a) a fetal
death from 10 weeks, or (c) three or more consecutive losses before 10 weeks with anatomic,
hormonal and chromosomal causes excluded. Numbers and lists come from findings.yaml.
"""

from __future__ import annotations

from datetime import date, timedelta

from rplcare.domain.case import Case, Outcome, TestResult
from rplcare.domain.history import Event, History, LossKind
from rplcare.engine.evidence import (
    Findings,
    Status,
    results,
    shown,
    statement,
    tag,
    threshold_text,
)
from rplcare.knowledge.loader import KnowledgeBase

ANTIBODIES: dict[str, str] = {
    "lupus_anticoagulant": "lupus anticoagulant",
    "anticardiolipin_igg": "anticardiolipin IgG",
    "anticardiolipin_igm": "anticardiolipin IgM",
    "anti_b2gpi_igg": "anti-β2-glycoprotein I IgG",
    "anti_b2gpi_igm": "anti-β2-glycoprotein I IgM",
}
ACL = ("anticardiolipin_igg", "anticardiolipin_igm")
DAYS_PER_WEEK = 7
DAYS_PER_YEAR = 365.25


def _criterion_positive(t: TestResult, kb: KnowledgeBase) -> bool | None:
    """True/False for a laboratory criterion on this result; None when it cannot be read.

    An anticardiolipin value is compared with the cited medium/high titre, whatever the
    laboratory's flag says: a flag usually marks the laboratory's reference limit, which is
    not the Sydney titre. Without a value the flag is read as the >99th-percentile cut-off."""
    if t.code in ACL and t.value is not None:
        return kb.threshold("aps.acl_medium_high_titre").holds(t.value)
    if t.result is not None:
        return t.result == "positive"
    return None  # e.g. an anti-β2GPI value without a flag: the cut-off is laboratory-specific


def _low_titre_flagged(t: TestResult, kb: KnowledgeBase) -> bool:
    return t.code in ACL and t.result == "positive" and _criterion_positive(t, kb) is False


class _Lab:
    def __init__(self) -> None:
        self.persistent_codes: list[str] = []
        self.persistent = False
        self.pending = False
        self.evidence: list[str] = []
        self.positives: list[date] = []
        self.negative_codes: set[str] = set()


def _laboratory(case: Case, kb: KnowledgeBase, f: Findings) -> _Lab:
    gap = timedelta(days=kb.threshold("aps.persistence_weeks").value * DAYS_PER_WEEK)
    lab = _Lab()
    for code, name in ANTIBODIES.items():
        tests = results(case, code)
        if not tests:
            continue
        read = [(t, _criterion_positive(t, kb)) for t in tests]
        positives = [t for t, pos in read if pos]
        unreadable = [t for t, pos in read if pos is None]
        if unreadable:
            lab.evidence.append(
                f"{name}: {'; '.join(map(shown, unreadable))} has no laboratory flag and no cited "
                "cut-off, so it is not interpreted"
            )
        low = [t for t in tests if _low_titre_flagged(t, kb)]
        if low:
            lab.evidence.append(
                f"{name}: low titre ({'; '.join(map(shown, low))}): flagged positive by the "
                "laboratory but not above the Sydney medium/high titre "
                f"{threshold_text(kb, 'aps.acl_medium_high_titre')}"
            )
        if not positives:
            if len(unreadable) < len(tests):
                lab.negative_codes.add(code)
                negatives = [t for t, pos in read if pos is False and t not in low]
                if negatives:
                    lab.evidence.append(f"{name}: negative ({'; '.join(map(shown, negatives))})")
            continue
        first = positives[0].date
        lab.positives += [t.date for t in positives]
        if positives[-1].date - first >= gap:
            lab.persistent = True
            lab.persistent_codes.append(code)
            lab.evidence.append(
                f"{name}: persistently positive ({shown(positives[0])}; {shown(positives[-1])})"
            )
        elif any(t.date - first >= gap and pos is False for t, pos in read):
            lab.evidence.append(f"{name}: positive once, negative on repeat (transient)")
            lab.negative_codes.add(code)
        else:
            lab.pending = True
            due = first + gap
            for t in positives:
                f.repeat_due[t.code] = min(f.repeat_due.get(t.code, due), due)
            lab.evidence.append(
                f"{name}: positive ({'; '.join(map(shown, positives))}), not yet "
                f"{gap.days // DAYS_PER_WEEK} weeks apart; repeat on or after {due}"
            )
    if lab.persistent or lab.pending:
        lab.evidence.append(threshold_text(kb, "aps.persistence_weeks"))
    return lab


def _abnormal_tissue(case: Case, kb: KnowledgeBase) -> set[int]:
    """Pregnancies whose tissue showed a chromosomal abnormality (another explanation)."""
    abnormal = kb.vocabulary.tests["poc_karyotype"].abnormal
    return {
        t.pregnancy
        for t in case.tests
        if t.code == "poc_karyotype" and t.pregnancy is not None and t.result in abnormal
    }


def fetal_deaths(history: History, kb: KnowledgeBase) -> list[Event]:
    """Miscarriages at or after the criterion (a) gestation, and stillbirths: the events that
    can meet Sydney clinical criterion (a). A placeholder gestation never decides it."""
    late = kb.threshold("aps.fetal_death_from_weeks")
    return [
        e
        for e in history.events
        if not e.pregnancy.gestational_weeks_assumed
        and (
            (
                e.pregnancy.outcome is Outcome.MISCARRIAGE
                and late.holds(e.pregnancy.gestational_weeks)
            )
            or e.pregnancy.outcome is Outcome.STILLBIRTH
        )
    ]


def _clinical(
    case: Case, history: History, kb: KnowledgeBase, f: Findings
) -> tuple[list[Event], list[str]]:
    early = kb.threshold("aps.early_loss_before_weeks")
    late = kb.threshold("aps.fetal_death_from_weeks")
    needed = kb.threshold("aps.consecutive_early_losses")
    explained = _abnormal_tissue(case, kb)
    events: list[Event] = []
    evidence: list[str] = []
    # A placeholder gestation must not decide a criterion that is defined by gestation.
    unknown = [e for e in history.losses() if e.pregnancy.gestational_weeks_assumed]
    if unknown:
        evidence.append(
            "gestation at loss not recorded for "
            f"{', '.join(e.describe() for e in unknown)}: left out of the clinical criteria "
            f"that depend on gestation ({late.value:g} and {early.value:g} weeks)"
        )
    fetal = [e for e in fetal_deaths(history, kb) if e.index not in explained]
    if fetal:
        events += fetal
        evidence.append(
            f"clinical criterion (a) met: fetal death at or after {late.value:g} weeks in "
            f"{', '.join(e.describe() for e in fetal)}; the criterion needs a morphologically "
            f"normal fetus and no other explanation, which the case does not record "
            f"{threshold_text(kb, 'aps.fetal_death_from_weeks')}"
        )
    early_losses = {
        e.index
        for e in history.losses()
        if early.holds(e.pregnancy.gestational_weeks) and not e.pregnancy.gestational_weeks_assumed
    }
    run = history.longest_consecutive_run(early_losses)
    if needed.holds(len(run)):
        biochemical = sum(e.loss_kind is LossKind.BIOCHEMICAL for e in run)
        counted = f"{len(run)} consecutive losses before {early.value:g} weeks"
        if biochemical:
            counted += f" ({biochemical} biochemical, counted as pre-embryonic losses)"
        rule = kb.aps_criterion_c_requires_excluded
        found = [
            c.category
            for c in f.causes
            if c.category in rule.causes and c.status is not Status.EXCLUDED
        ]
        if found:
            evidence.append(
                f"clinical criterion (c) not established: {counted}, but other causes are not "
                f"excluded ({', '.join(found)}) {tag(kb, rule.citation, rule.verification)}"
            )
        else:
            events += run
            untested = [n.category for n in f.not_assessed if n.category in rule.causes]
            caveat = (
                f"; not yet excluded because not tested: {', '.join(untested)}" if untested else ""
            )
            evidence.append(
                f"clinical criterion (c) met: {counted}{caveat} "
                f"{threshold_text(kb, 'aps.consecutive_early_losses')}"
            )
    elif not fetal:
        evidence.append(
            f"clinical criterion not met: longest run of consecutive losses before "
            f"{early.value:g} weeks is "
            f"{len(run)} {threshold_text(kb, 'aps.consecutive_early_losses')}"
        )
    evidence.append(statement(kb, "aps.criterion_b_not_assessed"))
    return events, evidence


def _timing_problem(lab: _Lab, events: list[Event], kb: KnowledgeBase) -> str | None:
    """Sydney: avoid classifying if under 12 weeks or over 5 years separate test and event."""
    last_event = max(e.pregnancy.end_date for e in events)
    years = abs((min(lab.positives) - last_event).days) / DAYS_PER_YEAR
    if kb.threshold("aps.max_years_between_event_and_test").holds(years):
        return (
            f"{years:.1f} years between the clinical event and the first positive test "
            f"{threshold_text(kb, 'aps.max_years_between_event_and_test')}"
        )
    weeks = abs((max(lab.positives) - last_event).days) / DAYS_PER_WEEK
    if kb.threshold("aps.min_weeks_between_event_and_test").holds(weeks):
        return (
            f"the latest positive test is only {weeks:.0f} weeks from the clinical event "
            f"{threshold_text(kb, 'aps.min_weeks_between_event_and_test')}"
        )
    return None


_GROUPS = {
    "lupus_anticoagulant": "lupus anticoagulant",
    "anticardiolipin_igg": "anticardiolipin",
    "anticardiolipin_igm": "anticardiolipin",
    "anti_b2gpi_igg": "anti-β2-glycoprotein I",
    "anti_b2gpi_igm": "anti-β2-glycoprotein I",
}


def _persistent_groups(lab: _Lab) -> list[str]:
    return sorted({_GROUPS[c] for c in lab.persistent_codes})


def _high_risk(lab: _Lab) -> bool:
    """EULAR 2019: multiple aPL positivity or lupus anticoagulant (persistently high titres
    are the third criterion; no cited number defines 'high', so it is not computed)."""
    groups = _persistent_groups(lab)
    return len(groups) > 1 or "lupus anticoagulant" in groups


def _profile_text(lab: _Lab, kb: KnowledgeBase) -> str | None:
    groups = _persistent_groups(lab)
    if not _high_risk(lab):
        return None
    kind = {3: "triple positive", 2: "double positive"}.get(len(groups), "single positive")
    return (
        f"high-risk antiphospholipid profile ({kind}: {', '.join(groups)}) "
        f"{statement(kb, 'aps.high_risk_profile')}"
    )


def interpret_aps(case: Case, history: History, kb: KnowledgeBase, f: Findings) -> None:
    lab = _laboratory(case, kb, f)
    f.facts["aps.laboratory_criteria_met"] = lab.persistent
    f.facts["aps.high_risk_profile"] = _high_risk(lab)
    evidence = lab.evidence
    profile = _profile_text(lab, kb)
    if profile:
        evidence.append(profile)
    if not evidence:
        f.skip("antiphospholipid_syndrome", "no antiphospholipid antibody results")
        return
    if not (lab.persistent or lab.pending):
        if "lupus_anticoagulant" in lab.negative_codes and lab.negative_codes & set(ACL):
            f.add("antiphospholipid_syndrome", Status.EXCLUDED, evidence)
        else:
            f.skip(
                "antiphospholipid_syndrome",
                "incomplete panel: lupus anticoagulant and anticardiolipin both needed "
                f"({'; '.join(evidence)})",
            )
        return
    events, clinical = _clinical(case, history, kb, f)
    evidence += clinical
    status = Status.POSSIBLE
    if lab.persistent and events:
        problem = _timing_problem(lab, events, kb)
        if problem:
            evidence.append(problem)
        else:
            status = Status.CONFIRMED
            evidence.append(statement(kb, "aps.sydney_rule"))
    elif lab.persistent:
        evidence.append("laboratory criteria met without an established Sydney clinical criterion")
    evidence.append(statement(kb, "aps.acr_eular_2023"))
    f.add("antiphospholipid_syndrome", status, evidence)
