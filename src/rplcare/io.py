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


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(f"duplicate key {key!r}")
        out[key] = value
    return out


class _CaseLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys instead of silently keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # unhashable: the base class reports it
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key!r}",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep)


def parse_text(text: str, source: str, suffix: str) -> Any:
    """JSON for .json, YAML otherwise (YAML 1.1 is a superset of most JSON)."""
    if suffix == ".json":
        try:
            return json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            raise CaseValidationError(
                [f"not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"], source
            ) from None
        except _DuplicateKeyError as exc:
            raise CaseValidationError([f"not valid JSON: {exc}"], source) from None
        except ValueError:  # an integer of more than 4300 digits
            raise CaseValidationError(["not valid JSON: a number is too long"], source) from None
        except RecursionError:
            raise CaseValidationError(["not valid JSON: nested too deeply"], source) from None
    try:
        return yaml.load(text, Loader=_CaseLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or "could not parse"
        raise CaseValidationError([f"not valid YAML: {where}{problem}"], source) from None
    except ValueError as exc:  # e.g. `2026-02-30` read as a date, or a 5000-digit integer
        problem = "a number is too long" if "integer string conversion" in str(exc) else exc
        raise CaseValidationError([f"not valid YAML: {problem}"], source) from None
    except RecursionError:
        raise CaseValidationError(["not valid YAML: nested too deeply"], source) from None


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
    except ValueError:  # a path with a NUL character
        raise CaseValidationError(["cannot read file (invalid path)"], source) from None
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
