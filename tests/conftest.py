"""Shared fixtures for the case-file tests: a rich valid case and a writer for case files."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples").glob("*.json"))

# Valid, and touches every part of rplcare.case/1: partner, value+unit, a test tied to a
# pregnancy, lifestyle and a current pregnancy.
VALID_CASE: dict[str, Any] = {
    "schema": "rplcare.case/1",
    "id": "fixture-rich",
    "as_of": "2026-03-01",
    "patient": {"birth_date": "1990-05-01"},
    "partner": {"age": 36},
    "pregnancies": [
        {
            "outcome": "miscarriage",
            "end_date": "2024-01-10",
            "gestational_weeks": 8,
            "heartbeat_seen": False,
            "partner": "current",
        },
        {"outcome": "live_birth", "end_date": "2024-12-01", "gestational_weeks": 39},
        {"outcome": "biochemical", "end_date": "2025-06-01", "gestational_weeks": 5, "notes": "x"},
    ],
    "tests": [
        {"code": "tsh", "value": 2.1, "unit": "mIU/L", "date": "2025-07-01"},
        {
            "code": "poc_karyotype",
            "result": "aneuploid",
            "date": "2024-01-20",
            "pregnancy": 0,
            "method": "array",
            "detail": "trisomy 16",
        },
        {"code": "lupus_anticoagulant", "result": "positive", "date": "2025-07-01"},
    ],
    "lifestyle": {
        "smoker": False,
        "bmi": 24.0,
        "alcohol_units_per_week": 1,
        "caffeine_mg_per_day": 100,
    },
    "current_pregnancy": {
        "gestational_age_days": 40,
        "heartbeat_seen": True,
        "bleeding": False,
        "intrauterine_confirmed": True,
    },
}


def valid_case() -> dict[str, Any]:
    """A fresh deep copy of VALID_CASE, safe to mutate."""
    return copy.deepcopy(VALID_CASE)


def dump(data: Any, suffix: str) -> str:
    """Serialise parsed data as a case file of the given kind (.json or .yaml)."""
    if suffix == ".json":
        return json.dumps(data, ensure_ascii=False)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


WriteCase = Callable[..., Path]


@pytest.fixture
def write_case(tmp_path: Path) -> WriteCase:
    """write_case(content, suffix=".json", name="case") -> path. `content` may be bytes, text,
    or parsed data (dumped as JSON or YAML according to `suffix`)."""

    def write(content: Any, suffix: str = ".json", name: str = "case") -> Path:
        path = tmp_path / f"{name}{suffix}"
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_text(dump(content, suffix), encoding="utf-8")
        return path

    return write
