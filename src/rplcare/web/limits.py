"""Request body size limit (review finding S2): refused with 413 before the body is read
when Content-Length says it is too large, and as soon as a streamed body passes the limit."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rplcare.web.plain import PAGES, page_html, wants_html


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit:,} bytes")


class BodySizeLimit:
    """Pure ASGI middleware. The overflow is raised from `receive` as an HTTPException, which
    FastAPI passes through its body parsing unchanged and the app's handlers turn into 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(
                send, wants_html(dict(scope["headers"]).get(b"accept", b"").decode())
            )
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, send: Send, html: bool) -> None:
        if html:
            body, kind = page_html(*PAGES[413]).encode(), b"text/html; charset=utf-8"
        else:
            body = f'{{"detail":"request body larger than {self.max_bytes} bytes"}}'.encode()
            kind = b"application/json"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", kind),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
