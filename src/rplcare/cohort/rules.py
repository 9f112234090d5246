"""The rules cohort mode applies, read from the same knowledge base as the per-case engine.

Nothing here is a number of its own: the trimester boundary, viability, every definition's
counted kinds, minimum, discretion threshold and second-trimester rule, and the plausibility
limits come from `definitions.yaml` and `vocabulary.yaml`. `tests/cohort/` shows the results
equal `rplcare.engine.assess` for every woman.
"""

from __future__ import annotations

from dataclasses import dataclass

from rplcare.domain.case import Outcome
from rplcare.knowledge.loader import KnowledgeBase
from rplcare.knowledge.schema import Threshold

LOSS_KINDS = ("biochemical", "clinical_first_trimester", "second_trimester")
CLINICAL_LOSS = (Outcome.MISCARRIAGE.value, Outcome.ANEMBRYONIC.value)
BIRTH = (Outcome.LIVE_BIRTH.value, Outcome.STILLBIRTH.value)
NEITHER = (Outcome.ECTOPIC.value, Outcome.MOLAR.value)  # passed over in runs of losses
BEFORE_VIABILITY = (*CLINICAL_LOSS, Outcome.BIOCHEMICAL.value)
OUTCOMES = tuple(o.value for o in Outcome)
_SQL_OPERATORS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


@dataclass(frozen=True)
class Definition:
    guideline: str
    column: str  # a column-safe name, e.g. eshre_2022
    min_losses: int
    counted_kinds: tuple[str, ...]
    single_second_trimester_loss_meets: bool
    discretion_min_losses: int | None
    discretion_kinds: tuple[str, ...]
    consecutive_required: bool = False
    evaluation_min_losses: int | None = None


@dataclass(frozen=True)
class CohortRules:
    knowledge_version: str
    second_trimester: Threshold
    viability_weeks: float
    max_gestational_weeks: float
    max_age_years: int
    definitions: tuple[Definition, ...]

    @staticmethod
    def from_knowledge(kb: KnowledgeBase) -> CohortRules:
        return CohortRules(
            knowledge_version=kb.version,
            second_trimester=kb.history.second_trimester_from_weeks,
            viability_weeks=kb.history.viability_weeks.value,
            max_gestational_weeks=kb.vocabulary.limits.max_gestational_weeks,
            max_age_years=kb.vocabulary.limits.max_age_years,
            definitions=tuple(
                Definition(
                    guideline=gid,
                    column=gid.replace("-", "_"),
                    min_losses=d.min_losses,
                    counted_kinds=tuple(d.counted_kinds),
                    single_second_trimester_loss_meets=d.single_second_trimester_loss_meets,
                    discretion_min_losses=d.discretion_min_losses,
                    discretion_kinds=tuple(d.discretion_kinds),
                    consecutive_required=d.consecutive_required,
                    evaluation_min_losses=d.evaluation_min_losses,
                )
                for gid, d in kb.definitions.items()
            ),
        )

    def second_trimester_sql(self, weeks: str) -> str:
        """The knowledge base's trimester boundary as a SQL predicate on `weeks`."""
        t = self.second_trimester
        return f"{weeks} {_SQL_OPERATORS[t.comparator]} {t.value!r}"
