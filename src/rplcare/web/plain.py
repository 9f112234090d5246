"""Self-contained error pages: no template, so they render whatever else failed."""

from __future__ import annotations

from fastapi.responses import HTMLResponse

PAGES = {
    404: ("Not found", "<h1>Page not found</h1><p>There is nothing at this address.</p>"),
    405: ("Not allowed", "<h1>Not allowed</h1><p>This address does not take that request.</p>"),
    413: ("Too large", "<h1>Too large</h1><p>The upload or form is larger than allowed.</p>"),
}


def page_html(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang='en'><title>{title} · rplcare</title><main>{body}"
        "<p><a href='/'>Home</a></p></main></html>"
    )


def plain_page(title: str, body: str, status: int) -> HTMLResponse:
    return HTMLResponse(page_html(title, body), status_code=status)


def wants_html(accept: str) -> bool:
    return "text/html" in accept
