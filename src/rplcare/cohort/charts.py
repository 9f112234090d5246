"""The summary tables as SVG charts (matplotlib, text kept as text)."""

from __future__ import annotations

from pathlib import Path

from matplotlib import rc_context
from matplotlib.figure import Figure

from rplcare.cohort.engines import Rows
from rplcare.cohort.rules import CohortRules

_COLOURS = ["#1b6ca8", "#c0392b", "#2e8b57", "#8e44ad", "#d68910"]


def _save(fig: Figure, path: Path) -> None:
    # Figure objects, not pyplot: no global state, safe in a server thread.
    fig.tight_layout()
    with rc_context({"svg.fonttype": "none"}):  # text stays text
        fig.savefig(path, format="svg")


def prevalence_chart(rows: Rows, rules: CohortRules, path: Path) -> None:
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    bands = [r["age_band"] for r in rows]
    for colour, g in zip(_COLOURS, rules.definitions, strict=False):
        ax.plot(bands, [r[f"{g.column}_meets_pct"] or 0 for r in rows], "o-", color=colour,
                label=f"{g.guideline}: definition met")  # fmt: skip
        if any(r[f"{g.column}_discretionary"] for r in rows):
            ax.plot(bands, [r[f"{g.column}_discretionary_pct"] or 0 for r in rows], "o--",
                    color=colour, label=f"{g.guideline}: evaluation at discretion")  # fmt: skip
    ax.set_xlabel("Age (years) on the run date")
    ax.set_ylabel("Women (%)")
    ax.set_title("Recurrent pregnancy loss by definition and age band")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def losses_chart(rows: Rows, path: Path) -> None:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.bar([str(r["losses"]) for r in rows], [r["women"] for r in rows], color=_COLOURS[0])
    ax.set_yscale("log")
    ax.set_xlabel("Pregnancy losses per woman")
    ax.set_ylabel("Women (log scale)")
    ax.set_title("Distribution of losses per woman")
    ax.grid(alpha=0.3, axis="y")
    _save(fig, path)


def calibration_chart(by_age: Rows, by_prior: Rows, path: Path) -> None:
    fig = Figure(figsize=(10, 4.5))
    axes = fig.subplots(1, 2)
    for ax, rows, key, title in (
        (axes[0], by_age, "age_band", "by age band at the pregnancy"),
        (axes[1], by_prior, "earlier_losses", "by number of earlier losses"),
    ):
        labels = [r[key] for r in rows]
        ax.plot(labels, [r["expected_pct"] for r in rows], "s--", color=_COLOURS[0],
                label="expected (model)")  # fmt: skip
        ax.plot(labels, [r["observed_pct"] for r in rows], "o-", color=_COLOURS[1],
                label="observed")  # fmt: skip
        ax.set_title(f"Miscarriage risk {title}")
        ax.set_ylabel("Pregnancies ending in miscarriage (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _save(fig, path)
