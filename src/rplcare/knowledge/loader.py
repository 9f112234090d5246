"""Load and cross-check the knowledge files. The result is immutable and cached per process."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from rplcare.errors import KnowledgeError
from rplcare.knowledge.facts import is_known_fact
from rplcare.knowledge.schema import (
    Citation,
    DefinitionRule,
    Guideline,
    HistoryConventions,
    Investigation,
    Reference,
    Threshold,
    Treatment,
    Verification,
    Vocabulary,
)

FILES = (
    "references.yaml",
    "guidelines.yaml",
    "definitions.yaml",
    "vocabulary.yaml",
    "findings.yaml",
    "investigations.yaml",
    "treatments.yaml",
)
#: One file per guideline encoded on its own (the national guidelines): its references,
#: investigations and treatments together, so a guideline can be read and reviewed as a whole.
GUIDELINE_FILES = (
    "guidelines/nvog.yaml",
    "guidelines/ngf-2024.yaml",
)

ALL_FILES = (*FILES, *GUIDELINE_FILES)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    schema_version: int


class ReferencesFile(_File):
    references: dict[str, Reference]


class GuidelinesFile(_File):
    knowledge_version: str
    guidelines: dict[str, Guideline]


class DefinitionsFile(_File):
    history: HistoryConventions
    definitions: dict[str, DefinitionRule]


class VocabularyFile(_File, Vocabulary):
    pass


class Statement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str
    citation: Citation
    verification: Verification


class UnexplainedRule(BaseModel):
    """When RPL counts as unexplained: no cause in `excluded_by` is confirmed or possible and
    every group in `requires_tests` has at least one test done."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    requires_tests: list[list[str]]
    excluded_by: list[str]
    citation: Citation
    verification: Verification


class CauseList(BaseModel):
    """A cited list of cause categories (e.g. what Sydney criterion (c) needs excluded)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    causes: list[str]
    citation: Citation
    verification: Verification


class FindingsFile(_File):
    thresholds: dict[str, Threshold]
    statements: dict[str, Statement]
    unexplained: UnexplainedRule
    aps_criterion_c_requires_excluded: CauseList


class InvestigationsFile(_File):
    items: list[Investigation]


class TreatmentsFile(_File):
    items: list[Treatment]


class GuidelineItemsFile(_File):
    """One guideline's own references and positions (see GUIDELINE_FILES)."""

    guideline: str
    description: str
    references: dict[str, Reference] = {}
    investigations: list[Investigation] = []
    treatments: list[Treatment] = []


@dataclass(frozen=True)
class KnowledgeBase:
    version: str
    references: dict[str, Reference]
    guidelines: dict[str, Guideline]
    history: HistoryConventions
    definitions: dict[str, DefinitionRule]
    vocabulary: Vocabulary
    thresholds: dict[str, Threshold]
    statements: dict[str, Statement]
    unexplained: UnexplainedRule
    aps_criterion_c_requires_excluded: CauseList
    investigations: tuple[Investigation, ...]
    treatments: tuple[Treatment, ...]

    def threshold(self, key: str) -> Threshold:
        return self.thresholds[key]

    def statement(self, key: str) -> Statement:
        return self.statements[key]

    def cite(self, citation: Citation) -> str:
        """A one-line human citation: short reference, locator, and note if any."""
        ref = self.references[citation.ref]
        parts = [ref.short]
        if citation.locator:
            parts.append(citation.locator)
        return ", ".join(parts)


def _read(name: str) -> Any:
    text = resources.files("rplcare.knowledge").joinpath(name).read_text(encoding="utf-8")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KnowledgeError([f"{name}: not valid YAML ({exc})"]) from exc


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], name: str, raw: Any, problems: list[str]) -> M | None:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            problems.append(f"{name}: {loc}: {err['msg']}")
        return None


def load_knowledge_from(raw_files: dict[str, Any]) -> KnowledgeBase:
    """Validate parsed YAML documents (file name -> content) into a KnowledgeBase."""
    problems: list[str] = []
    refs = _parse(ReferencesFile, "references.yaml", raw_files.get("references.yaml"), problems)
    gl = _parse(GuidelinesFile, "guidelines.yaml", raw_files.get("guidelines.yaml"), problems)
    defs = _parse(DefinitionsFile, "definitions.yaml", raw_files.get("definitions.yaml"), problems)
    vocab = _parse(VocabularyFile, "vocabulary.yaml", raw_files.get("vocabulary.yaml"), problems)
    finds = _parse(FindingsFile, "findings.yaml", raw_files.get("findings.yaml"), problems)
    inv = _parse(
        InvestigationsFile, "investigations.yaml", raw_files.get("investigations.yaml"), problems
    )
    tx = _parse(TreatmentsFile, "treatments.yaml", raw_files.get("treatments.yaml"), problems)
    per_guideline = [
        _parse(GuidelineItemsFile, name, raw_files[name], problems)
        for name in GUIDELINE_FILES
        if name in raw_files
    ]
    if problems or None in (refs, gl, defs, vocab, finds, inv, tx):
        raise KnowledgeError(problems or ["a knowledge file is missing"])
    assert refs and gl and defs and vocab and finds and inv and tx  # narrowed for mypy
    extra = [f for f in per_guideline if f is not None]
    references = dict(refs.references)
    for f in extra:
        for key, ref in f.references.items():
            if key in references:
                problems.append(f"guideline file {f.guideline}: reference {key!r} defined twice")
            references[key] = ref
        for item in [*f.investigations, *f.treatments]:
            if item.guideline != f.guideline:
                problems.append(f"{item.id}: in the {f.guideline} file but names {item.guideline}")
    kb = KnowledgeBase(
        version=gl.knowledge_version,
        references=references,
        guidelines=gl.guidelines,
        history=defs.history,
        definitions=defs.definitions,
        vocabulary=Vocabulary.model_validate(vocab.model_dump(exclude={"schema_version"})),
        thresholds=finds.thresholds,
        statements=finds.statements,
        unexplained=finds.unexplained,
        aps_criterion_c_requires_excluded=finds.aps_criterion_c_requires_excluded,
        investigations=(*inv.items, *(i for f in extra for i in f.investigations)),
        treatments=(*tx.items, *(t for f in extra for t in f.treatments)),
    )
    problems.extend(cross_check(kb))
    if problems:
        raise KnowledgeError(problems)
    return kb


def cross_check(kb: KnowledgeBase) -> list[str]:
    """Invariants that span files. Returns every problem found, not just the first."""
    problems: list[str] = []
    tests = set(kb.vocabulary.tests)
    causes = set(kb.vocabulary.causes)

    def citations() -> Iterable[tuple[str, Citation]]:
        yield from ((f"threshold {k}", t.citation) for k, t in kb.thresholds.items())
        yield from ((f"statement {k}", s.citation) for k, s in kb.statements.items())
        yield from ((f"definition {k}", d.citation) for k, d in kb.definitions.items())
        yield "history.kind_rule", kb.history.kind_rule.citation
        yield "aps_criterion_c", kb.aps_criterion_c_requires_excluded.citation
        yield "history.second_trimester", kb.history.second_trimester_from_weeks.citation
        yield "history.viability", kb.history.viability_weeks.citation
        yield from ((i.id, i.citation) for i in kb.investigations)
        yield from ((t.id, t.citation) for t in kb.treatments)

    for where, citation in citations():
        if citation.ref not in kb.references:
            problems.append(f"{where}: citation {citation.ref!r} is not in references.yaml")
    for gid, g in kb.guidelines.items():
        if g.reference not in kb.references:
            problems.append(f"guideline {gid}: reference {g.reference!r} unknown")
    for did, d in kb.definitions.items():
        if d.guideline not in kb.guidelines or did != d.guideline:
            problems.append(f"definition {did}: guideline {d.guideline!r} unknown or mismatched")

    seen: set[str] = set()
    items: list[Investigation | Treatment] = [*kb.investigations, *kb.treatments]
    for item in items:
        if item.id in seen:
            problems.append(f"{item.id}: duplicate id")
        seen.add(item.id)
        if item.guideline not in kb.guidelines:
            problems.append(f"{item.id}: guideline {item.guideline!r} unknown")
        if not item.id.startswith(item.guideline + "."):
            problems.append(f"{item.id}: id must start with its guideline {item.guideline!r}")
        if item.when is not None:
            for pred in item.when.predicates():
                if not is_known_fact(pred.fact, tests, causes):
                    problems.append(f"{item.id}: condition uses unknown fact {pred.fact!r}")
    for inv in kb.investigations:
        if inv.test not in tests:
            problems.append(f"{inv.id}: test {inv.test!r} not in vocabulary.yaml")
    for tx in kb.treatments:
        if tx.intervention not in kb.vocabulary.interventions:
            problems.append(f"{tx.id}: intervention {tx.intervention!r} not in vocabulary.yaml")
    for code in [c for group in kb.unexplained.requires_tests for c in group]:
        if code not in tests:
            problems.append(f"findings.yaml unexplained: test {code!r} not in vocabulary.yaml")
    for cat in [*kb.unexplained.excluded_by, *kb.aps_criterion_c_requires_excluded.causes]:
        if cat not in causes:
            problems.append(f"findings.yaml unexplained: cause {cat!r} not in vocabulary.yaml")
    yield_unexplained = kb.unexplained.citation.ref
    if yield_unexplained not in kb.references:
        problems.append(f"findings.yaml unexplained: citation {yield_unexplained!r} unknown")
    for code, spec in kb.vocabulary.tests.items():
        for result, cat in [*spec.abnormal.items(), *spec.uncertain.items()]:
            if result not in spec.results or cat not in causes:
                problems.append(f"vocabulary test {code!r}: {result!r} -> {cat!r} is not valid")
        for result, key in spec.flag_thresholds.items():
            if result not in spec.results or key not in kb.thresholds:
                problems.append(f"vocabulary test {code!r}: {result!r} -> {key!r} is not valid")
    used_tests = {i.test for i in kb.investigations}
    for code, spec in kb.vocabulary.tests.items():
        if not spec.in_case_vocabulary and code not in used_tests:
            problems.append(f"vocabulary test {code!r} is work-up only but no item uses it")
    return problems


@cache
def load_knowledge() -> KnowledgeBase:
    """The packaged knowledge base, validated. Raises KnowledgeError listing every problem."""
    return load_knowledge_from({name: _read(name) for name in ALL_FILES})
