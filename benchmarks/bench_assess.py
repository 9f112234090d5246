"""Benchmarks for `make bench` (issue targets: assess with prognosis <= 2 ms median;
`rplcare risk` cold start <= 0.5 s).

The in-process part loads the knowledge base, the fitted parameters and the example cases once,
then times `assess(case)` alone (what a web request or a cohort loop pays per case), plus JSON
serialisation. The cold-start part runs the installed `rplcare risk` command as a fresh process
several times and reports the median wall time.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rplcare.engine.assess import assess
from rplcare.io import load_case
from rplcare.knowledge.loader import load_knowledge

ROUNDS = 2000
COLD_RUNS = 15
TARGET_MS = 2.0
TARGET_COLD_S = 0.5


def _times(fn: Callable[[], object], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def in_process() -> float:
    kb = load_knowledge()
    examples = sorted(Path("examples").glob("*.json"))
    print(f"assess (with prognosis): {ROUNDS} rounds per case, knowledge base {kb.version}")
    medians = []
    for path in examples:
        case = load_case(path, kb)
        for _ in range(50):  # warm-up
            assess(case, kb)
        times = _times(lambda c=case: assess(c, kb), ROUNDS)  # type: ignore[misc]
        with_json = _times(
            lambda c=case: json.dumps(assess(c, kb).to_json_dict()),  # type: ignore[misc]
            ROUNDS // 4,
        )
        med = statistics.median(times)
        medians.append(med)
        p95 = statistics.quantiles(times, n=20)[-1]
        print(
            f"  {path.stem:32s} median {med:6.3f} ms  p95 {p95:6.3f} ms  "
            f"(+JSON median {statistics.median(with_json):6.3f} ms)"
        )
    overall = statistics.median(medians)
    verdict = "meets" if overall <= TARGET_MS else "MISSES"
    print(f"  overall median {overall:.3f} ms: {verdict} the {TARGET_MS} ms target")
    return overall


def cold_start() -> float:
    cli = str(Path(sys.executable).parent / "rplcare")
    args = [cli, "risk", "--age", "34", "--losses", "3", "--format", "json"]
    subprocess.run(args, check=True, capture_output=True)  # warm the file cache
    walls = []
    for _ in range(COLD_RUNS):
        t0 = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)
    med = statistics.median(walls)
    verdict = "meets" if med <= TARGET_COLD_S else "MISSES"
    print(
        f"rplcare risk cold start: median {med:.3f} s over {COLD_RUNS} runs "
        f"(min {min(walls):.3f}, max {max(walls):.3f}): {verdict} the {TARGET_COLD_S} s target"
    )
    return med


if __name__ == "__main__":
    in_process()
    cold_start()
