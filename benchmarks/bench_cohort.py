"""Cohort-mode benchmark (issue 8 targets: 10 million pregnancies in <= 60 s on this 2-core
machine with the embedded engine, and >= 100x faster than the per-case loop; report peak memory).

1. Simulates a register of at least `--pregnancies` rows with `rplcare cohort simulate`'s code
   (timed, not part of the target) into a temporary Parquet file.
2. Runs `rplcare cohort run` on it as a separate process (`--engine duckdb` by default) and
   reports its wall time, its steps (from run.json) and the process's peak resident memory.
3. Times the per-case loop on a random sample of women: for each woman, her case file is parsed
   and validated, then (a) `rplcare.engine.assess.assess` (what a user looping the CLI engine
   pays), and (b) only the per-case pieces that produce the cohort's columns (history,
   the three definitions, the next-pregnancy estimate). Both are extrapolated to every woman in
   the register. The target compares with (a), the per-case engine as users would loop it;
   (b) is reported too, as the stricter comparison.

    .venv/bin/python benchmarks/bench_cohort.py [--pregnancies 10000000] [--sample 3000]
        [--engine duckdb|spark] [--memory-limit 2GB]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rplcare.cohort.simulate import SimulationSettings, simulate, write_register
from rplcare.domain.history import age_at, derive_history
from rplcare.domain.validation import parse_case
from rplcare.engine.assess import assess, history_sequence
from rplcare.engine.definitions import classify
from rplcare.knowledge.loader import load_knowledge
from rplcare.prognosis.predict import estimates

TARGET_S = 60.0
TARGET_SPEEDUP = 100.0
PREGNANCIES_PER_WOMAN = 2.1  # what the simulator's default settings give, to size the run


def _cases(columns: dict[str, np.ndarray], women: np.ndarray, as_of: str) -> list[dict[str, Any]]:
    wanted = set(women.tolist())
    cases: dict[int, dict[str, Any]] = {}
    ids = columns["woman_id"]
    for i in np.flatnonzero(np.isin(ids, list(wanted))):
        w = int(ids[i])
        case = cases.setdefault(
            w,
            {
                "schema": "rplcare.case/1",
                "as_of": as_of,
                "id": str(w),
                "patient": {"birth_date": str(columns["birth_date"][i])},
                "pregnancies": [],
            },
        )
        case["pregnancies"].append(
            {
                "outcome": str(columns["outcome"][i]),
                "end_date": str(columns["end_date"][i]),
                "gestational_weeks": float(columns["gestational_weeks"][i]),
            }
        )
    return list(cases.values())


def per_case_loop(cases: list[dict[str, Any]]) -> tuple[float, float]:
    """Seconds per woman: full assess, and the cohort's columns only."""
    kb = load_knowledge()
    start = time.perf_counter()
    for c in cases:
        assess(parse_case(c, kb), kb)
    full = (time.perf_counter() - start) / len(cases)
    start = time.perf_counter()
    for c in cases:
        case = parse_case(c, kb)
        history = derive_history(case, kb.history)
        met = [classify(history, rule, kb.history).meets for rule in kb.definitions.values()]
        estimates(age_at(case), history_sequence(history), "clinic" if any(met) else "population")
    minimal = (time.perf_counter() - start) / len(cases)
    return full, minimal


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pregnancies", type=int, default=10_000_000)
    parser.add_argument("--sample", type=int, default=3000, help="women timed in the loop")
    parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb")
    parser.add_argument("--memory-limit", help="passed to rplcare cohort run (duckdb)")
    args = parser.parse_args()
    as_of = "2026-01-01"
    women = int(args.pregnancies / PREGNANCIES_PER_WOMAN * 1.02)

    with tempfile.TemporaryDirectory(prefix="rplcare-cohort-bench-") as tmp:
        register = Path(tmp) / "register.parquet"
        start = time.perf_counter()
        columns = simulate(SimulationSettings(women=women, seed=8))
        rows = write_register(columns, register)
        simulate_s = time.perf_counter() - start
        print(f"simulated {women:,} women, {rows:,} pregnancies in {simulate_s:.1f} s")

        out = Path(tmp) / "out"
        cli = Path(sys.executable).parent / "rplcare"
        command = [str(cli), "cohort", "run", str(register), "-o", str(out),
                   "--engine", args.engine, "--as-of", as_of]  # fmt: skip
        if args.memory_limit:
            command += ["--memory-limit", args.memory_limit]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        run_s = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if done.returncode != 0:
            print(done.stdout, done.stderr)
            return 1
        run = json.loads((out / "run.json").read_text())
        steps = run["seconds"]
        size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6

        rng = np.random.default_rng(1)
        sample = rng.choice(women, size=min(args.sample, women), replace=False)
        full, minimal = per_case_loop(_cases(columns, sample, as_of))

    print(f"machine: {os.cpu_count()} cores; engine: {args.engine}")
    print(
        f"cohort run: {run_s:.1f} s wall for {rows:,} pregnancies / {women:,} women "
        f"(process start-up included), peak RSS {peak_mb:,.0f} MB, outputs {size_mb:.0f} MB"
    )
    print("  steps (s): " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))
    print(f"  distinct (age, history, setting) scored: {run['distinct_age_history_setting']:,}")
    loop_full, loop_min = full * women, minimal * women
    print(
        f"per-case loop ({len(sample):,} women timed): assess {full * 1000:.2f} ms/woman "
        f"-> {loop_full / 3600:.1f} h extrapolated; cohort columns only "
        f"{minimal * 1000:.2f} ms/woman -> {loop_min / 60:.0f} min"
    )
    speedup = loop_full / run_s
    print(f"speed-up over the per-case loop: {speedup:,.0f}x over assess(); "
          f"{loop_min / run_s:,.0f}x over the cohort's columns computed per case")  # fmt: skip
    print(
        f"{run_s:.1f} s: {'meets' if run_s <= TARGET_S else 'MISSES'} the {TARGET_S:g} s target; "
        f"{speedup:,.0f}x: {'meets' if speedup >= TARGET_SPEEDUP else 'MISSES'} "
        f"the {TARGET_SPEEDUP:g}x target"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
