"""The API's Swagger page renders in a browser that can reach nothing but the node itself, as on
a node without internet: every script and style it needs is served by the node."""

from __future__ import annotations

from playwright.sync_api import Page, Route


def test_docs_render_with_every_other_host_unreachable(desk: Page, live_host: str) -> None:
    elsewhere: list[str] = []

    def only_this_node(route: Route) -> None:
        if route.request.url.startswith(live_host):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    desk.route("**/*", only_this_node)
    errors: list[str] = []
    desk.on("pageerror", lambda error: errors.append(str(error)))

    desk.goto("/docs")
    desk.wait_for_selector(".opblock", timeout=15_000)

    assert elsewhere == []
    assert errors == []
    assert desk.locator(".opblock").count() > 20
    assert desk.get_by_role("button", name="Authorize").is_visible()
