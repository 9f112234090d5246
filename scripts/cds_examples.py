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

from tests.web.cds_requests import order_select, patient_view, service_request  # noqa: E402


def main() -> None:
    out = ROOT / "examples" / "cds"
    out.mkdir(parents=True, exist_ok=True)
    calls = {
        "patient-view.json": patient_view("virginia_mercado"),
        "patient-view-no-prefetch.json": patient_view("virginia_mercado", with_prefetch=False),
        "order-select-nk-cells.json": order_select(
            "virginia_mercado", [service_request("nk-1", "Peripheral blood NK cell assay")]
        ),
    }
    for name, call in calls.items():
        # A fixed hookInstance keeps the files stable between runs (real clients send a new one).
        call["hookInstance"] = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
        (out / name).write_text(json.dumps(call, indent=1, ensure_ascii=False) + "\n", "utf-8")
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
