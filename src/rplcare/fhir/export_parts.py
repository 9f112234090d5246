"""Pieces of the assessment export: resource identity, codes, readable notes and citations, and
the RiskAssessments (the prognosis is the model's, not a guideline's, so it lives apart)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rplcare.engine.assessment import Assessment, CitationOut, RiskOut
from rplcare.fhir.common import (
    CANONICAL,
    Resource,
    full_url,
    related_artifact,
    stable_id,
    unverified_prefix,
)
from rplcare.fhir.terminology import Code, Terminology
from rplcare.knowledge.loader import KnowledgeBase
from rplcare.knowledge.schema import Citation
from rplcare.prognosis.current import WEEK_12, WEEK_20

IDENT_SYSTEM = f"{CANONICAL}/identifier"
INTERVAL_EXTENSION = f"{CANONICAL}/StructureDefinition/probability-interval"
UCUM = "http://unitsofmeasure.org"
MODEL_REF = "rplcare-model"
# The terminology table's status words; "conflicting" codes are read, never written.
WRITABLE = ("verified", "secondary")
_SYSTEM_NAMES = {"snomed": "SNOMED CT", "loinc": "LOINC", "icd10": "ICD-10"}
_RANK = {"unverified": 0, "secondary": 1, "verified": 2}


@dataclass(frozen=True)
class Export:
    """What every resource of one export shares."""

    kb: KnowledgeBase
    term: Terminology
    assessment: Assessment
    seed: tuple[str, ...]
    subject: dict[str, str]

    def resource(self, rtype: str, *item: str) -> Resource:
        """A new resource whose id and identifier are stable for this input (idempotent re-send
        through `ifNoneExist`)."""
        rid = stable_id(*self.seed, rtype, *item)
        return {
            "resourceType": rtype,
            "id": rid,
            "identifier": [{"system": IDENT_SYSTEM, "value": rid}],
        }

    def subject_ref(self) -> dict[str, str]:
        return dict(self.subject)

    def coded(
        self, codes: list[Code], text: str, extra: list[dict[str, str]] | None = None
    ) -> tuple[dict[str, Any], list[str]]:
        """A CodeableConcept and the notes its secondary codes need."""
        usable = [c for c in codes if c.status in WRITABLE]
        coding = [self.term.coding(c) for c in usable] + (extra or [])
        concept: dict[str, Any] = {"coding": coding, "text": text} if coding else {"text": text}
        notes = [
            f"{_SYSTEM_NAMES.get(c.system, self.term.url(c.system))} {c.code} is from a "
            "secondary source; check before relying on it."
            for c in usable
            if c.status == "secondary"
        ]
        return concept, notes

    def cite(self, citation: Citation | CitationOut) -> str:
        c = Citation(ref=citation.ref, locator=citation.locator, note=citation.note)
        if c.ref not in self.kb.references:
            return c.ref
        art = related_artifact(self.kb, c)
        text = f"{art['label']}: {art['citation']}"
        return f"{text} <{art['url']}>" if "url" in art else text

    def guideline(self, gid: str) -> str:
        g = self.kb.guidelines.get(gid)
        ref = self.kb.references.get(g.reference) if g else None
        return ref.short if ref else gid


def ref(resource: Resource) -> dict[str, str]:
    return {"reference": full_url(resource["id"])}


def notes(texts: list[str]) -> list[dict[str, str]]:
    return [{"text": t} for t in texts if t]


def weakest(verifications: list[str]) -> str:
    return min(verifications, key=lambda v: _RANK.get(v, 0))


def words(value: str) -> str:
    return value.replace("_", " ")


def position(
    x: Export,
    guideline: str,
    recommendation: str,
    strength: str,
    statement: str,
    verification: str,
    citation: CitationOut,
) -> str:
    """One guideline position as a reader sees it, UNVERIFIED ones marked."""
    return (
        f"{x.guideline(guideline)}: {words(recommendation)} ({strength}) — "
        f"{unverified_prefix(verification)}{statement} [{x.cite(citation)}]"
    )


# --- RiskAssessment ---------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def _fraction(value: float) -> dict[str, Any]:
    return {"value": round(value, 4), "system": UCUM, "code": "1"}


def _weeks(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "wk", "system": UCUM, "code": "wk"}


def _prediction(
    x: Export, outcome: str, text: str, risk: RiskOut
) -> tuple[dict[str, Any], list[str]]:
    concept, code_notes = x.coded(x.term.diagnosis.get(outcome, []), text)
    if risk.estimate is None or risk.interval is None or risk.confidence_interval is None:
        # Outside the model's data: the outcome without a probability, and the reason.
        return {"outcome": concept, "rationale": f"Not estimated: {risk.reason}"}, code_notes
    lo, hi = risk.interval
    clo, chi = risk.confidence_interval
    method = x.assessment.prognosis.interval_method
    interval = {"low": _fraction(lo), "high": _fraction(hi)}
    return {
        # R4 allows one probability[x]; the interval rides in an extension and the rationale.
        "extension": [{"url": INTERVAL_EXTENSION, "valueRange": interval}],
        "outcome": concept,
        "probabilityDecimal": round(risk.estimate, 4),
        "rationale": (
            f"{_pct(risk.estimate)}% (interval {_pct(lo)}–{_pct(hi)}%, confidence interval "
            f"{_pct(clo)}–{_pct(chi)}%; {method})"
        ),
    }, code_notes


def _risk_notes(x: Export, drivers: list[str], extra: list[str]) -> list[dict[str, str]]:
    p = x.assessment.prognosis
    source = x.cite(Citation(ref=MODEL_REF)) if MODEL_REF in x.kb.references else ""
    return notes(
        [f"Driver: {d}" for d in drivers]
        + [f"Model limit: {lim}" for lim in p.limits]
        + [f"Source: {source}" if source else "", *extra, x.assessment.disclaimer]
    )


def _base(x: Export, kind: str, code: str, method: str) -> Resource:
    r = x.resource("RiskAssessment", kind)
    r.update(
        status="final",
        method={"text": method},
        code={"text": code},
        subject=x.subject_ref(),
        occurrenceDateTime=x.assessment.as_of.isoformat(),
    )
    return r


def _cumulative(x: Export) -> list[dict[str, Any]]:
    """One prediction per horizon: the pregnancy that ends in a live birth begun by then."""
    cum = x.assessment.prognosis.cumulative_live_birth
    if cum is None:
        return []
    out = []
    for y in cum.years:
        text = f"Start, within {y.years} year(s), of a pregnancy that ends in a live birth"
        pred, _notes = _prediction(x, "live_birth", text, y)
        pred["whenRange"] = {
            "low": {"value": 0, "unit": "a", "system": UCUM, "code": "a"},
            "high": {"value": y.years, "unit": "a", "system": UCUM, "code": "a"},
        }
        out.append(pred)
    return out


def risk_assessments(x: Export) -> list[Resource]:
    p = x.assessment.prognosis
    nxt = p.next_pregnancy
    r = _base(
        x,
        "next-pregnancy",
        "Risk of miscarriage in the next pregnancy",
        f"rplcare prognosis model {p.model_version}, {nxt.setting} setting",
    )
    mis, n1 = _prediction(
        x, "miscarriage", "Miscarriage in the next pregnancy", nxt.miscarriage_risk
    )
    live, n2 = _prediction(
        x, "live_birth", "Live birth from the next pregnancy", nxt.live_birth_chance
    )
    r["prediction"] = [mis, live, *_cumulative(x)]
    not_covered = [f"Not taken into account: {n}" for n in nxt.not_covered]
    r["note"] = _risk_notes(
        x, nxt.drivers, [f"Setting: {nxt.setting_reason}", *not_covered, *n1, *n2]
    )
    out = [r]
    cur = p.current_pregnancy
    if cur is None:
        return out
    predictions: list[dict[str, Any]] = []
    code_notes: list[str] = []
    windows = ((WEEK_12, cur.loss_risk_to_12_weeks), (WEEK_20, cur.loss_risk_to_20_weeks))
    for to_day, risk in windows:
        # A window the pregnancy has already passed has no risk to report (the model gives 0).
        if cur.gestational_age_days >= to_day:
            continue
        weeks = to_day // 7
        pred, more = _prediction(
            x, "miscarriage", f"Pregnancy loss by {weeks} weeks of gestation", risk
        )
        low = _weeks(round(cur.gestational_age_days / 7, 2))
        pred["whenRange"] = {"low": low, "high": _weeks(weeks)}
        predictions.append(pred)
        code_notes += [n for n in more if n not in code_notes]
    if predictions:
        c = _base(
            x,
            "current-pregnancy",
            "Risk of pregnancy loss in the current pregnancy",
            f"rplcare current-pregnancy model (shipped with prognosis model {p.model_version})",
        )
        c["prediction"] = predictions
        c["note"] = _risk_notes(x, cur.drivers, code_notes)
        out.append(c)
    return out
