"""HTTP headers for every page meant for a browser (the portal and the DPO's pages).

A strict content security policy (no script at all, styles and images from this node only,
forms only to this node, no framing), no referrer, no caching of pages that show personal data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response

BROWSER_PATHS = ("/portal", "/dpo")
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


async def browser_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    if request.url.path.startswith(BROWSER_PATHS):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/portal/static/"):
            response.headers["Cache-Control"] = "public, max-age=3600"
    return response
