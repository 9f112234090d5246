"""Benchmark for `make bench` (issue 16 target: the short personal leaflet as PDF in <= 1.5 s in
process; the CLI's wall time is reported too).

The in-process part loads the knowledge base and the example cases once, renders each case's
short leaflet once in every language to warm the caches (catalogs, fonts, the prognosis model),
then times the whole request path as the web app runs it: `leaflet_for_case` (assessment,
model figures, builder), HTML and the PDF from WeasyPrint. It reports the median of ROUNDS runs
per case and language, and the median over all of them. The CLI part runs
`rplcare leaflet CASE -f pdf` as a fresh process (Python start-up, imports, knowledge base and
fonts included) a few times and reports the median wall time; there is no target for it.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rplcare.io import load_case
from rplcare.knowledge.loader import load_knowledge
from rplcare.leaflet.i18n import LANGUAGES
from rplcare.leaflet.render import leaflet_for_case, render

ROUNDS = 5
CLI_RUNS = 5
TARGET_S = 1.5


def in_process() -> float:
    kb = load_knowledge()
    examples = sorted(Path("examples").glob("*.json"))
    cases = {path.stem: load_case(path, kb) for path in examples}
    print(f"short leaflet as PDF, in process: median of {ROUNDS} runs per case and language")
    for case in cases.values():  # warm-up
        for lang in LANGUAGES:
            render(leaflet_for_case(case, lang, kb), "pdf")
    medians = []
    for stem, case in cases.items():
        row = []
        for lang in LANGUAGES:
            walls = []
            for _ in range(ROUNDS):
                t0 = time.perf_counter()
                pdf = render(leaflet_for_case(case, lang, kb), "pdf")
                walls.append(time.perf_counter() - t0)
            assert pdf.startswith(b"%PDF-")
            med = statistics.median(walls)
            medians.append(med)
            row.append(f"{lang} {med:5.3f} s")
        print(f"  {stem:32s} " + "  ".join(row))
    overall = statistics.median(medians)
    verdict = "meets" if overall <= TARGET_S else "MISSES"
    print(
        f"  overall median {overall:.3f} s (slowest {max(medians):.3f} s): "
        f"{verdict} the {TARGET_S} s target"
    )
    return overall


def cli() -> float:
    exe = str(Path(sys.executable).parent / "rplcare")
    case = str(sorted(Path("examples").glob("*.json"))[0])
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "leaflet.pdf")
        args = [exe, "leaflet", case, "--lang", "nl", "-f", "pdf", "-o", out]
        subprocess.run(args, check=True, capture_output=True)  # warm the file cache
        walls = []
        for _ in range(CLI_RUNS):
            t0 = time.perf_counter()
            subprocess.run(args, check=True, capture_output=True)
            walls.append(time.perf_counter() - t0)
    med = statistics.median(walls)
    print(
        f"rplcare leaflet {Path(case).name} --lang nl -f pdf (fresh process): median "
        f"{med:.3f} s over {CLI_RUNS} runs (min {min(walls):.3f}, max {max(walls):.3f})"
    )
    return med


if __name__ == "__main__":
    in_process()
    cli()
