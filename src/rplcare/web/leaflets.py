"""Serve leaflets over HTTP: the same renderer as `rplcare leaflet`, as an HTML page or a PDF
download. Nothing is stored; PDFs are rendered per request."""

from __future__ import annotations

from fastapi.responses import Response

from rplcare.leaflet.i18n import LANGUAGES
from rplcare.leaflet.model import Leaflet
from rplcare.leaflet.render import render

FORMATS = ("html", "pdf")
LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands", "sv": "Svenska", "zh": "简体中文"}


def bad_request(lang: str, fmt: str) -> str | None:
    """A message when the language or format is not offered, else None."""
    if lang not in LANGUAGES:
        return f"Unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}."
    if fmt not in FORMATS:
        return f"Unknown format {fmt!r}; choose html or pdf."
    return None


def leaflet_response(leaflet: Leaflet, fmt: str, filename: str) -> Response:
    data = render(leaflet, "pdf" if fmt == "pdf" else "html")
    headers = {"cache-control": "no-store"}
    if fmt == "pdf":
        headers["content-disposition"] = f'attachment; filename="{filename}-{leaflet.lang}.pdf"'
        return Response(data, media_type="application/pdf", headers=headers)
    # The leaflet is a self-contained document with its own inline styles and SVG charts.
    headers["content-security-policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
    )
    return Response(data, media_type="text/html; charset=utf-8", headers=headers)
