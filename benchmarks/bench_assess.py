"""Median in-process assessment time (issue target: <= 2 ms).

Run with `make bench`. Loads the knowledge base and the example cases once, then times
`assess(case)` alone (what a web request or a cohort loop pays per case), plus the cost of
JSON serialisation, and prints medians and 95th percentiles per example.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from rplcare.engine.assess import assess
from rplcare.io import load_case
from rplcare.knowledge.loader import load_knowledge

ROUNDS = 2000
TARGET_MS = 2.0


def _times(fn: object, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    kb = load_knowledge()
    examples = sorted(Path("examples").glob("*.json"))
    print(f"rplcare assess benchmark: {ROUNDS} rounds per case, knowledge base {kb.version}")
    medians = []
    for path in examples:
        case = load_case(path, kb)
        for _ in range(50):  # warm-up
            assess(case, kb)
        times = _times(lambda c=case: assess(c, kb), ROUNDS)
        with_json = _times(lambda c=case: json.dumps(assess(c, kb).to_json_dict()), ROUNDS // 4)
        med = statistics.median(times)
        medians.append(med)
        p95 = statistics.quantiles(times, n=20)[-1]
        print(
            f"  {path.stem:32s} median {med:6.3f} ms  p95 {p95:6.3f} ms  "
            f"(+JSON median {statistics.median(with_json):6.3f} ms)"
        )
    overall = statistics.median(medians)
    verdict = "meets" if overall <= TARGET_MS else "MISSES"
    print(f"overall median {overall:.3f} ms: {verdict} the {TARGET_MS} ms target")


if __name__ == "__main__":
    main()
