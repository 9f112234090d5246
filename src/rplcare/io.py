"""Read case files (JSON or YAML). The only module of the core that touches the file system."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from rplcare.domain.case import Case
from rplcare.domain.validation import parse_case
from rplcare.errors import CaseValidationError
from rplcare.knowledge.loader import KnowledgeBase, load_knowledge


def parse_text(text: str, source: str, suffix: str) -> Any:
    """JSON for .json, YAML otherwise (YAML 1.1 is a superset of most JSON)."""
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise CaseValidationError(
                [f"not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"], source
            ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or "could not parse"
        raise CaseValidationError([f"not valid YAML: {where}{problem}"], source) from None


def read_case_data(path: Path) -> Any:
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CaseValidationError(["file not found"], source) from None
    except IsADirectoryError:
        raise CaseValidationError(["is a directory, not a case file"], source) from None
    except OSError as exc:
        raise CaseValidationError([f"cannot read file ({exc.strerror})"], source) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CaseValidationError(["not UTF-8 text"], source) from None
    if not text.strip():
        raise CaseValidationError(["file is empty"], source)
    return parse_text(text, source, path.suffix.lower())


def load_case(path: str | Path, kb: KnowledgeBase | None = None) -> Case:
    """Read and validate a case file. Raises CaseValidationError with every problem found."""
    path = Path(path)
    return parse_case(read_case_data(path), kb or load_knowledge(), str(path))
