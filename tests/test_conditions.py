"""The condition language of knowledge items."""

from __future__ import annotations

from typing import Any

import pytest

from rplcare.engine.conditions import evaluate
from rplcare.knowledge.schema import Condition

FACTS: dict[str, Any] = {"n": 3, "flag": True, "status": "confirmed", "unknown": None}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"all": [{"fact": "n", "ge": 3}]}, True),
        ({"all": [{"fact": "n", "gt": 3}]}, False),
        ({"all": [{"fact": "n", "lt": 3}]}, False),
        ({"all": [{"fact": "n", "le": 3}]}, True),
        ({"all": [{"fact": "flag", "eq": True}, {"fact": "n", "ge": 1}]}, True),
        ({"any": [{"fact": "flag", "eq": False}, {"fact": "status", "in": ["confirmed"]}]}, True),
        ({"not": {"fact": "status", "eq": "confirmed"}}, False),
        ({"all": [{"fact": "unknown", "eq": True}]}, False),
        ({"all": [{"fact": "unknown", "ne": True}]}, True),  # unknown is "not true"
        ({"all": [{"fact": "unknown", "ge": 0}]}, False),
        ({"all": [{"fact": "flag", "ge": 0}]}, False),  # booleans are not numbers
        ({"all": [{"fact": "status", "ge": 0}]}, False),
        ({"any": [{"all": [{"fact": "n", "eq": 3}]}, {"fact": "flag", "eq": False}]}, True),
    ],
)
def test_evaluate(raw: dict[str, Any], expected: bool) -> None:
    assert evaluate(Condition.model_validate(raw), FACTS) is expected


def test_no_condition_always_applies() -> None:
    assert evaluate(None, FACTS) is True


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"all": [], "any": []},
        {"all": [{"fact": "n"}]},
        {"all": [{"fact": "n", "ge": 1, "le": 2}]},
        {"all": [{"fact": "n", "between": 1}]},
    ],
)
def test_malformed_conditions_are_rejected(raw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        Condition.model_validate(raw)
