"""Write docs/leaflets/: the short personal leaflet (every page in English, pages 1 and 2 in the
other languages) and page 1 of the full booklet, as PNG, and the PDFs (not committed).

Run with `make leaflet-samples` after changing the leaflet content, layout or catalogs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pypdf import PdfReader

from rplcare.io import load_case
from rplcare.knowledge.loader import load_knowledge
from rplcare.leaflet.i18n import LANGUAGES
from rplcare.leaflet.render import leaflet_for_case, render_html, render_pdf

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "leaflets"
CASE = ROOT / "examples" / "secondary-current-pregnancy.json"


def _png(pdf: Path, page: int, stem: Path) -> None:
    subprocess.run(
        ["pdftoppm", "-r", "80", "-png", "-singlefile", "-f", str(page), "-l", str(page),
         str(pdf), str(stem)],
        check=True,
    )  # fmt: skip


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    kb = load_knowledge()
    case = load_case(CASE, kb)
    for lang in LANGUAGES:
        pdf = OUT / f"leaflet-{lang}.pdf"
        pdf.write_bytes(render_pdf(render_html(leaflet_for_case(case, lang, kb))))
        pages = len(PdfReader(pdf).pages) if lang == "en" else 2
        for page in range(1, pages + 1):
            _png(pdf, page, OUT / f"leaflet-{lang}-page{page}")
        booklet = OUT / f"booklet-{lang}.pdf"
        booklet.write_bytes(render_pdf(render_html(leaflet_for_case(case, lang, kb, booklet=True))))
        _png(booklet, 1, OUT / f"booklet-{lang}-page1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
