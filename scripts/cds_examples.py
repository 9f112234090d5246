"""Write the CDS Hooks example calls in examples/cds/ (used by the README's curl examples) from
the Synthea test patients: what an EHR would send, prefetch included.

    .venv/bin/python scripts/cds_examples.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.web.cds_requests import example_calls  # noqa: E402


def main() -> None:
    out = ROOT / "examples" / "cds"
    out.mkdir(parents=True, exist_ok=True)
    for name, call in example_calls().items():
        (out / name).write_text(json.dumps(call, indent=1, ensure_ascii=False) + "\n", "utf-8")
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
