"""Schema of the knowledge files. Every item names its guideline, cites a reference and carries
a verification tag taken from the project's reference sheets:

- ``verified``: read in the primary source;
- ``secondary``: seen only in a secondary source (named in the citation note);
- ``unverified``: background knowledge not confirmed; shipped only visibly marked as such.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1

ItemId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$")]


class Verification(StrEnum):
    VERIFIED = "verified"
    SECONDARY = "secondary"
    UNVERIFIED = "unverified"


class Recommendation(StrEnum):
    RECOMMENDED = "recommended"
    CONSIDER = "consider"
    NOT_RECOMMENDED = "not_recommended"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reference(_Frozen):
    short: str
    full: str
    url: str | None = None


class Guideline(_Frozen):
    name: str
    publisher: str
    year: int | None = None  # None when the publication date was not seen
    reference: str
    strength_scale: str


class Citation(_Frozen):
    """A pointer into `references.yaml` plus where in the source the statement is."""

    ref: str
    locator: str | None = None
    note: str | None = None


class Cited(_Frozen):
    citation: Citation
    verification: Verification


class Threshold(Cited):
    """A number the engine compares against. Interval closure is explicit in `comparator`."""

    value: float
    unit: str
    comparator: Literal["gt", "ge", "lt", "le"]
    description: str

    def holds(self, x: float) -> bool:
        match self.comparator:
            case "gt":
                return x > self.value
            case "ge":
                return x >= self.value
            case "lt":
                return x < self.value
            case "le":
                return x <= self.value


# --- conditions -----------------------------------------------------------------------------

Scalar = bool | int | float | str


class Predicate(_Frozen):
    """One comparison against a named fact of the case (see `rplcare.engine.facts`)."""

    fact: str
    eq: Scalar | None = None
    ne: Scalar | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _exactly_one_operator(self) -> Predicate:
        names = ("eq", "ne", "ge", "gt", "le", "lt", "in_")
        ops = [k for k in names if getattr(self, k) is not None]
        if len(ops) != 1:
            raise ValueError(f"predicate on {self.fact!r} needs exactly one operator, got {ops}")
        return self


class Condition(_Frozen):
    """`all` / `any` of predicates or nested conditions, or `not` of one condition."""

    all: list[Predicate | Condition] | None = None
    any: list[Predicate | Condition] | None = None
    not_: Predicate | Condition | None = Field(default=None, alias="not")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_combinator(self) -> Condition:
        given = [k for k in ("all", "any", "not_") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"a condition needs exactly one of all/any/not, got {given}")
        return self

    def predicates(self) -> list[Predicate]:
        out: list[Predicate] = []
        for part in [*(self.all or []), *(self.any or []), *([self.not_] if self.not_ else [])]:
            out.extend([part] if isinstance(part, Predicate) else part.predicates())
        return out


# --- items ----------------------------------------------------------------------------------


class Item(Cited):
    id: ItemId
    guideline: str
    recommendation: Recommendation
    strength: str = Field(description="Grade or strength exactly as published, or 'not stated'")
    evidence_quality: str | None = None
    version: str
    statement: str = Field(description="The position in our own words")
    when: Condition | None = None
    note: str | None = None
    # "Only within research": a `not_recommended` position that still leaves a research route.
    only_in_research: bool = False


class Investigation(Item):
    test: str
    # Gate on the guideline's own evaluation threshold (definition met, or discretion).
    requires_evaluation: bool = True


class Treatment(Item):
    intervention: str


LossKindName = Literal["biochemical", "clinical_first_trimester", "second_trimester"]


class DefinitionRule(Cited):
    guideline: str
    min_losses: int = Field(ge=1)
    counted_kinds: list[LossKindName]
    single_second_trimester_loss_meets: bool = False
    discretion_min_losses: int | None = None
    discretion_kinds: list[LossKindName] = Field(default_factory=list)
    consecutive_required: bool
    # Routine evaluation only from this many counted losses; a met definition below it is
    # evaluated at the clinician's discretion (NGF: consultation usually after three).
    evaluation_min_losses: int | None = None
    statement: str
    not_counted_reasons: dict[str, str] = Field(default_factory=dict)


class HistoryConventions(_Frozen):
    """Boundaries that turn outcomes and gestations into loss kinds."""

    second_trimester_from_weeks: Threshold
    viability_weeks: Threshold
    kind_rule: Cited
    kind_statement: str


class TestCode(_Frozen):
    __test__ = False

    label: str
    results: list[str] = Field(default_factory=list)
    units: list[str] = Field(default_factory=list)
    in_case_vocabulary: bool = True
    # result -> cause category it establishes (`abnormal`) or only suggests (`uncertain`)
    abnormal: dict[str, str] = Field(default_factory=dict)
    uncertain: dict[str, str] = Field(default_factory=dict)
    # result -> key of the cited threshold (findings.yaml) that defines it for a value: the
    # flag means "the threshold holds". Lets validation refuse a flag that contradicts the value
    # (e.g. TSH "high" at 1.0 mIU/L); tests without an entry are never refused.
    flag_thresholds: dict[str, str] = Field(default_factory=dict)


class Limits(_Frozen):
    """Data-entry plausibility bounds (not clinical thresholds)."""

    max_gestational_weeks: float
    max_age_years: int
    bmi_range: tuple[float, float]
    note: str


class Vocabulary(_Frozen):
    tests: dict[str, TestCode]
    interventions: dict[str, str]
    causes: dict[str, str]
    risk_factors: dict[str, str] = Field(default_factory=dict)
    limits: Limits

    @property
    def labels(self) -> dict[str, str]:
        """Cause and risk-factor categories with their labels."""
        return {**self.causes, **self.risk_factors}


class KnowledgeFile(_Frozen):
    schema_version: Literal[1]
    description: str
    data: dict[str, Any]

    @field_validator("data")
    @classmethod
    def _non_empty(cls, v: dict[str, Any]) -> dict[str, Any]:
        if not v:
            raise ValueError("empty knowledge file")
        return v
