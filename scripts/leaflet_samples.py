"""Write docs/leaflets/: page 1 of the personal leaflet in each language as PNG, and the PDFs.

Run with `make leaflet-samples` after changing the leaflet content, layout or catalogs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rplcare.io import load_case
from rplcare.knowledge.loader import load_knowledge
from rplcare.leaflet.i18n import LANGUAGES
from rplcare.leaflet.render import leaflet_for_case, render_html, render_pdf

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "leaflets"
CASE = ROOT / "examples" / "secondary-current-pregnancy.json"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    kb = load_knowledge()
    case = load_case(CASE, kb)
    for lang in LANGUAGES:
        pdf = OUT / f"leaflet-{lang}.pdf"
        pdf.write_bytes(render_pdf(render_html(leaflet_for_case(case, lang, kb))))
        for page in (1, 2):
            stem = OUT / f"leaflet-{lang}-page{page}"
            subprocess.run(
                ["pdftoppm", "-r", "80", "-png", "-singlefile", "-f", str(page), "-l", str(page),
                 str(pdf), str(stem)],
                check=True,
            )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
