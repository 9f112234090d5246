"""Read and write FHIR JSON files (plain or gzipped). The FHIR adapter's only file access."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from rplcare.errors import InputError


def read_json(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        data = json.loads(raw)
    except (OSError, EOFError, gzip.BadGzipFile):
        raise InputError(f"{path}: not a readable gzip file") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise InputError(f"{path}: not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a FHIR resource (a JSON object)")
    return data


def write_json(path: Path | None, data: Any) -> str:
    """Write JSON to `path`, or return it for stdout when `path` is None."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if path is not None:
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror}") from None
    return text
