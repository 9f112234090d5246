"""Load the published observations (sources.yaml) into typed records."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

Setting = Literal["population", "clinic"]


@dataclass(frozen=True)
class Observation:
    id: str
    source: str
    setting: Setting
    kind: str
    tag: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class FixedEffect:
    name: str
    odds_ratio: float
    outcome: Literal["miscarriage", "viable_pregnancy"]
    source: str
    centre: float | None = None

    @classmethod
    def from_mapping(cls, name: str, e: dict[str, Any]) -> FixedEffect:
        """From sources.yaml or the context block of parameters.json (same keys)."""
        return cls(
            name=name,
            odds_ratio=float(e["odds_ratio"]),
            outcome=e["outcome"],
            source=e["source"],
            centre=e.get("centre"),
        )


@dataclass(frozen=True)
class OtherLossBand:
    low: int
    high: int
    other: float  # ectopic + stillbirth


@dataclass(frozen=True)
class PublishedData:
    observations: tuple[Observation, ...]
    fixed_effects: dict[str, FixedEffect]
    citations: dict[str, str]
    other_losses: tuple[OtherLossBand, ...]
    other_losses_citation: str
    limits: tuple[str, ...]
    raw_text: str

    def other_loss_risk(self, age: float) -> float:
        """Ectopic + stillbirth risk for the age band containing `age` (clamped to the table)."""
        bands = self.other_losses
        for band in bands:
            if age < band.high + 1:
                return band.other
        return bands[-1].other


def _loss_counts(spec: dict[str, Any]) -> list[int]:
    counts = [int(spec[k]) for k in ("k", "k_ref", "j", "i", "losses") if k in spec]
    if "shares" in spec:  # lifetime shares for 0, 1, 2, ... losses (the last one open-ended)
        counts.append(len(spec["shares"]) - 1)
    return counts


def next_pregnancy_domain(data: PublishedData) -> dict[str, Any]:
    """The range of the data the next-pregnancy model was fitted to: ages (age bands and
    stated cohort ages) and previous losses (the largest count any figure describes)."""
    ages: list[float] = []
    losses: list[int] = [0]
    for o in data.observations:
        for band in o.spec.get("bands", []):
            ages += [float(band["ages"][0]), float(band["ages"][1])]
        if "age" in o.spec:
            ages.append(float(o.spec["age"]))
        losses += _loss_counts(o.spec)
    return {"ages": [min(ages), max(ages)], "losses": [0, max(losses)]}


def current_pregnancy_domain(raw: dict[str, Any], ages: list[float]) -> dict[str, Any]:
    """Gestational days and previous losses covered by the current-pregnancy figures; ages
    are the next-pregnancy model's (its age curve is shared)."""
    obs = raw["observations"]
    days = [int(o["from_day"]) for o in obs] + [int(o["to_day"]) for o in obs]
    losses = [int(o.get("losses", 0)) for o in obs]
    return {"gestational_days": [min(days), max(days)], "losses": [0, max(losses)], "ages": ages}


def prediction_context(data: PublishedData) -> dict[str, Any]:
    """What prediction needs besides fitted parameters; stored in parameters.json so that
    prediction reads one small JSON file (fast start-up for `rplcare risk`)."""
    return {
        "fixed_effects": {
            name: {
                "odds_ratio": e.odds_ratio,
                "outcome": e.outcome,
                "centre": e.centre,
                "source": e.source,
            }
            for name, e in data.fixed_effects.items()
        },
        "other_losses_by_age": [
            {"ages": [b.low, b.high], "other": b.other} for b in data.other_losses
        ],
        "other_losses_citation": data.other_losses_citation,
        "limits": list(data.limits),
    }


@cache
def load_published_data() -> PublishedData:
    text = resources.files("rplcare.prognosis").joinpath("sources.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    observations = []
    citations = {}
    for name, source in raw["sources"].items():
        citations[name] = source["citation"]
        for obs in source["observations"]:
            spec = {k: v for k, v in obs.items() if k not in {"id", "kind", "tag"}}
            observations.append(
                Observation(obs["id"], name, source["setting"], obs["kind"], obs["tag"], spec)
            )
    effects = {name: FixedEffect.from_mapping(name, e) for name, e in raw["fixed_effects"].items()}
    other = raw["other_losses_by_age"]
    bands = tuple(
        OtherLossBand(b["ages"][0], b["ages"][1], float(b["ectopic"]) + float(b["stillbirth"]))
        for b in other["bands"]
    )
    return PublishedData(
        tuple(observations),
        effects,
        citations,
        bands,
        other["citation"],
        tuple(raw["limits"]),
        text,
    )
