"""Evaluate a knowledge item's `when` condition against a case's facts.

Each condition is compiled once into a closure (conditions are frozen knowledge; an
assessment evaluates a few hundred of them, so walking the model tree every time was a
large share of its cost)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping

from rplcare.knowledge.schema import Condition, Predicate, Scalar

Facts = Mapping[str, Scalar | None]
Check = Callable[[Facts], bool]


def _compile_predicate(p: Predicate) -> Check:
    fact = p.fact
    if p.ne is not None:
        ne = p.ne
        return lambda facts: facts.get(fact) != ne
    # Unknown facts satisfy no comparison but `ne`.
    if p.eq is not None:
        eq = p.eq
        return lambda facts: (v := facts.get(fact)) is not None and v == eq
    if p.in_ is not None:
        options = tuple(p.in_)
        return lambda facts: (v := facts.get(fact)) is not None and v in options
    for bound, op in ((p.ge, operator.ge), (p.gt, operator.gt), (p.le, operator.le)):
        if bound is not None:
            return _comparison(fact, op, bound)
    assert p.lt is not None  # the schema guarantees exactly one operator
    return _comparison(fact, operator.lt, p.lt)


def _comparison(fact: str, op: Callable[[float, float], bool], bound: float) -> Check:
    def check(facts: Facts) -> bool:
        v = facts.get(fact)
        # only numbers compare (a boolean is not a number here)
        return isinstance(v, int | float) and not isinstance(v, bool) and op(v, bound)

    return check


def _compile(cond: Condition | Predicate) -> Check:
    if isinstance(cond, Predicate):
        return _compile_predicate(cond)
    if cond.all is not None:
        every = tuple(compiled(c) for c in cond.all)

        def all_hold(facts: Facts) -> bool:
            for check in every:  # noqa: SIM110 (a loop: no generator on the hot path)
                if not check(facts):
                    return False
            return True

        return all_hold
    if cond.any is not None:
        some = tuple(compiled(c) for c in cond.any)

        def any_holds(facts: Facts) -> bool:
            for check in some:  # noqa: SIM110 (a loop: no generator on the hot path)
                if check(facts):
                    return True
            return False

        return any_holds
    assert cond.not_ is not None  # the schema guarantees exactly one combinator
    inner = compiled(cond.not_)
    return lambda facts: not inner(facts)


#: Compiled checks by the condition's identity, the condition kept alive beside its check.
_COMPILED: dict[int, tuple[Condition | Predicate, Check]] = {}
_COMPILED_MAX = 50_000


def compiled(cond: Condition | Predicate) -> Check:
    hit = _COMPILED.get(id(cond))
    if hit is not None and hit[0] is cond:
        return hit[1]
    check = _compile(cond)
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[id(cond)] = (cond, check)
    return check


def evaluate(cond: Condition | Predicate | None, facts: Facts) -> bool:
    return True if cond is None else compiled(cond)(facts)
