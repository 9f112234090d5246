"""Classify a history under each guideline's RPL definition, with reasons."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rplcare.domain.history import Event, History, LossKind
from rplcare.knowledge.schema import DefinitionRule, HistoryConventions


class Evaluation(StrEnum):
    INDICATED = "indicated"
    DISCRETIONARY = "discretionary"
    NOT_INDICATED = "not_indicated"


@dataclass(frozen=True)
class Classification:
    guideline: str
    meets: bool
    losses_counted: int
    kind: str | None
    evaluation: Evaluation
    reasons: tuple[str, ...]


_KIND_LABEL = {
    LossKind.BIOCHEMICAL: "biochemical loss",
    LossKind.CLINICAL_FIRST_TRIMESTER: "first-trimester miscarriage",
    LossKind.SECOND_TRIMESTER: "second-trimester loss",
}


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word}{'es' if word.endswith('s') else 's'}"


def classify(
    history: History, rule: DefinitionRule, conventions: HistoryConventions
) -> Classification:
    counted_kinds = {LossKind(k) for k in rule.counted_kinds}
    counted: list[Event] = history.losses(*counted_kinds)
    reasons: list[str] = []
    for e in history.events:
        outcome = e.pregnancy.outcome.value
        if e.loss_kind in counted_kinds:
            reasons.append(f"counted: {e.describe()} as a {_KIND_LABEL[e.loss_kind]}")
        elif e.loss_kind is LossKind.SECOND_TRIMESTER and rule.single_second_trimester_loss_meets:
            reasons.append(f"counted: {e.describe()} as a second-trimester miscarriage")
            counted.append(e)
        elif e.loss_kind is not None:
            why = rule.not_counted_reasons.get(
                e.loss_kind.value, "not a loss this definition counts"
            )
            reasons.append(f"not counted: {e.describe()}: {why}")
        elif not e.is_birth:
            why = rule.not_counted_reasons.get(outcome, "not a spontaneous pregnancy loss")
            reasons.append(f"not counted: {e.describe()}: {why}")

    second = history.losses(LossKind.SECOND_TRIMESTER)
    main = history.losses(*counted_kinds)
    if rule.consecutive_required:
        run = history.longest_run_of(lambda e: e.loss_kind in counted_kinds)
        if len(run) < len(main):
            reasons.append(
                f"consecutive: the longest run of consecutive counted losses is {len(run)} "
                f"({', '.join(f'pregnancy {e.index + 1}' for e in run) or 'none'}); a birth "
                "or a termination ends a run"
            )
        counted = [e for e in counted if e not in main or e in run]
        main = run
    n = len(counted)
    main_count = len(main)
    meets = main_count >= rule.min_losses
    if meets:
        reasons.append(
            f"meets: {_plural(main_count, 'counted loss')}, at least {rule.min_losses} required"
        )
    elif rule.single_second_trimester_loss_meets and second:
        meets = True
        reasons.append(
            f"in scope: {_plural(len(second), 'second-trimester miscarriage')}; the guideline "
            "covers women with one or more second-trimester miscarriages (its definition of "
            "recurrent miscarriage is three or more first-trimester losses)"
        )
    else:
        reasons.append(
            f"does not meet: {_plural(main_count, 'counted loss')}, "
            f"at least {rule.min_losses} required"
        )
    if not rule.consecutive_required and meets:
        reasons.append("losses need not be consecutive")

    evaluation = Evaluation.INDICATED if meets else Evaluation.NOT_INDICATED
    if meets and rule.evaluation_min_losses is not None and n < rule.evaluation_min_losses:
        evaluation = Evaluation.DISCRETIONARY
        reasons.append(
            f"routine evaluation from {rule.evaluation_min_losses} counted losses; with "
            f"{_plural(n, 'counted loss')} evaluation is at the clinician's discretion, if a "
            "cause other than chance is suspected"
        )
    if not meets and rule.discretion_min_losses is not None:
        eligible = len(history.losses(*(LossKind(k) for k in rule.discretion_kinds)))
        if eligible >= rule.discretion_min_losses:
            evaluation = Evaluation.DISCRETIONARY
            reasons.append(
                f"evaluation after {_plural(eligible, 'first-trimester miscarriage')} is at the "
                "clinician's discretion, if the losses look pathological rather than sporadic"
            )

    kind = None
    if meets and counted:
        last = max(counted, key=history.events.index)
        births = history.births_before(last)
        kind = "secondary" if births else "primary"
        if births:
            reasons.append(
                f"secondary: {births[-1].describe()} went beyond viability before the latest "
                f"counted loss (primary/secondary terminology is unverified)"
            )
        else:
            reasons.append(
                "primary: no pregnancy beyond viability before the counted losses "
                "(primary/secondary terminology is unverified)"
            )
    return Classification(rule.guideline, meets, n, kind, evaluation, tuple(reasons))
