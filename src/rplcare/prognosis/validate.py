"""`rplcare model validate`: every published figure the models were fitted to, next to the
model's value, the residual and the model's 95% prediction interval for that figure.

The prediction interval for a published figure combines the parameter uncertainty (delta
method), the heterogeneity the fit estimated for that kind of figure (between and within
sources for absolute risks, `relative` for ratios; the residual SD for the current-pregnancy
model) and the figure's own sampling error, on the logit or log scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rplcare.prognosis import frailty
from rplcare.prognosis.current import _components as current_components
from rplcare.prognosis.current import load_current_model
from rplcare.prognosis.data import load_published_data
from rplcare.prognosis.fit import Component, components
from rplcare.prognosis.model import THETA, Z95, load_model

#: A published figure counts as reproduced when it lies inside the model's 95% prediction
#: interval; the report also states the share, which should be close to 95%.
TARGET_COVERAGE = 0.95


@dataclass(frozen=True)
class Row:
    id: str
    model_name: str
    scale: str  # "risk" (shown as %) or "ratio"
    published: float
    model: float
    residual: float  # model - published, on the logit / log scale
    interval: tuple[float, float]
    sd: float  # predictive SD of the figure on the logit / log scale

    @property
    def z(self) -> float:
        return self.residual / self.sd

    @property
    def inside(self) -> bool:
        return self.interval[0] <= self.published <= self.interval[1]


@dataclass(frozen=True)
class Report:
    rows: list[Row]

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def inside(self) -> int:
        return sum(r.inside for r in self.rows)

    @property
    def share_inside(self) -> float:
        return self.inside / self.total

    def table(self) -> Any:
        from rich.table import Table

        t = Table(title="Published figures vs model (95% prediction intervals)")
        for col in ("Figure", "Published", "Model", "Residual", "95% PI", "Inside"):
            t.add_column(col)
        for r in self.rows:
            t.add_row(
                r.id,
                _fmt(r.published, r.scale),
                _fmt(r.model, r.scale),
                f"{r.residual:+.3f}",
                f"{_fmt(r.interval[0], r.scale)} to {_fmt(r.interval[1], r.scale)}",
                "yes" if r.inside else "NO",
            )
        return t


def _fmt(x: float, scale: str) -> str:
    return f"{100 * x:.2f}%" if scale == "risk" else f"{x:.3f}"


def _back(y: float, scale: str) -> float:
    return float(frailty.expit(np.array(y))) if scale == "logit" else float(np.exp(y))


def _next_rows() -> list[Row]:
    model = load_model()
    taus = model.taus
    step = 1e-4
    batch = np.vstack([model.theta, model.theta + step * np.eye(len(THETA))])
    rows = []
    comps: list[Component] = components(load_published_data())
    for c in comps:
        values = c.model(batch)
        grad = (values[1:] - values[0]) / step
        var = float(grad @ model.covariance @ grad) + c.se**2
        var += taus["relative"] ** 2 if c.relative else taus["between"] ** 2 + taus["within"] ** 2
        centre = float(values[0])
        half = Z95 * np.sqrt(var)
        rows.append(
            Row(
                c.id,
                "next pregnancy",
                "risk" if c.scale == "logit" else "ratio",
                _back(c.observed, c.scale),
                _back(centre, c.scale),
                centre - c.observed,
                (_back(centre - half, c.scale), _back(centre + half, c.scale)),
                float(np.sqrt(var)),
            )
        )
    return rows


def _current_rows() -> list[Row]:
    model = load_current_model()
    raw = yaml.safe_load(
        resources.files("rplcare.prognosis").joinpath("sources.yaml").read_text("utf-8")
    )
    step = 1e-5
    batch = np.vstack([model.params, model.params + step * np.eye(len(model.params))])
    rows = []
    for cid, observed, fn in current_components(raw["current_pregnancy"]):
        values = fn(batch)
        grad = (values[1:] - values[0]) / step
        var = float(grad @ model.covariance @ grad) + model.residual_sd**2
        centre = float(values[0])
        half = Z95 * np.sqrt(var)
        is_ratio = cid.endswith(("per-week", "per-loss"))
        scale = "log" if is_ratio else "logit"
        rows.append(
            Row(
                cid,
                "current pregnancy",
                "ratio" if is_ratio else "risk",
                _back(observed, scale),
                _back(centre, scale),
                centre - observed,
                (_back(centre - half, scale), _back(centre + half, scale)),
                float(np.sqrt(var)),
            )
        )
    return rows


def validation_report() -> Report:
    return Report(_next_rows() + _current_rows())


def _markdown(report: Report) -> str:
    lines = [
        "# Prognosis model: published figures vs model",
        "",
        "Generated by `rplcare model validate`. Each row is a published figure the models were "
        "fitted to (see `src/rplcare/prognosis/sources.yaml` for sources and evidence tags), "
        "the model's value, the residual (model minus published, logit scale for risks, log "
        "scale for ratios) and the model's 95% prediction interval for that figure.",
        "",
        f"**{report.inside} of {report.total} published figures "
        f"({100 * report.share_inside:.0f}%) lie inside their 95% prediction interval** "
        f"(target about {100 * TARGET_COVERAGE:.0f}%).",
        "",
        "![calibration plot](prognosis-calibration.svg)",
        "",
        "| Model | Figure | Published | Model | Residual | 95% PI | Inside |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report.rows:
        lines.append(
            f"| {r.model_name} | {r.id} | {_fmt(r.published, r.scale)} | {_fmt(r.model, r.scale)} "
            f"| {r.residual:+.3f} | {_fmt(r.interval[0], r.scale)} to "
            f"{_fmt(r.interval[1], r.scale)} | {'yes' if r.inside else '**no**'} |"
        )
    return "\n".join(lines) + "\n"


def _plot(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    risks = [r for r in report.rows if r.scale == "risk"]
    fig, ax = plt.subplots(figsize=(6, 6))
    for name, marker in (("next pregnancy", "o"), ("current pregnancy", "s")):
        rows = [r for r in risks if r.model_name == name]
        x = [100 * r.published for r in rows]
        y = [100 * r.model for r in rows]
        lo = [100 * (r.model - r.interval[0]) for r in rows]
        hi = [100 * (r.interval[1] - r.model) for r in rows]
        ax.errorbar(x, y, yerr=[lo, hi], fmt=marker, capsize=2, label=name, alpha=0.8)
    ax.plot([0.1, 100], [0.1, 100], color="grey", linewidth=1, label="model = published")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("published risk (%)")
    ax.set_ylabel("model risk (%) with 95% prediction interval")
    ax.set_title("rplcare prognosis: calibration against published risks")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


def write_report(report: Report, output_dir: Path) -> list[Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    md = output_dir / "prognosis-validation.md"
    svg = output_dir / "prognosis-calibration.svg"
    md.write_text(_markdown(report), encoding="utf-8")
    _plot(report, svg)
    return [md, svg]
