"""assess(case) -> Assessment: classification, work-up, interpretation and care plan."""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Literal

from rplcare.domain.case import Case, Outcome
from rplcare.domain.history import History, age_at, derive_history, person_age
from rplcare.engine.assessment import (
    ASSESSMENT_SCHEMA,
    DISCLAIMER,
    Assessment,
    CareOut,
    CauseOut,
    CitationOut,
    CumulativeOut,
    CurrentPregnancyOut,
    DefinitionOut,
    DisagreementOut,
    EligibilityOut,
    HistoryOut,
    NextPregnancyOut,
    NotAssessedOut,
    PatientOut,
    Position,
    ProfileOut,
    PrognosisOut,
    RiskFactorOut,
    RiskOut,
    WorkupOut,
    YearOut,
)
from rplcare.engine.definitions import Classification, Evaluation, classify
from rplcare.engine.evidence import Findings, Status
from rplcare.engine.facts import base_facts, guideline_facts
from rplcare.engine.interpretation import interpret
from rplcare.engine.planning import CareEntry, WorkupEntry, plan_care, plan_workup
from rplcare.engine.profile import evaluate_rule
from rplcare.knowledge.loader import KnowledgeBase, load_knowledge
from rplcare.knowledge.profile import Profile
from rplcare.knowledge.schema import Citation, Reference, Verification
from rplcare.prognosis import predict
from rplcare.prognosis.cumulative import cumulative_live_birth, describe
from rplcare.prognosis.model import Estimate, load_parameters

VERSION = "0.1.0"


def _citation(kb: KnowledgeBase, c: Citation) -> CitationOut:
    return _rendered(c, kb.references[c.ref])


@lru_cache(maxsize=4096)
def _rendered(c: Citation, ref: Reference) -> CitationOut:
    # Citations and references are immutable: each rendering is built once (hot path).
    return CitationOut.model_construct(
        ref=c.ref, short=ref.short, full=ref.full, url=ref.url, locator=c.locator, note=c.note
    )


def _history_out(case: Case, h: History) -> HistoryOut:
    return HistoryOut(
        pregnancies=len(h.events),
        losses_total=h.losses_total,
        losses_clinical=h.losses_clinical,
        losses_biochemical=h.losses_biochemical,
        losses_first_trimester=h.losses_first_trimester,
        losses_second_trimester=h.losses_second_trimester,
        live_births=h.live_births,
        stillbirths=h.count(Outcome.STILLBIRTH),
        ectopic=h.count(Outcome.ECTOPIC),
        molar=h.count(Outcome.MOLAR),
        terminations=h.count(Outcome.TERMINATION),
        consecutive_losses=h.consecutive_losses,
        losses_since_last_birth=h.losses_since_last_birth,
    )


#: Output rows depend only on the (immutable) knowledge item and, for the work-up, on its
#: position, status, due date and note in this case: each is built once and then shared (the
#: models are frozen). Keyed by the item's identity, kept alive beside the row.
_ROWS: dict[tuple[object, ...], tuple[object, WorkupOut | CareOut | DisagreementOut]] = {}
_ROWS_MAX = 20_000


def _remember(
    key: tuple[object, ...], item: object, row: WorkupOut | CareOut | DisagreementOut
) -> None:
    if len(_ROWS) >= _ROWS_MAX:
        _ROWS.clear()
    _ROWS[key] = (item, row)


def _workup_out(kb: KnowledgeBase, e: WorkupEntry) -> WorkupOut:
    i = e.item
    key = (id(kb), id(i), e.recommendation, e.status, e.due_date, e.note)
    hit = _ROWS.get(key)
    if hit is not None and hit[0] is i and isinstance(hit[1], WorkupOut):
        return hit[1]
    # Built from validated knowledge items: construct without re-validating (hot path).
    row = WorkupOut.model_construct(
        id=i.id,
        test=i.test,
        test_label=kb.vocabulary.tests[i.test].label,
        guideline=i.guideline,
        recommendation=e.recommendation.value,
        published_recommendation=i.recommendation.value,
        strength=i.strength,
        evidence_quality=i.evidence_quality,
        statement=i.statement,
        only_in_research=i.only_in_research,
        status=e.status,
        due_date=e.due_date,
        note=e.note,
        citation=kb.cite(i.citation),
        citation_detail=_citation(kb, i.citation),
        verification=i.verification.value,
    )
    _remember(key, i, row)
    return row


def _care_out(kb: KnowledgeBase, e: CareEntry) -> CareOut:
    i = e.item
    key = (id(kb), id(i))
    hit = _ROWS.get(key)
    if hit is not None and hit[0] is i and isinstance(hit[1], CareOut):
        return hit[1]
    row = CareOut.model_construct(
        id=i.id,
        intervention=i.intervention,
        intervention_label=kb.vocabulary.interventions[i.intervention],
        guideline=i.guideline,
        recommendation=i.recommendation.value,
        strength=i.strength,
        evidence_quality=i.evidence_quality,
        statement=i.statement,
        only_in_research=i.only_in_research,
        note=i.note,
        citation=kb.cite(i.citation),
        citation_detail=_citation(kb, i.citation),
        verification=i.verification.value,
    )
    _remember(key, i, row)
    return row


TopicKind = Literal["test", "intervention"]


def _disagreements(
    workup: list[WorkupOut], care: list[CareOut], kb: KnowledgeBase
) -> list[DisagreementOut]:
    out: list[DisagreementOut] = []
    # The published position: a guideline whose definition is not met (evaluation at
    # discretion) does not disagree about the test itself.
    grouped: dict[tuple[TopicKind, str], list[tuple[str, str, str]]] = defaultdict(list)
    for w in workup:
        grouped[("test", w.test)].append((w.guideline, w.published_recommendation, w.id))
    for c in care:
        grouped[("intervention", c.intervention)].append((c.guideline, c.recommendation, c.id))
    for (kind, topic), positions in grouped.items():
        if len({rec for _, rec, _ in positions}) > 1:
            label = (
                kb.vocabulary.tests[topic].label
                if kind == "test"
                else kb.vocabulary.interventions[topic]
            )
            out.append(_disagreement(kb, kind, topic, label, positions))
    return out


def _disagreement(
    kb: KnowledgeBase,
    kind: TopicKind,
    topic: str,
    label: str,
    positions: list[tuple[str, str, str]],
) -> DisagreementOut:
    key = (id(kb), "disagreement", kind, topic, *positions)
    hit = _ROWS.get(key)
    if hit is not None and hit[0] is kb and isinstance(hit[1], DisagreementOut):
        return hit[1]
    # Built from validated rows: no re-validation on the hot path; shared like the rows.
    row = DisagreementOut.model_construct(
        topic=label,
        kind=kind,
        positions=[
            Position.model_construct(guideline=g, recommendation=r, id=i) for g, r, i in positions
        ],
    )
    _remember(key, kb, row)
    return row


def _risk(e: Estimate) -> RiskOut:
    return RiskOut.model_validate(e.as_dict())


def history_sequence(history: History) -> str:
    """Losses (L) and live births (B) oldest first; other outcomes carry no miscarriage
    information in the model. A stillbirth is not a birth that renews the risk: it is passed
    over, and `not_covered` says the model does not cover it."""
    out = ""
    for e in history.events:
        if e.loss_kind is not None:
            out += "L"
        elif e.pregnancy.outcome is Outcome.LIVE_BIRTH:
            out += "B"
    return out


#: Causes whose confirmation the model cannot reflect (it is fitted to couples without a
#: known cause, and includes no treatment effect).
_CAUSES_NOT_MODELLED = (
    "antiphospholipid_syndrome",
    "overt_hypothyroidism",
    "subclinical_hypothyroidism",
    "congenital_uterine_anomaly",
    "acquired_uterine_lesion",
    "parental_chromosomal_rearrangement",
    "hyperprolactinaemia",
    "diabetes",
)


def not_covered(history: History, findings: Findings, kb: KnowledgeBase) -> list[str]:
    """What the next-pregnancy figure does not take into account for this couple."""
    out = [
        f"{kb.vocabulary.causes[c.category]} is confirmed: the model is fitted to couples "
        "without a known cause and includes no effect of its treatment"
        for c in findings.causes
        if c.category in _CAUSES_NOT_MODELLED and c.status is Status.CONFIRMED
    ]
    if history.losses_second_trimester:
        out.append(
            "a second-trimester loss: the model is fitted to first-trimester miscarriage and does "
            "not estimate the risk of another mid-trimester loss or of preterm birth"
        )
    if history.count(Outcome.STILLBIRTH):
        out.append(
            "a previous stillbirth: the model does not cover it (it is not counted as a birth "
            "that lowers the risk)"
        )
    return out


def _prognosis(
    case: Case,
    history: History,
    classifications: dict[str, Classification],
    missing: list[str],
) -> PrognosisOut:
    age = age_at(case)
    met = [gid for gid, c in classifications.items() if c.meets]
    setting: predict.Setting = "clinic" if met else "population"
    reason = (
        f"clinic: RPL definition met ({', '.join(met)})"
        if met
        else "population: no RPL definition is met"
    )
    life = case.lifestyle
    sequence = history_sequence(history)
    bmi, smoker, pcos = (
        life.bmi if life else None,
        bool(life and life.smoker),
        bool(case.patient.pcos),
    )
    nxt = predict.next_pregnancy(age, sequence, setting, bmi=bmi, smoker=smoker, pcos=pcos)
    current = None
    cp = case.current_pregnancy
    if cp is not None:
        c = predict.current_pregnancy(
            cp.gestational_age_days, cp.heartbeat_seen, history.losses_total, age
        )
        current = CurrentPregnancyOut(
            gestational_age_days=cp.gestational_age_days,
            heartbeat_seen=cp.heartbeat_seen,
            previous_losses=history.losses_total,
            loss_risk_to_12_weeks=_risk(c.loss_to_12_weeks),
            loss_risk_to_20_weeks=_risk(c.loss_to_20_weeks),
            # about a hundred {day, risk} points: pydantic-core builds them far faster from
            # the dicts than Python does one model at a time
            curve_to_20_weeks=c.curve,
            drivers=list(c.drivers),
            not_covered=[
                *missing,
                *(["bleeding in this pregnancy: not in the model"] if cp.bleeding else []),
            ],
        )
    years = cumulative_live_birth(
        age, sequence, setting, bmi=bmi, smoker=smoker, pcos=pcos,
        first=nxt.miscarriage_risk,  # computed just above: not again
    )  # fmt: skip
    cumulative = CumulativeOut(
        **describe(setting),
        years=[YearOut.model_validate(y.as_dict()) for y in years],
    )
    params = load_parameters()
    return PrognosisOut(
        model_version=params["next_pregnancy"]["model_version"],
        next_pregnancy=NextPregnancyOut(
            setting=setting,
            setting_reason=reason,
            miscarriage_risk=_risk(nxt.miscarriage_risk),
            live_birth_chance=_risk(nxt.live_birth_chance),
            drivers=list(nxt.drivers),
            not_covered=missing,
        ),
        current_pregnancy=current,
        cumulative_live_birth=cumulative,
        interval_method=predict.INTERVAL_METHOD,
        limits=predict.limits(),
    )


def _profile_out(kb: KnowledgeBase, profile: Profile, case: Case, history: History) -> ProfileOut:
    return ProfileOut(
        id=profile.id,
        name=profile.name,
        primary=profile.primary,
        guidelines=list(profile.guidelines),
        clinic_name=profile.clinic.name,
        clinic_contact=profile.clinic.contact,
        eligibility=[
            EligibilityOut(
                id=r.rule.id,
                description=r.rule.description,
                met=r.met,
                reasons=list(r.reasons),
                citation=kb.cite(r.rule.citation),
                verification=r.rule.verification.value,
            )
            for r in (evaluate_rule(rule, case, history) for rule in profile.eligibility)
        ],
        miscarriage_limit_weeks=profile.miscarriage_limit.weeks
        if profile.miscarriage_limit
        else None,
        miscarriage_limit_ref=profile.miscarriage_limit.citation.ref
        if profile.miscarriage_limit
        else None,
    )


def assess(
    case: Case,
    kb: KnowledgeBase | None = None,
    guideline: str | None = None,
    profile: Profile | None = None,
) -> Assessment:
    """Assess a validated case. Pure: the only clock is `case.as_of`.

    `guideline` restricts work-up and care plan to one guideline id (definitions still show
    side by side). `profile` shows only the clinic's guidelines, in its order, and judges its
    local eligibility rules; without one every guideline is shown.
    """
    kb = kb or load_knowledge()
    history = derive_history(case, kb.history)
    shown = profile.guidelines if profile else list(kb.guidelines)
    classifications: dict[str, Classification] = {
        gid: classify(history, kb.definitions[gid], kb.history)
        for gid in shown
        if gid in kb.definitions
    }
    evaluated = any(c.evaluation is not Evaluation.NOT_INDICATED for c in classifications.values())
    findings = interpret(case, history, kb, evaluated)
    base = base_facts(case, history, findings, kb)
    facts_cache = {
        gid: guideline_facts(base, gid, classifications, history) for gid in kb.guidelines
    }
    rank = {g: n for n, g in enumerate(shown)}
    investigations = sorted(
        (i for i in kb.investigations if guideline in (None, i.guideline) and i.guideline in rank),
        key=lambda i: rank[i.guideline],
    )
    treatments = sorted(
        (t for t in kb.treatments if guideline in (None, t.guideline) and t.guideline in rank),
        key=lambda t: rank[t.guideline],
    )
    workup = [
        _workup_out(kb, e)
        for e in plan_workup(investigations, case, findings, facts_cache.__getitem__)
    ]
    care = [_care_out(kb, e) for e in plan_care(treatments, facts_cache.__getitem__)]

    definitions = {
        gid: DefinitionOut(
            meets=c.meets,
            losses_counted=c.losses_counted,
            kind=c.kind,
            evaluation=c.evaluation.value,
            reasons=list(c.reasons),
            statement=kb.definitions[gid].statement,
            citation=kb.cite(kb.definitions[gid].citation),
            verification=kb.definitions[gid].verification.value,
        )
        for gid, c in classifications.items()
    }
    labels = kb.vocabulary.labels
    unverified_tag = Verification.UNVERIFIED.value
    unverified = sum(w.verification == unverified_tag for w in workup) + sum(
        c.verification == unverified_tag for c in care
    )
    warnings = list(findings.warnings)
    if unverified:
        warnings.append(
            f"{unverified} work-up or care-plan items are UNVERIFIED (confirmed neither in the "
            "guideline's own text nor in a named secondary source): check them before acting."
        )
    return Assessment(
        schema_=ASSESSMENT_SCHEMA,
        case_id=case.id,
        as_of=case.as_of,
        knowledge_version=kb.version,
        rplcare_version=VERSION,
        patient=PatientOut(age=age_at(case), partner_age=person_age(case.partner, case.as_of)),
        history=_history_out(case, history),
        definitions=definitions,
        workup=workup,
        causes=[
            CauseOut(
                category=c.category,
                label=labels[c.category],
                status=c.status.value,
                evidence=list(c.evidence),
            )
            for c in findings.causes
        ],
        risk_factors=[
            RiskFactorOut(
                category=r.category,
                label=labels[r.category],
                status="present" if r.present else "absent",
                evidence=list(r.evidence),
            )
            for r in findings.risk_factors
        ],
        causes_not_assessed=[
            NotAssessedOut(category=n.category, label=labels[n.category], reason=n.reason)
            for n in findings.not_assessed
        ],
        care_plan=care,
        prognosis=_prognosis(case, history, classifications, not_covered(history, findings, kb)),
        disagreements=_disagreements(workup, care, kb),
        warnings=warnings,
        unverified_items=unverified,
        profile=_profile_out(kb, profile, case, history) if profile else None,
        disclaimer=DISCLAIMER,
    )
