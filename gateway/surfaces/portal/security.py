"""HTTP headers for every page meant for a browser (the portal and the DPO's pages).

A strict content security policy (no script at all, styles and images from this node only,
forms only to this node, no framing), no referrer, no caching of pages that show personal data.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BROWSER_PATHS = ("/portal", "/dpo", "/staff")
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; font-src 'self'; img-src 'self' data:; "
        "form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class BrowserHeaders:
    """Adds ``HEADERS`` to every response under ``BROWSER_PATHS``; other responses pass untouched.

    A plain ASGI middleware (it only edits the response's start message), so the API's requests
    do not pay for the extra task and response streaming a ``call_next`` middleware costs.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(BROWSER_PATHS):
            await self.app(scope, receive, send)
            return
        static = path.startswith("/portal/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if static:
                    headers["Cache-Control"] = "public, max-age=3600"
            await send(message)

        await self.app(scope, receive, send_with_headers)
