"""Evaluate a knowledge item's `when` condition against a case's facts."""

from __future__ import annotations

from collections.abc import Mapping

from rplcare.knowledge.schema import Condition, Predicate, Scalar

Facts = Mapping[str, Scalar | None]


def _holds(p: Predicate, facts: Facts) -> bool:
    value = facts.get(p.fact)
    if p.ne is not None:
        return value != p.ne
    if value is None:
        return False  # unknown facts satisfy no comparison but `ne`
    if p.eq is not None:
        return value == p.eq
    if p.in_ is not None:
        return value in p.in_
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if p.ge is not None:
        return value >= p.ge
    if p.gt is not None:
        return value > p.gt
    if p.le is not None:
        return value <= p.le
    assert p.lt is not None  # the schema guarantees exactly one operator
    return value < p.lt


def evaluate(cond: Condition | Predicate | None, facts: Facts) -> bool:
    if cond is None:
        return True
    if isinstance(cond, Predicate):
        return _holds(cond, facts)
    if cond.all is not None:
        return all(evaluate(c, facts) for c in cond.all)
    if cond.any is not None:
        return any(evaluate(c, facts) for c in cond.any)
    return not evaluate(cond.not_, facts)
