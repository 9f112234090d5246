"""The leaflet's written content (content.yaml): schema, loader and cross-checks.

The English text of each paragraph is its gettext message id. Numbers live in `params` so
every language formats them itself; each paragraph carries its sources and the weakest
verification tag among them.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rplcare.errors import KnowledgeError
from rplcare.knowledge.loader import KnowledgeBase

Verification = Literal["verified", "secondary", "unverified"]
ChartName = Literal["population_by_age", "risk_by_losses"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Param(_Strict):
    """One number in a paragraph. Exactly one kind: a whole number, a decimal or a share."""

    integer: int | None = None
    number: float | None = None
    percent: Annotated[float, Field(ge=0, le=1)] | None = None
    # A national figure: the clinic profile's value replaces the default above when it has one.
    national: Literal["miscarriage_limit"] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Param:
        if sum(v is not None for v in (self.integer, self.number, self.percent)) != 1:
            raise ValueError("give exactly one of integer, number, percent")
        return self


class Cited(_Strict):
    text: Annotated[str, Field(min_length=1)]
    refs: Annotated[list[str], Field(min_length=1)]
    verification: Verification
    params: dict[str, Param] = Field(default_factory=dict)


class Explained(Cited):
    """A test, intervention or cause: its plain-language name and what it is."""

    label: Annotated[str, Field(min_length=1)]


class Paragraph(Cited):
    chart: ChartName | None = None
    table: Literal["tests"] | None = None


class AgeBand(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_age: Annotated[int | None, Field(alias="from")] = None
    to_age: Annotated[int | None, Field(alias="to")] = None
    risk: Annotated[float, Field(gt=0, lt=1)]
    tag: Literal["P", "S"]


class AgeChart(_Strict):
    refs: list[str]
    verification: Verification
    bands: Annotated[list[AgeBand], Field(min_length=2)]


class LossesChart(_Strict):
    example_age: Annotated[int, Field(ge=18, le=45)]
    max_losses: Annotated[int, Field(ge=1, le=6)]


class Charts(_Strict):
    population_by_age: AgeChart
    risk_by_losses: LossesChart


class Section(_Strict):
    id: str
    title: str
    paragraphs: Annotated[list[Paragraph], Field(min_length=1)]


class Content(_Strict):
    schema_version: Literal[1]
    content_version: str
    general: list[Section]
    charts: Charts
    tests: dict[str, Explained]
    interventions: dict[str, Explained]
    causes: dict[str, Explained]


def parse_content(raw: Any, kb: KnowledgeBase) -> Content:
    """Validate content against its schema and against the knowledge base it explains."""
    try:
        content = Content.model_validate(raw)
    except ValidationError as exc:
        raise KnowledgeError(
            [f"leaflet content: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        ) from None
    problems = cross_check(content, kb)
    if problems:
        raise KnowledgeError(problems)
    return content


def cross_check(content: Content, kb: KnowledgeBase) -> list[str]:
    problems: list[str] = []
    vocab = kb.vocabulary
    for name, have, want in (
        ("tests", content.tests, vocab.tests),
        ("interventions", content.interventions, vocab.interventions),
        ("causes", content.causes, vocab.labels),
    ):
        for code in sorted(set(want) - set(have)):
            problems.append(f"leaflet content: {name}.{code} has no plain-language text")
        for code in sorted(set(have) - set(want)):
            problems.append(f"leaflet content: {name}.{code} is not in the vocabulary")
    items: list[tuple[str, Cited]] = [
        (f"{s.id}[{i}]", p) for s in content.general for i, p in enumerate(s.paragraphs)
    ]
    for name, table in (
        ("tests", content.tests),
        ("interventions", content.interventions),
        ("causes", content.causes),
    ):
        items += [(f"{name}.{k}", v) for k, v in table.items()]
    for where, item in items:
        for ref in item.refs:
            if ref not in kb.references:
                problems.append(f"leaflet content: {where} cites unknown reference {ref!r}")
        named = set(_placeholders(item.text))
        if named != set(item.params):
            problems.append(
                f"leaflet content: {where}: placeholders {sorted(named)} "
                f"do not match params {sorted(item.params)}"
            )
    example = content.charts.risk_by_losses.example_age
    for where, item in items:
        age = item.params.get("age") if where.startswith("chances") else None
        if age is not None and age.integer != example:
            problems.append(
                f"leaflet content: {where}: age {age.integer} differs from the chart's {example}"
            )
    return problems


def _placeholders(text: str) -> list[str]:
    import re

    return re.findall(r"%\((\w+)\)s", text)


@cache
def load_content() -> Content:
    from rplcare.knowledge.loader import load_knowledge

    text = resources.files("rplcare.leaflet").joinpath("content.yaml").read_text("utf-8")
    return parse_content(yaml.safe_load(text), load_knowledge())
