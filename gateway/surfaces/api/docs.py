"""The API's description for people: Swagger UI at ``/docs``, served from this node's own files.

The page's scripts come from the ``swagger-ui-bundle-v2`` package installed with the node, never
from a CDN, so the page works on a node without internet and no third party learns who reads
it. Its one initialiser is a file of ours too, so the content security policy allows scripts
from this node only. ``api_docs = false`` turns the page off; ``/openapi.json`` always stays.

Example::

    >>> install_api_docs(app)   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

PATH = "/docs"
#: Swagger UI sets styles inline; scripts and everything else come from this node only.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{path}/static/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{path}/static/swagger-ui-bundle.js"></script>
<script src="{path}/init.js"></script>
</body>
</html>
"""
_INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
  tryItOutEnabled: false
});
"""
_HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def install_api_docs(app: FastAPI) -> None:
    """Serve Swagger UI for ``app``'s OpenAPI description at ``/docs``, from local files."""
    page = _PAGE.format(title=f"{app.title}: API", path=PATH)

    @app.get(PATH, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page, headers=_HEADERS)

    @app.get(f"{PATH}/init.js", include_in_schema=False)
    def initialiser() -> Response:
        return Response(_INIT, media_type="text/javascript", headers=_HEADERS)

    bundle = Path(str(swagger_ui_bundle.swagger_ui_path))
    app.mount(f"{PATH}/static", StaticFiles(directory=bundle), name="api-docs-static")
