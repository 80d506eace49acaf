"""``avrr staff`` and ``avrr card``: signing staff in to the pages without an identity provider,
and issuing a person's access card from the command line.

    avrr staff link HOME --user cw-1 --role caseworker --office tunis [--url https://node]
    avrr card issue CASE --language ar [--html card.html]      (over the API: --url, --token)

A sign-in link is the built-in issuer's one-time token for the staff pages (ten minutes, once);
it is printed alone, for the operator to hand to the person it is for, never logged. A card is
printed to the terminal (address, reference, code, and its QR code) or written as the printable
page, which a browser prints (to paper or PDF).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import segno

from gateway.kit.auth import SIGN_IN, StaffTokenIssuer
from gateway.kit.home import NodeHome
from gateway.surfaces.cli import consent as api
from gateway.surfaces.cli.operator import node_settings
from gateway.surfaces.portal.card_print import sign_in_address
from schemas.common import StaffRole

LINK_LIFETIME = timedelta(minutes=10)


@click.group()
def staff() -> None:
    """Sign staff in to the pages of a node without an identity provider."""


@staff.command("link")
@click.argument("home", type=click.Path(exists=True, path_type=Path))
@click.option("--user", required=True, help="A user id (not a name).")
@click.option("--role", type=click.Choice([r.value for r in StaffRole]), required=True)
@click.option("--office", required=True)
@click.option("--url", help="The node's address; default: its public_url setting.")
def link(home: Path, user: str, role: str, office: str, url: str | None) -> None:
    """Print a one-time sign-in link to the staff pages (valid ten minutes, once)."""
    settings = node_settings(home)
    base = (url or settings.public_url).rstrip("/")
    if not base:
        raise click.ClickException("give --url, or set the node's public_url")
    issuer = StaffTokenIssuer(key=NodeHome(home).staff_issuer(), node_id=settings.node_id)
    try:
        token = issuer.issue(
            user=user,
            role=StaffRole(role),
            office=office,
            now=datetime.now(UTC),
            lifetime=LINK_LIFETIME,
            use=SIGN_IN,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{base}/staff/sign-in/link?token={token}")


@click.group()
@click.option("--url", required=True, envvar="AVRR_URL", help="The node, e.g. https://node.")
@click.option("--token", required=True, envvar="AVRR_TOKEN", help="A caseworker's token.")
@click.pass_context
def card(ctx: click.Context, url: str, token: str) -> None:
    """A person's access card, issued by their caseworker over the node's API."""
    ctx.obj = {"url": url.rstrip("/"), "token": token}


@card.command("issue")
@click.argument("case_id")
@click.option("--language", default="en", show_default=True)
@click.option("--html", "html", type=click.Path(path_type=Path), help="Write the printable page.")
@click.pass_context
def issue(ctx: click.Context, case_id: str, language: str, html: Path | None) -> None:
    """Issue a new card (earlier ones stop working); its code is shown this once."""
    path = f"/api/v1/cases/{case_id}/cards"
    if html is not None:
        page = str(api.call(ctx, "POST", f"{path}?format=html", {"language": language}))
        html.write_text(page, encoding="utf-8")
        click.echo(f"card written to {html}: print it from a browser, then delete the file")
        return
    issued = api.call(ctx, "POST", path, {"language": language})
    reference, code = issued["reference"], issued["code"]
    address = sign_in_address(ctx.obj["url"], reference.replace("-", ""))
    click.echo(f"sign in at:  {ctx.obj['url']}/portal/")
    click.echo(f"reference:   {reference}")
    click.echo(f"secret code: {code}   (shown once; the node keeps only a hash)")
    segno.make(address, error="m").terminal(compact=True)
