"""The `rplcare.assessment/1` output. Field names are a contract other tools rely on."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

ASSESSMENT_SCHEMA = "rplcare.assessment/1"

DISCLAIMER = (
    "rplcare supports, and does not replace, the judgement of a qualified clinician. It "
    "summarises published guidance with citations; items marked UNVERIFIED were not confirmed "
    "in the primary source. Decisions about tests and treatment belong to the clinician and "
    "the couple."
)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class CitationOut(_Out):
    ref: str
    short: str
    full: str
    url: str | None
    locator: str | None
    note: str | None


class HistoryOut(_Out):
    pregnancies: int
    losses_total: int
    losses_clinical: int
    losses_biochemical: int
    losses_first_trimester: int
    losses_second_trimester: int
    live_births: int
    stillbirths: int
    ectopic: int
    molar: int
    terminations: int
    consecutive_losses: int
    losses_since_last_birth: int


class DefinitionOut(_Out):
    meets: bool
    losses_counted: int
    kind: Literal["primary", "secondary"] | None
    evaluation: Literal["indicated", "discretionary", "not_indicated"]
    reasons: list[str]
    statement: str
    citation: str
    verification: str


class WorkupOut(_Out):
    id: str
    test: str
    test_label: str
    guideline: str
    recommendation: Literal["recommended", "consider", "not_recommended"]
    published_recommendation: Literal["recommended", "consider", "not_recommended"]
    strength: str
    evidence_quality: str | None
    statement: str
    only_in_research: bool
    # optional: a `consider` test not yet done (offer it only after discussion; not an order)
    status: Literal["to_do", "optional", "done", "repeat", "not_indicated"]
    due_date: date | None
    note: str | None
    citation: str
    citation_detail: CitationOut
    verification: Literal["verified", "secondary", "unverified"]


class CauseOut(_Out):
    category: str
    label: str
    status: Literal["confirmed", "possible", "excluded"]
    evidence: list[str]


class RiskFactorOut(_Out):
    """A modifiable association (e.g. lifestyle): present or absent, never a cause."""

    category: str
    label: str
    status: Literal["present", "absent"]
    evidence: list[str]


class NotAssessedOut(_Out):
    category: str
    label: str
    reason: str


class CareOut(_Out):
    id: str
    intervention: str
    intervention_label: str
    guideline: str
    recommendation: Literal["recommended", "consider", "not_recommended"]
    strength: str
    evidence_quality: str | None
    statement: str
    only_in_research: bool
    note: str | None
    citation: str
    citation_detail: CitationOut
    verification: Literal["verified", "secondary", "unverified"]


class Position(_Out):
    guideline: str
    recommendation: str
    id: str


class DisagreementOut(_Out):
    topic: str
    kind: Literal["test", "intervention"]
    positions: list[Position]


class RiskOut(_Out):
    """A probability with its intervals; outside the model's data all three are null,
    `out_of_range` is true and `reason` names the range the data cover."""

    estimate: float | None
    interval: list[float] | None
    confidence_interval: list[float] | None
    out_of_range: bool = False
    reason: str | None = None


class NextPregnancyOut(_Out):
    setting: Literal["population", "clinic"]
    setting_reason: str
    miscarriage_risk: RiskOut
    live_birth_chance: RiskOut
    drivers: list[str]
    # What the figure does not take into account for this couple (causes, history)
    not_covered: list[str] = []


class YearOut(RiskOut):
    years: int


class CumulativeOut(_Out):
    """Chance of having begun, within 1, 2 and 5 years, the pregnancy that ends in a live
    birth (issue 14): the setting, what is counted, how, and the sources."""

    setting: Literal["population", "clinic"]
    counted_from: str
    counted_to: str
    method: str
    citations: list[str]
    years: list[YearOut]


class CurvePoint(_Out):
    day: int
    risk: float


class CurrentPregnancyOut(_Out):
    gestational_age_days: int
    heartbeat_seen: bool | None
    previous_losses: int
    loss_risk_to_12_weeks: RiskOut
    loss_risk_to_20_weeks: RiskOut
    curve_to_20_weeks: list[CurvePoint]
    drivers: list[str]
    not_covered: list[str] = []


class PrognosisOut(_Out):
    model_version: str
    next_pregnancy: NextPregnancyOut
    current_pregnancy: CurrentPregnancyOut | None
    cumulative_live_birth: CumulativeOut | None = None
    interval_method: str
    limits: list[str]


class PatientOut(_Out):
    age: int
    partner_age: int | None


class EligibilityOut(_Out):
    id: str
    description: str
    met: bool | None
    reasons: list[str]
    citation: str
    verification: Literal["verified", "secondary", "unverified"]


class ProfileOut(_Out):
    """The clinic profile the assessment was made for: guidelines shown, in order."""

    id: str
    name: str
    primary: str
    guidelines: list[str]
    clinic_name: str
    clinic_contact: str | None
    eligibility: list[EligibilityOut]
    # The national miscarriage limit in weeks and its reference key, when the profile sets one.
    miscarriage_limit_weeks: int | None = None
    miscarriage_limit_ref: str | None = None


class Assessment(_Out):
    schema_: Literal["rplcare.assessment/1"]
    case_id: str | None
    as_of: date
    knowledge_version: str
    rplcare_version: str
    patient: PatientOut
    history: HistoryOut
    definitions: dict[str, DefinitionOut]
    workup: list[WorkupOut]
    causes: list[CauseOut]
    causes_not_assessed: list[NotAssessedOut]
    risk_factors: list[RiskFactorOut]
    care_plan: list[CareOut]
    prognosis: PrognosisOut
    disagreements: list[DisagreementOut]
    warnings: list[str]
    unverified_items: int
    profile: ProfileOut | None = None
    disclaimer: str

    def to_json_dict(self) -> dict[str, object]:
        data = self.model_dump(mode="json")
        data = {"schema": data.pop("schema_"), **data}
        return data

    def to_json(self) -> str:
        """The same document as `to_json_dict`, serialised by pydantic-core in one pass (about
        twice as fast as building the dict and encoding it)."""
        text = self.model_dump_json()
        # schema_ is the first field: only its key differs from the published contract.
        assert text.startswith('{"schema_":')
        return '{"schema":' + text[len('{"schema_":') :]
