"""``avrr consent``: the caseworker's command line for consent, over a node's HTTP API.

Every command takes ``--url`` (the node) and ``--token`` (a caseworker's bearer token; or the
``AVRR_TOKEN`` environment variable) and prints the node's JSON answer. An error prints the
node's one-line explanation and exits 1.

    avrr consent record CASE --purpose arrival_reception --recipient origin-reception \\
        --sections travel,arrival --method signed_form --language fr --informed-of-risks
    avrr consent list CASE
    avrr consent narrow CASE CONSENT --keep arrival
    avrr consent withdraw CASE [--purpose P] [--recipient NODE] [--sections medical]
    avrr consent withdrawals CASE
    avrr consent receipt CASE CONSENT [--html] [--lang ar] [--out receipt.html]
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import httpx

from schemas.common import ConsentGiver, PartnerRole, Purpose, SectionName
from schemas.consent import ChildView, ConsentMethod


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


#: Replaced in tests to talk to an in-process app.
client_factory: Callable[[str, str], httpx.Client] = _client


def _sections(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [part.strip() for part in value.split(",") if part.strip()]
    allowed = {s.value for s in SectionName}
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise click.BadParameter(f"unknown sections {unknown}; use {sorted(allowed)}")
    return names


def call(ctx: click.Context, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The node's answer to one API call (JSON, or the page for an HTML answer); an error is
    one line and exit 1."""
    url, token = ctx.obj["url"], ctx.obj["token"]
    try:
        with client_factory(url, token) as http:
            response = http.request(method, path, json=body)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the node at {url}: {type(exc).__name__}") from exc
    if response.status_code >= 400:
        try:
            problem = response.json()
            detail = problem.get("detail")
            rule = f" [{problem['rule']}]" if "rule" in problem else ""
        except ValueError:
            detail, rule = response.text[:200], ""
        raise click.ClickException(f"{response.status_code}: {detail}{rule}")
    if response.headers.get("content-type", "").startswith("text/html"):
        return response.text
    return response.json()


def _echo(value: Any) -> None:
    click.echo(value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False))


@click.group()
@click.option(
    "--url", envvar="AVRR_URL", required=True, help="The node, e.g. https://avrr.example.org"
)
@click.option("--token", envvar="AVRR_TOKEN", required=True, help="A caseworker's bearer token.")
@click.pass_context
def consent(ctx: click.Context, url: str, token: str) -> None:
    """Record, view, narrow and withdraw a person's consent (caseworkers)."""
    ctx.obj = {"url": url.rstrip("/"), "token": token}


@consent.command("record")
@click.argument("case_id")
@click.option("--purpose", type=click.Choice([p.value for p in Purpose]), required=True)
@click.option("--recipient", help="A node id; or use --recipient-role.")
@click.option("--recipient-role", type=click.Choice([r.value for r in PartnerRole]))
@click.option(
    "--sections", required=True, help="Comma-separated: travel,medical,arrival,reintegration"
)
@click.option("--method", type=click.Choice([m.value for m in ConsentMethod]), required=True)
@click.option(
    "--language", required=True, help="ISO 639-1 code of the language consent was given in."
)
@click.option(
    "--given-by", type=click.Choice([g.value for g in ConsentGiver]), default="data_subject"
)
@click.option("--relation", help="How the person giving consent is related (if not the subject).")
@click.option("--child-view", type=click.Choice([v.value for v in ChildView]))
@click.option("--best-interests-reference")
@click.option("--witness")
@click.option(
    "--informed-of-risks", is_flag=True, help="The person was told the risks of the transfer."
)
@click.option("--valid-until", help="ISO 8601 time with offset, e.g. 2027-06-30T00:00:00Z")
@click.pass_context
def record(ctx: click.Context, /, case_id: str, **options: Any) -> None:
    """Record a consent given at counselling."""
    body = {
        "purpose": options["purpose"],
        "recipient": options["recipient"],
        "recipient_role": options["recipient_role"],
        "sections": _sections(options["sections"]),
        "method": options["method"],
        "language": options["language"],
        "given_by": options["given_by"],
        "giver_relation": options["relation"],
        "child_view": options["child_view"],
        "best_interests_reference": options["best_interests_reference"],
        "witness": options["witness"],
        "informed_of_risks": options["informed_of_risks"],
        "valid_until": options["valid_until"],
    }
    body = {k: v for k, v in body.items() if v is not None}
    _echo(call(ctx, "POST", f"/api/v1/cases/{case_id}/consents", body))


@consent.command("list")
@click.argument("case_id")
@click.pass_context
def list_(ctx: click.Context, case_id: str) -> None:
    """Every consent of the person, with its history."""
    _echo(call(ctx, "GET", f"/api/v1/cases/{case_id}/consents"))


@consent.command("narrow")
@click.argument("case_id")
@click.argument("consent_id")
@click.option("--keep", required=True, help="The sections to keep, comma-separated.")
@click.pass_context
def narrow(ctx: click.Context, case_id: str, consent_id: str, keep: str) -> None:
    """Keep only some sections; recipients delete the rest."""
    body = {"sections": _sections(keep)}
    _echo(call(ctx, "POST", f"/api/v1/cases/{case_id}/consents/{consent_id}/narrow", body))


@consent.command("withdraw")
@click.argument("case_id")
@click.option("--purpose", type=click.Choice([p.value for p in Purpose]))
@click.option("--recipient")
@click.option("--sections")
@click.pass_context
def withdraw(
    ctx: click.Context,
    case_id: str,
    purpose: str | None,
    recipient: str | None,
    sections: str | None,
) -> None:
    """Withdraw consent: everything, or only a purpose, a recipient, or some sections."""
    body = {"purpose": purpose, "recipient": recipient, "sections": _sections(sections)}
    _echo(
        call(
            ctx,
            "POST",
            f"/api/v1/cases/{case_id}/withdrawals",
            {k: v for k, v in body.items() if v},
        )
    )


@consent.command("withdrawals")
@click.argument("case_id")
@click.pass_context
def withdrawals(ctx: click.Context, case_id: str) -> None:
    """Each withdrawal, and which recipients confirmed deletion."""
    _echo(call(ctx, "GET", f"/api/v1/cases/{case_id}/withdrawals"))


@consent.command("receipt")
@click.argument("case_id")
@click.argument("consent_id")
@click.option("--html", "as_html", is_flag=True, help="Printable HTML instead of signed JSON.")
@click.option("--lang", help="Language of the HTML receipt (default: the person's).")
@click.option("--out", type=click.Path(path_type=Path), help="Write to a file.")
@click.pass_context
def receipt(
    ctx: click.Context,
    case_id: str,
    consent_id: str,
    as_html: bool,
    lang: str | None,
    out: Path | None,
) -> None:
    """The signed consent receipt the person keeps."""
    query = "?format=html" if as_html else ""
    if as_html and lang:
        query += f"&lang={lang}"
    result = call(ctx, "GET", f"/api/v1/cases/{case_id}/consents/{consent_id}/receipt{query}")
    if out is None:
        _echo(result)
        return
    out.write_text(
        result if isinstance(result, str) else json.dumps(result, indent=2), encoding="utf-8"
    )
    click.echo(f"receipt written to {out}")
