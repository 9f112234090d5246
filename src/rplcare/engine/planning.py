"""Work-up and care plan: which knowledge items apply to this case, per guideline."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal, TypeVar

from rplcare.domain.case import Case
from rplcare.engine.conditions import Facts, evaluate
from rplcare.engine.definitions import Evaluation
from rplcare.engine.evidence import Findings
from rplcare.knowledge.schema import Investigation, Item, Recommendation, Treatment

ItemT = TypeVar("ItemT", bound=Item)
WorkupStatus = Literal["to_do", "optional", "done", "repeat", "not_indicated"]


@dataclass(frozen=True)
class WorkupEntry:
    item: Investigation
    recommendation: Recommendation
    status: WorkupStatus
    due_date: date | None
    note: str | None


@dataclass(frozen=True)
class CareEntry:
    item: Treatment


def applicable(items: Iterable[ItemT], facts_for: Callable[[str], Facts]) -> list[ItemT]:
    return [i for i in items if evaluate(i.when, facts_for(i.guideline))]


def plan_workup(
    items: Iterable[Investigation],
    case: Case,
    findings: Findings,
    facts_for: Callable[[str], Facts],
) -> list[WorkupEntry]:
    out: list[WorkupEntry] = []
    tested = {t.code for t in case.tests}
    not_indicated, discretionary = Evaluation.NOT_INDICATED.value, Evaluation.DISCRETIONARY.value
    for item in applicable(items, facts_for):
        evaluation = facts_for(item.guideline).get("evaluation")
        recommendation, note = item.recommendation, item.note
        if item.requires_evaluation and evaluation == not_indicated:
            continue
        if item.requires_evaluation and evaluation == discretionary:
            discretion = "definition not met: evaluation at the clinician's discretion"
            note = f"{discretion}. {note}" if note else discretion
            if recommendation is Recommendation.RECOMMENDED:
                recommendation = Recommendation.CONSIDER
        due = findings.repeat_due.get(item.test)
        status: WorkupStatus
        if due is not None:
            status = "repeat"
            if due < case.as_of:
                overdue = f"repeat overdue since {due}"
                note = f"{overdue}. {note}" if note else overdue
        elif item.test in tested:
            status = "done"
        elif recommendation is Recommendation.NOT_RECOMMENDED:
            status = "not_indicated"
        elif recommendation is Recommendation.CONSIDER:
            status = "optional"
        else:
            status = "to_do"
        out.append(WorkupEntry(item, recommendation, status, due, note))
    return out


def plan_care(items: Iterable[Treatment], facts_for: Callable[[str], Facts]) -> list[CareEntry]:
    return [CareEntry(item) for item in applicable(items, facts_for)]
