"""A clinic profile's local eligibility rules, judged against a case. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from rplcare.domain.case import Case
from rplcare.domain.history import Event, History, age_at, person_age
from rplcare.knowledge.profile import EligibilityRule


@dataclass(frozen=True)
class RuleResult:
    rule: EligibilityRule
    met: bool | None  # None: the case lacks something the rule needs (e.g. the partner's age)
    reasons: tuple[str, ...]


def _qualifies(e: Event, rule: EligibilityRule) -> bool:
    if e.loss_kind is None or e.loss_kind.value not in rule.counted_kinds:
        return False
    if e.pregnancy.gestational_weeks_assumed and (
        rule.loss_weeks_from is not None or rule.loss_weeks_before is not None
    ):
        return False  # a placeholder gestation cannot place a loss inside the window
    weeks = e.pregnancy.gestational_weeks
    if rule.loss_weeks_from is not None and weeks < rule.loss_weeks_from:
        return False
    return rule.loss_weeks_before is None or weeks < rule.loss_weeks_before


def evaluate_rule(rule: EligibilityRule, case: Case, history: History) -> RuleResult:
    reasons: list[str] = []
    met: bool | None = True
    losses = (
        history.longest_run_of(lambda e: _qualifies(e, rule))
        if rule.consecutive
        else [e for e in history.events if _qualifies(e, rule)]
    )
    window = ""
    if rule.loss_weeks_from is not None or rule.loss_weeks_before is not None:
        low = f"from {rule.loss_weeks_from:g}" if rule.loss_weeks_from is not None else ""
        high = f"before {rule.loss_weeks_before:g}" if rule.loss_weeks_before is not None else ""
        window = f" ({' and '.join(p for p in (low, high) if p)} weeks)"
    kind = "consecutive losses" if rule.consecutive else "losses"
    ok = len(losses) >= rule.min_losses
    reasons.append(
        f"{'meets' if ok else 'does not meet'}: {len(losses)} {kind}{window}, "
        f"at least {rule.min_losses} required"
    )
    met = ok
    if rule.woman_age_below is not None:
        age = age_at(case)
        young = age < rule.woman_age_below
        reasons.append(
            f"woman aged {age}: {'under' if young else 'not under'} {rule.woman_age_below}"
        )
        met = met and young
    if rule.partner_age_below is not None:
        partner = person_age(case.partner, case.as_of)
        if partner is None:
            reasons.append(f"partner's age not recorded (must be under {rule.partner_age_below})")
            met = None if met else met
        else:
            young = partner < rule.partner_age_below
            reasons.append(
                f"partner aged {partner}: {'under' if young else 'not under'} "
                f"{rule.partner_age_below}"
            )
            met = (met and young) if met is not None else (None if young else False)
    return RuleResult(rule, met, tuple(reasons))
