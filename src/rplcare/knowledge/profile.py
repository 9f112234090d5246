"""Clinic pathway profiles: which guidelines a clinic shows (in order, one primary), its local
eligibility rules and the clinic's name and contact line for leaflets.

A profile is a YAML file validated against `Profile`; the shipped examples live in
`knowledge/profiles/` and can be named instead of a path (`--profile netherlands-nvog`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rplcare.errors import InputError, KnowledgeError
from rplcare.knowledge.loader import KnowledgeBase
from rplcare.knowledge.schema import Citation, LossKindName, Verification

PROFILE_SCHEMA = "rplcare.profile/1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Clinic(_Strict):
    name: str
    contact: str | None = None  # one line for leaflets: phone, address or web page


def _clinical_kinds() -> list[LossKindName]:
    return ["clinical_first_trimester", "second_trimester"]


class EligibilityRule(_Strict):
    """A local rule for who enters the clinic's work-up (published practice, cited)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    description: str
    min_losses: int = Field(ge=1)
    consecutive: bool = False
    counted_kinds: list[LossKindName] = Field(default_factory=_clinical_kinds)
    loss_weeks_from: float | None = None  # a loss counts from this gestation (inclusive) ...
    loss_weeks_before: float | None = None  # ... and before this one
    woman_age_below: int | None = None
    partner_age_below: int | None = None
    citation: Citation
    verification: Verification


class MiscarriageLimit(_Strict):
    """The national limit between a miscarriage and a stillbirth, in completed weeks, as the
    clinic's country defines it (leaflets state the limit they use)."""

    weeks: int = Field(ge=20, le=28)
    citation: Citation
    verification: Verification


class Profile(_Strict):
    schema_: str = Field(alias="schema", pattern=r"^rplcare\.profile/1$")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    name: str
    description: str
    clinic: Clinic
    guidelines: list[str] = Field(min_length=1)  # shown, in this order
    primary: str
    eligibility: list[EligibilityRule] = Field(default_factory=list)
    miscarriage_limit: MiscarriageLimit | None = None

    @model_validator(mode="after")
    def _primary_is_shown(self) -> Profile:
        if self.primary not in self.guidelines:
            raise ValueError(f"primary {self.primary!r} is not among the guidelines shown")
        if len(set(self.guidelines)) != len(self.guidelines):
            raise ValueError("a guideline is listed twice")
        return self

    def check(self, kb: KnowledgeBase) -> list[str]:
        """Problems against a knowledge base: unknown guidelines or references."""
        problems = [
            f"profile {self.id}: unknown guideline {g!r}"
            for g in self.guidelines
            if g not in kb.guidelines
        ]
        problems += [
            f"profile {self.id}: rule {r.id}: unknown reference {r.citation.ref!r}"
            for r in self.eligibility
            if r.citation.ref not in kb.references
        ]
        limit = self.miscarriage_limit
        if limit is not None and limit.citation.ref not in kb.references:
            problems.append(
                f"profile {self.id}: miscarriage_limit: unknown reference {limit.citation.ref!r}"
            )
        return problems

    def order(self, guideline: str) -> int:
        return self.guidelines.index(guideline)


def shipped_profiles() -> list[str]:
    root = resources.files("rplcare.knowledge").joinpath("profiles")
    return sorted(p.name.removesuffix(".yaml") for p in root.iterdir() if p.name.endswith(".yaml"))


def parse_profile(raw: object, source: str, kb: KnowledgeBase) -> Profile:
    try:
        profile = Profile.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{source}: {'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()
        ]
        raise InputError("; ".join(problems)) from None
    problems = profile.check(kb)
    if problems:
        raise KnowledgeError(problems)
    return profile


def load_profile(name_or_path: str, kb: KnowledgeBase) -> Profile:
    """A shipped profile by name, or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{name_or_path}: cannot read the profile ({exc.strerror})") from None
        source = str(path)
    elif name_or_path in shipped_profiles():
        root = resources.files("rplcare.knowledge").joinpath("profiles")
        text = root.joinpath(f"{name_or_path}.yaml").read_text(encoding="utf-8")
        source = f"profile {name_or_path}"
    else:
        known = ", ".join(shipped_profiles())
        raise InputError(f"{name_or_path}: no such profile file or shipped profile ({known})")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: not valid YAML ({exc})") from None
    return parse_profile(raw, source, kb)
