"""R4 validation for tests: every resource must pass both the fhir.resources R4B models (types,
required elements, choice types, primitive formats) and the official FHIR R4 JSON schema (which
rejects elements R4 does not have, such as R4B additions)."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from fhir.resources.R4B import get_fhir_model_class

DATA = Path(__file__).parent / "data"
SYNTHEA = DATA / "synthea"


@cache
def _schema() -> dict[str, Any]:
    with gzip.open(DATA / "r4-schema" / "fhir.schema.json.gz", "rt", encoding="utf-8") as f:
        schema: dict[str, Any] = json.load(f)
    return schema


@cache
def _validator(resource_type: str) -> jsonschema.Draft6Validator:
    definitions = _schema()["definitions"]
    if resource_type not in definitions:
        raise AssertionError(f"{resource_type} is not an R4 resource type")
    return jsonschema.Draft6Validator(
        {"$ref": f"#/definitions/{resource_type}", "definitions": definitions}
    )


def r4_problems(resource: dict[str, Any]) -> list[str]:
    """Problems with one resource (a Bundle's entries are checked one by one as well)."""
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        return ["no resourceType"]
    problems: list[str] = []
    try:
        get_fhir_model_class(rtype).model_validate(resource)
    except Exception as exc:  # pydantic ValidationError or unknown type
        problems.append(f"{rtype} (fhir.resources R4B): {exc}")
    if rtype == "Bundle":
        # The schema's Bundle.entry.resource is a oneOf over every resource type, which takes
        # seconds per entry; validate the envelope without them and each resource by its type.
        shell = {
            **resource,
            "entry": [
                {k: v for k, v in e.items() if k != "resource"} for e in resource.get("entry", [])
            ],
        }
        problems += _schema_problems(shell)
        for i, entry in enumerate(resource.get("entry", [])):
            if "resource" in entry:
                problems += [f"entry[{i}].{p}" for p in r4_problems(entry["resource"])]
        return problems
    return problems + _schema_problems(resource)


def _schema_problems(resource: dict[str, Any]) -> list[str]:
    rtype = resource["resourceType"]
    return [
        f"{rtype} (R4 schema) at /{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator(rtype).iter_errors(resource)
    ]


def assert_valid_r4(resource: dict[str, Any]) -> None:
    problems = r4_problems(resource)
    assert not problems, "\n".join(problems[:20])


def synthea_bundle(name: str) -> dict[str, Any]:
    with gzip.open(SYNTHEA / f"{name}.json.gz", "rt", encoding="utf-8") as f:
        bundle: dict[str, Any] = json.load(f)
    return bundle


SYNTHEA_NAMES = sorted(p.name.removesuffix(".json.gz") for p in SYNTHEA.glob("*.json.gz"))
