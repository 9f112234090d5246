"""`rplcare model validate`: every published figure the models were fitted to, next to the
model's value, the residual and the model's 95% prediction interval for that figure; and the
out-of-sample check: each source left out in turn (leave-one-source-out, LOSO), the models
refitted without it and its figures predicted.

The LOSO standardised residuals also calibrate the intervals: the extra "new source" variance
is the smallest that puts at least TARGET_COVERAGE of the left-out figures inside their 95%
prediction intervals (`calibrate`); `rplcare model fit` stores it in parameters.json and
prediction adds it.

The prediction interval for a published figure combines the parameter uncertainty (delta
method), the heterogeneity the fit estimated for that kind of figure (between and within
sources for absolute risks, `relative` for ratios; the residual SD for the current-pregnancy
model) and the figure's own sampling error, on the logit or log scale.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import resources
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rplcare.prognosis import current as cur
from rplcare.prognosis import frailty
from rplcare.prognosis.current import load_current_model
from rplcare.prognosis.data import load_published_data
from rplcare.prognosis.fit import BOUNDS, Component, components, optimise
from rplcare.prognosis.frailty import Array
from rplcare.prognosis.model import TAUS, THETA, Z95, load_model, load_parameters

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
    bound: str | None = None  # "lower"/"upper": the paper gives a bound; residual 0 if kept

    @property
    def z(self) -> float:
        return self.residual / self.sd

    @property
    def inside(self) -> bool:
        if self.bound == "lower":
            return self.interval[1] >= self.published
        if self.bound == "upper":
            return self.interval[0] <= self.published
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


def _raw_current_spec() -> dict[str, Any]:
    raw = yaml.safe_load(
        resources.files("rplcare.prognosis").joinpath("sources.yaml").read_text("utf-8")
    )
    return dict(raw["current_pregnancy"])


def _next_new_source_var(relative: bool) -> float:
    sds = load_parameters()["next_pregnancy"].get("prediction", {}).get("new_source_sd", {})
    return float(sds.get("relative" if relative else "absolute", 0.0)) ** 2


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
        var = float(grad @ model.covariance @ grad) + c.se**2 + _next_new_source_var(c.relative)
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
    step = 1e-5
    batch = np.vstack([model.params, model.params + step * np.eye(len(model.params))])
    rows = []
    for c in cur.components(_raw_current_spec(), model.next_theta):
        values = c.model(batch)
        grad = (values[1:] - values[0]) / step
        var = float(grad @ model.covariance @ grad) + model.residual_sd**2 + c.se**2
        var += model.new_source_sd**2
        centre = float(values[0])
        half = Z95 * np.sqrt(var)
        is_ratio = c.scale == "log"
        rows.append(
            Row(
                c.id + ("" if c.fitted else " (validation only)"),
                "current pregnancy",
                "ratio" if is_ratio else "risk",
                _back(c.observed, c.scale),
                _back(centre, c.scale),
                cur.residual(c, centre),
                (_back(centre - half, c.scale), _back(centre + half, c.scale)),
                float(np.sqrt(var)),
                c.bound,
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
    loso_svg = output_dir / "prognosis-loso.svg"
    loso = loso_report()
    md.write_text(_markdown(report) + _loso_markdown(loso), encoding="utf-8")
    _plot(report, svg)
    _plot_loso(loso, loso_svg)
    return [md, svg, loso_svg]


def _pct(x: float) -> str:
    return "–" if math.isnan(x) else f"{100 * x:.0f}%"


def _num(x: float, digits: int = 1) -> str:
    return "–" if math.isnan(x) else f"{x:.{digits}f}"


def _loso_markdown(loso: LosoReport) -> str:
    overall = loso.by_model()
    lines = [
        "",
        "## Out of sample: each source left out in turn",
        "",
        "Each source (a top-level entry of `sources:` in sources.yaml; for the current-pregnancy "
        "model the prefix of the figure's id) is left out, both models are refitted without it "
        "and its figures are predicted (leave-one-source-out, LOSO). Figures marked "
        '"validation only" in sources.yaml are never fitted. MAE: mean absolute error of '
        "the risks in percentage points (bounds: by how much the model breaks them), and of the "
        "ratios on the log scale. Coverage: share of the source's figures inside the 95% "
        "prediction interval of the refit, first without and then with the calibrated extra "
        '"new source" variance (the smallest that puts at least '
        f"{TARGET_COVERAGE_LOSO:.0%} of the fitted figures of each group inside); "
        "cross-validated: with that variance calibrated on the other sources only. Width: "
        "median width of the calibrated 95% interval of the risks, percentage points.",
        "",
        "Calibrated new-source SD (logit / log scale): "
        + ", ".join(f"{g} {sd:.3f}" for g, sd in loso.sds.items())
        + ".",
        "",
        f"**Overall: {_pct(overall['all']['coverage_cross_validated'])} of "
        f"{int(overall['all']['figures'])} left-out figures inside their calibrated 95% "
        f"prediction intervals (cross-validated; {_pct(overall['all']['coverage_uncalibrated'])}"
        " without the new-source variance).**",
        "",
        "![LOSO calibration plot](prognosis-loso.svg)",
        "",
        "| Model | Source | Figures | MAE (points) | MAE (log ratio) | Coverage, uncalibrated "
        "| Coverage | Coverage, cross-validated | Median width (points) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows = list(loso.by_source().items()) + [((m, "**all**"), v) for m, v in overall.items()]
    for (model, source), v in rows:
        lines.append(
            f"| {model} | {source} | {int(v['figures'])} | {_num(v['mae_points'])} | "
            f"{_num(v['mae_log_ratio'], 2)} | {_pct(v['coverage_uncalibrated'])} | "
            f"{_pct(v['coverage'])} | {_pct(v['coverage_cross_validated'])} | "
            f"{_num(v['median_width_points'])} |"
        )
    lines += [
        "",
        "| Model | Left-out figure | Published | LOSO prediction | 95% PI (calibrated) | Inside |",
        "|---|---|---|---|---|---|",
    ]
    for f in loso.figures:
        scale = "risk" if f.scale == "logit" else "ratio"
        lo, hi = f.interval(loso.extra_var(f))
        name = f.id + ("" if f.fitted else " (validation only)")
        if f.bound:
            name += f" ({f.bound} bound)"
        lines.append(
            f"| {f.model_name} | {name} | {_fmt(_back(f.observed, f.scale), scale)} | "
            f"{_fmt(_back(f.predicted, f.scale), scale)} | {_fmt(lo, scale)} to "
            f"{_fmt(hi, scale)} | {'yes' if f.inside(loso.extra_var(f)) else '**no**'} |"
        )
    return "\n".join(lines) + "\n"


def _plot_loso(loso: LosoReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6))
    risks = [f for f in loso.figures if f.scale == "logit" and f.bound is None]
    for name, marker in (("next pregnancy", "o"), ("current pregnancy", "s")):
        sel = [f for f in risks if f.model_name == name]
        x = [100 * _back(f.observed, "logit") for f in sel]
        y = [100 * _back(f.predicted, "logit") for f in sel]
        bands = [f.interval(loso.extra_var(f)) for f in sel]
        lo = [yy - 100 * b[0] for yy, b in zip(y, bands, strict=True)]
        hi = [100 * b[1] - yy for yy, b in zip(y, bands, strict=True)]
        ax.errorbar(x, y, yerr=[lo, hi], fmt=marker, capsize=2, label=name, alpha=0.8)
    ax.plot([0.05, 100], [0.05, 100], color="grey", linewidth=1, label="prediction = published")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("published risk (%)")
    ax.set_ylabel("prediction without that source (%) with calibrated 95% PI")
    ax.set_title("rplcare prognosis: leave-one-source-out calibration")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


# ----------------------------------------------------------------- leave one source out

#: The extra "new source" variance is the smallest putting at least this share of the
#: left-out figures inside their 95% prediction intervals.
TARGET_COVERAGE_LOSO = 0.95
#: Calibration groups: one extra variance each.
GROUPS = ("next-absolute", "next-relative", "current")


@dataclass(frozen=True)
class Figure:
    """One published figure predicted by a fit that did not see its source."""

    id: str
    source: str
    group: str  # one of GROUPS
    scale: str  # "logit" (risks) or "log" (ratios)
    observed: float
    predicted: float
    sd: float  # predictive SD without the new-source term
    bound: str | None = None
    fitted: bool = True  # False: a validation-only figure (never fitted)

    @property
    def model_name(self) -> str:
        return "current pregnancy" if self.group == "current" else "next pregnancy"

    @property
    def residual(self) -> float:
        r = self.predicted - self.observed
        if self.bound == "lower":
            return min(r, 0.0)
        if self.bound == "upper":
            return max(r, 0.0)
        return r

    def inside(self, extra_var: float = 0.0) -> bool:
        return abs(self.residual) <= Z95 * math.sqrt(self.sd**2 + extra_var)

    def needed_var(self) -> float:
        """The smallest extra variance that puts this figure inside its 95% PI."""
        return max(0.0, (self.residual / Z95) ** 2 - self.sd**2)

    def interval(self, extra_var: float = 0.0) -> tuple[float, float]:
        half = Z95 * math.sqrt(self.sd**2 + extra_var)
        return _back(self.predicted - half, self.scale), _back(self.predicted + half, self.scale)

    @property
    def abs_error_points(self) -> float | None:
        """|predicted - published| in percentage points (risks only; bounds: distance)."""
        if self.scale != "logit":
            return None
        return 100 * abs(
            _back(self.observed + self.residual, "logit") - _back(self.observed, "logit")
        )


def calibrate(figures: Sequence[Figure], target: float = TARGET_COVERAGE_LOSO) -> float:
    """Smallest extra variance v >= 0 with at least `target` of the figures inside."""
    if not figures:
        return 0.0
    needed = sorted(f.needed_var() for f in figures)
    return float(needed[max(math.ceil(target * len(needed)) - 1, 0)])


def _group(c: Component) -> str:
    return "next-relative" if c.relative else "next-absolute"


def _next_loso_source(args: tuple[str, list[float]]) -> list[Figure]:
    """Refit the next-pregnancy model without `source` and predict its figures."""
    source, start = args
    comps = components(load_published_data())
    train = [c for c in comps if c.source != source]
    opt = optimise(train, np.array(start), polish=False)
    n = len(THETA)
    theta, cov = opt.x[:n], opt.covariance[:n, :n]
    tau_b, tau_w, tau_r = np.exp(opt.x[n:])
    step = 1e-4
    batch = np.vstack([theta, theta + step * np.eye(n)])
    out = []
    for c in comps:
        if c.source != source:
            continue
        values = c.model(batch)
        grad = (values[1:] - values[0]) / step
        var = float(grad @ cov @ grad) + c.se**2
        var += tau_r**2 if c.relative else tau_b**2 + tau_w**2
        out.append(
            Figure(c.id, source, _group(c), c.scale, c.observed, float(values[0]), math.sqrt(var))
        )
    return out


def start_from_document(doc: dict[str, Any]) -> list[float]:
    """The optimiser's vector (THETA, log heterogeneity SDs) from a parameters document."""
    lows = [lo for lo, _ in BOUNDS[len(THETA) :]]
    logs = [
        max(math.log(max(doc["heterogeneity_sd"][k], 1e-300)), lo)
        for k, lo in zip(("between", "within", "relative"), lows, strict=True)
    ]
    assert len(logs) == len(TAUS)
    return [float(doc["parameters"][k]) for k in THETA] + logs


def next_loso(start: Sequence[float], workers: int | None = None) -> list[Figure]:
    """LOSO for the next-pregnancy model; refits warm-started at `start` (the full fit),
    in parallel processes (spawned: the components hold closures)."""
    sources = sorted({o.source for o in load_published_data().observations})
    jobs = [(s, list(start)) for s in sources]
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    if workers <= 1:
        results = [_next_loso_source(j) for j in jobs]
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            results = list(pool.map(_next_loso_source, jobs))
    return [f for rs in results for f in rs]


def current_loso(spec: dict[str, Any], next_theta: Array) -> list[Figure]:
    """LOSO for the current-pregnancy model (a source = the id's prefix). Validation-only
    figures are never fitted, so they are predicted by the full fit."""
    comps = cur.components(spec, next_theta)
    out: list[Figure] = []
    full = cur.optimise(comps)
    start = np.append(full.params, math.log(full.residual_sd))
    for source in sorted({c.source for c in comps}):
        test = [c for c in comps if c.source == source]
        if all(not c.fitted for c in test):
            fit = full
        else:
            train = [c for c in comps if c.source != source]
            fit = cur.optimise(train, start, polish=False)
        step = 1e-5
        batch = np.vstack([fit.params, fit.params + step * np.eye(len(fit.params))])
        for c in test:
            values = c.model(batch)
            grad = (values[1:] - values[0]) / step
            var = float(grad @ fit.covariance @ grad) + fit.residual_sd**2 + c.se**2
            out.append(
                Figure(
                    c.id,
                    source,
                    "current",
                    c.scale,
                    c.observed,
                    float(values[0]),
                    math.sqrt(var),
                    c.bound,
                    c.fitted,
                )
            )
    return out


def new_source_sds(figures: Sequence[Figure]) -> dict[str, float]:
    """The calibrated extra SD per group (validation-only figures excluded: they may come
    from treated or differently defined populations)."""
    return {
        g: math.sqrt(calibrate([f for f in figures if f.group == g and f.fitted])) for g in GROUPS
    }


def cross_validated_inside(figures: Sequence[Figure]) -> dict[str, bool]:
    """Nested check of the calibration: each source's figures judged with the extra variance
    calibrated on the other sources' LOSO figures only."""
    out = {}
    for f in figures:
        others = [g for g in figures if g.group == f.group and g.source != f.source and g.fitted]
        out[f.id] = f.inside(calibrate(others))
    return out


@dataclass(frozen=True)
class LosoReport:
    figures: list[Figure]
    sds: dict[str, float]  # calibrated new-source SD per group

    def extra_var(self, f: Figure) -> float:
        return self.sds[f.group] ** 2

    @property
    def cross_validated(self) -> dict[str, bool]:
        return cross_validated_inside(self.figures)

    def summary(self, figures: Sequence[Figure], calibrated: bool = True) -> dict[str, float]:
        errors = [e for f in figures if (e := f.abs_error_points) is not None]
        ratios = [abs(f.residual) for f in figures if f.scale == "log"]
        widths = []
        for f in figures:
            if f.scale == "logit":
                lo, hi = f.interval(self.extra_var(f) if calibrated else 0.0)
                widths.append(100 * (hi - lo))
        cv = self.cross_validated
        return {
            "figures": float(len(figures)),
            "mae_points": float(np.mean(errors)) if errors else math.nan,
            "mae_log_ratio": float(np.mean(ratios)) if ratios else math.nan,
            "coverage_uncalibrated": float(np.mean([f.inside() for f in figures])),
            "coverage": float(
                np.mean([f.inside(self.extra_var(f) if calibrated else 0.0) for f in figures])
            ),
            "coverage_cross_validated": float(np.mean([cv[f.id] for f in figures])),
            "median_width_points": float(np.median(widths)) if widths else math.nan,
        }

    def by_source(self) -> dict[tuple[str, str], dict[str, float]]:
        keys = sorted({(f.model_name, f.source) for f in self.figures})
        return {
            k: self.summary([f for f in self.figures if (f.model_name, f.source) == k])
            for k in keys
        }

    def by_model(self) -> dict[str, dict[str, float]]:
        names = ("next pregnancy", "current pregnancy")
        out = {n: self.summary([f for f in self.figures if f.model_name == n]) for n in names}
        out["all"] = self.summary(self.figures)
        return out


def loso_from_fit(doc: dict[str, Any]) -> list[Figure]:
    """Both models' LOSO figures, warm-started at the fitted parameters document `doc`."""
    nxt = next_loso(start_from_document(doc["next_pregnancy"]))
    theta = np.array([doc["next_pregnancy"]["parameters"][k] for k in THETA])
    return nxt + current_loso(_raw_current_spec(), theta)


@cache
def loso_report() -> LosoReport:
    """LOSO of the committed fit (cached: the refits take a minute or two)."""
    params = load_parameters()
    figures = loso_from_fit(params)
    stored = {
        "next-absolute": params["next_pregnancy"].get("prediction", {}).get("new_source_sd", {}),
        "current": params["current_pregnancy"].get("prediction", {}),
    }
    sds = {
        "next-absolute": float(stored["next-absolute"].get("absolute", 0.0)),
        "next-relative": float(stored["next-absolute"].get("relative", 0.0)),
        "current": float(stored["current"].get("new_source_sd", 0.0)),
    }
    return LosoReport(figures, sds)
