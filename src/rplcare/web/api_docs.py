"""Interactive API documentation at /docs, served from a local copy of Swagger UI 5 (the files
fastapi-offline ships; its own page is not used, it starts Swagger UI with an inline script):
FastAPI's default page loads Swagger UI from a CDN and starts it inline, both blocked by the
app's CSP, so /docs was a blank page (review U10)."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>rplcare API</title>
<link rel="stylesheet" href="/docs-assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs-assets/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""


def mount_api_docs(app: FastAPI) -> None:
    files = str(resources.files("fastapi_offline") / "static")
    app.mount("/docs-assets", StaticFiles(directory=files), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(PAGE)
