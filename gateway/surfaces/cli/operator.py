"""``avrr federation`` (the federation operator) and ``avrr node`` (each node's operator):
signing the directory, setting up a node, keys, migrations and staff tokens.

Commands print what they did, never a private key or a person's data. Errors are one line.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from crypto.errors import InvalidSignature
from crypto.keys import SigningKey
from crypto.signed import verify_document
from gateway.kit.auth import StaffTokenIssuer
from gateway.kit.clock import SystemClock
from gateway.kit.config import CONFIG_FILE, Settings
from gateway.kit.db import make_engine, migrate
from gateway.kit.home import NodeHome, load_signing_key, save_signing_key
from partners.default_policy import DEFAULT_EVENT_HORIZON_DAYS, default_policy, default_retention
from partners.directory import (
    DIRECTORY_CONTEXT,
    key_record,
    reissued,
    sign_directory,
    with_node,
)
from partners.errors import DirectoryError
from schemas.common import StaffRole
from schemas.directory import DeliveryMode, Directory, KeyRecord, NodeRecord, SharingRule
from schemas.envelope import SignedDocument

DIRECTORY_VALIDITY = timedelta(days=30)


def _now() -> datetime:
    return SystemClock().now()


# -- federation -------------------------------------------------------------------------------


class Federation:
    """The operator's folder: operator-key.json (private), operator.json, directory.json."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.key_file = path / "operator-key.json"
        self.public_file = path / "operator.json"
        self.directory_file = path / "directory.json"

    def key(self) -> SigningKey:
        if not self.key_file.exists():
            raise click.ClickException(f"{self.path} is not a federation folder (no operator key)")
        return load_signing_key(self.key_file)

    def current(self) -> Directory:
        """The directory as last signed; its dates are not checked, so an expired one can be renewed."""
        key = self.key()
        doc = SignedDocument.model_validate_json(self.directory_file.read_text(encoding="utf-8"))
        try:
            payload = verify_document(doc, key.public_key(), context=DIRECTORY_CONTEXT)
            return Directory.model_validate(payload)
        except (InvalidSignature, ValidationError) as exc:
            raise click.ClickException("the federation directory does not verify") from exc

    def publish(self, directory: Directory, validity: timedelta = DIRECTORY_VALIDITY) -> Directory:
        fresh = reissued(directory, now=_now(), validity=validity)
        try:
            doc = sign_directory(fresh, self.key())
        except DirectoryError as exc:
            raise click.ClickException(f"not signed: {exc}") from exc
        self.directory_file.write_text(doc.model_dump_json(indent=2), encoding="utf-8")
        return fresh


@click.group()
def federation() -> None:
    """Commands for the federation operator, who signs the directory."""


@federation.command("init")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--id", "federation_id", required=True, help="Federation id, e.g. avrr-pilot.")
@click.option("--validity-days", default=30, show_default=True)
def federation_init(folder: Path, federation_id: str, validity_days: int) -> None:
    """Create an operator key and an empty signed directory with the default sharing policy."""
    fed = Federation(folder)
    if fed.key_file.exists():
        raise click.ClickException(f"{folder} already holds a federation; refusing to overwrite")
    now = _now().replace(microsecond=0)
    try:
        draft = Directory(
            federation_id=federation_id,
            serial=1,
            issued_at=now,
            expires_at=now + timedelta(days=validity_days),
            nodes=[],
            sharing_policy=default_policy(),
            retention=default_retention(),
            event_horizon_days=DEFAULT_EVENT_HORIZON_DAYS,
        )
    except ValidationError as exc:
        where = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"])
        raise click.ClickException(
            f"not a valid {where or 'option'}: an id is 2 to 63 lower-case letters, digits, "
            "dots and dashes, starting with a letter or digit"
        ) from exc
    folder.mkdir(parents=True, exist_ok=True)
    key = SigningKey.generate(valid_from=now, valid_until=now + timedelta(days=3650))
    save_signing_key(fed.key_file, key)
    fed.public_file.write_text(
        key_record(key.public_key()).model_dump_json(indent=2), encoding="utf-8"
    )
    doc = sign_directory(draft, key)
    fed.directory_file.write_text(doc.model_dump_json(indent=2), encoding="utf-8")
    click.echo(f"federation {federation_id} created in {folder}")
    click.echo(f"  give every node {fed.public_file} (the operator key to pin)")
    click.echo(f"  keep {fed.key_file} secret: it signs the directory")


@federation.command("add-node")
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--node-file",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="The file 'avrr node export' wrote.",
)
@click.option("--roles", required=True, help="Comma-separated partner roles.")
@click.option("--inbox-url", default=None, help="Base URL other nodes post to (push members).")
@click.option(
    "--pickup",
    is_flag=True,
    help="The node has no public address: it fetches what waits for it from each sender.",
)
@click.option(
    "--region", default=None, help="ISO 3166-2 region the node works in, e.g. SN-TH (optional)."
)
def federation_add_node(
    folder: Path,
    node_file: Path,
    roles: str,
    inbox_url: str | None,
    pickup: bool,
    region: str | None,
) -> None:
    """Add a node (or update its keys, roles and URL) and sign a new directory.

    A node is reached by push (``--inbox-url``) or picks up what waits for it (``--pickup``).
    """
    if pickup == (inbox_url is not None):
        raise click.UsageError("give either --inbox-url (push) or --pickup, not both, not neither")
    fed = Federation(folder)
    exported = json.loads(node_file.read_text(encoding="utf-8"))
    try:
        record = NodeRecord(
            node_id=exported["node_id"],
            organisation=exported["organisation"],
            country=exported["country"],
            region=region.upper() if region else None,
            roles=[r.strip() for r in roles.split(",") if r.strip()],
            delivery=DeliveryMode.PICKUP if pickup else DeliveryMode.PUSH,
            inbox_url=inbox_url,
            signing_keys=exported["signing_keys"],
            encryption_keys=exported["encryption_keys"],
        )
    except (KeyError, ValidationError) as exc:
        raise click.ClickException(f"the node file or options are not valid: {exc}") from exc
    directory = fed.publish(with_node(fed.current(), record))
    click.echo(f"node {record.node_id} listed; directory serial {directory.serial} signed")


@federation.command("set-policy")
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
@click.argument("policy_file", type=click.Path(exists=True, path_type=Path))
def federation_set_policy(folder: Path, policy_file: Path) -> None:
    """Replace the sharing policy with a JSON list of rules, and sign a new directory."""
    fed = Federation(folder)
    try:
        rules = [SharingRule.model_validate(r) for r in json.loads(policy_file.read_text("utf-8"))]
        current = fed.current().model_dump()
        directory = fed.publish(Directory.model_validate({**current, "sharing_policy": rules}))
    except (ValidationError, ValueError) as exc:
        raise click.ClickException(f"the policy is not valid: {exc}") from exc
    click.echo(
        f"sharing policy set ({len(rules)} rules); directory serial {directory.serial} signed"
    )


def _set_suspension(folder: Path, place: str, suspend: bool) -> None:
    """Suspend or resume a country (ISO 3166-1 alpha-2) or a region (ISO 3166-2, e.g. ML-7)."""
    fed = Federation(folder)
    current = fed.current()
    code = place.strip().upper()
    field = "suspended_regions" if "-" in code else "suspended_countries"
    places = set(getattr(current, field))
    places = places | {code} if suspend else places - {code}
    try:
        updated = Directory.model_validate({**current.model_dump(), field: sorted(places)})
    except ValidationError as exc:
        raise click.ClickException(f"not a country or region code: {place}") from exc
    directory = fed.publish(updated)
    state = "suspended" if suspend else "resumed"
    click.echo(f"referrals to {code} {state}; directory serial {directory.serial} signed")


@federation.command("suspend")
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
@click.argument("place")
def federation_suspend(folder: Path, place: str) -> None:
    """Stop all referrals to a country (ISO 3166-1 alpha-2, e.g. ML) or a region (ISO 3166-2,
    e.g. ML-7). Packets already queued for it are cancelled before delivery."""
    _set_suspension(folder, place, True)


@federation.command("resume")
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
@click.argument("place")
def federation_resume(folder: Path, place: str) -> None:
    """Allow referrals to a suspended country or region again."""
    _set_suspension(folder, place, False)


@federation.command("sign")
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
@click.option("--validity-days", default=30, show_default=True)
def federation_sign(folder: Path, validity_days: int) -> None:
    """Re-issue the directory unchanged with a fresh validity period (do this before it expires)."""
    fed = Federation(folder)
    directory = fed.publish(fed.current(), timedelta(days=validity_days))
    click.echo(f"directory serial {directory.serial} signed, valid until {directory.expires_at}")


@federation.command("show")
@click.argument("folder", type=click.Path(exists=True, path_type=Path))
def federation_show(folder: Path) -> None:
    """Print the current directory (public keys and policy only)."""
    click.echo(Federation(folder).current().model_dump_json(indent=2))


# -- node -------------------------------------------------------------------------------------


@click.group()
def node() -> None:
    """Commands for a node's operator."""


def node_settings(home: Path) -> Settings:
    try:
        return Settings.for_home(home)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    except ValidationError as exc:
        problems = "; ".join(str(error["msg"]) for error in exc.errors())
        raise click.ClickException(f"invalid node settings: {problems}") from exc


@node.command("init")
@click.argument("home", type=click.Path(path_type=Path))
@click.option("--node-id", required=True)
@click.option("--organisation", required=True)
@click.option("--country", required=True, help="ISO 3166-1 alpha-2.")
@click.option("--database-url", default="", help="Default: SQLite in the home folder.")
def node_init(home: Path, node_id: str, organisation: str, country: str, database_url: str) -> None:
    """Create a node: keys, staff-token issuer, pseudonym secret, configuration, database."""
    if (home / CONFIG_FILE).exists():
        raise click.ClickException(f"{home} already holds a node; refusing to overwrite")
    home.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {"node_id": node_id, "organisation": organisation, "country": country}
    if database_url:
        config["database_url"] = database_url
    try:
        settings = Settings(home=home, **config)
    except ValidationError as exc:
        raise click.ClickException(f"invalid node settings: {exc}") from exc
    now = _now()
    node_home = NodeHome(home)
    node_home.create_keys(now)
    node_home.create_staff_issuer(now)
    node_home.create_pseudonym_secret()
    node_home.create_master_key()
    (home / CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
    migrate(make_engine(settings.database_url))
    click.echo(f"node {node_id} created in {home}; next: 'avrr node export' for the operator")


@node.command("export")
@click.argument("home", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Write here instead of stdout.")
def node_export(home: Path, out: Path | None) -> None:
    """Print this node's public description (ids and public keys) for the federation operator."""
    settings = node_settings(home)
    data = {
        "node_id": settings.node_id,
        "organisation": settings.organisation,
        "country": settings.country,
        **NodeHome(home).public_keys(),
    }
    text = json.dumps(data, indent=2)
    if out:
        out.write_text(text, encoding="utf-8")
        click.echo(f"public description written to {out}")
    else:
        click.echo(text)


@node.command("install-directory")
@click.argument("home", type=click.Path(exists=True, path_type=Path))
@click.argument("directory_file", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--operator-key",
    type=click.Path(exists=True, path_type=Path),
    help="The operator's public key file, pinned the first time.",
)
def node_install_directory(home: Path, directory_file: Path, operator_key: Path | None) -> None:
    """Verify a signed directory against the pinned operator key and install it."""
    settings = node_settings(home)
    node_home = NodeHome(home)
    if operator_key is not None:
        record = KeyRecord.model_validate_json(operator_key.read_text(encoding="utf-8"))
        if node_home.operator_file.exists() and node_home.operator_key().key_id != record.key_id:
            raise click.ClickException("a different operator key is already pinned; refusing")
        node_home.pin_operator(record)
    try:
        doc = SignedDocument.model_validate_json(directory_file.read_text(encoding="utf-8"))
        view = node_home.install_directory(doc, _now())
    except (ValidationError, DirectoryError, FileNotFoundError) as exc:
        raise click.ClickException(f"directory refused: {exc}") from exc
    listed = "listed" if view.directory.node(settings.node_id) else "NOT yet listed"
    click.echo(f"directory serial {view.directory.serial} installed; this node is {listed}")


@node.command("rotate-keys")
@click.argument("home", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--overlap-days",
    default=30,
    show_default=True,
    help="How long the old keys stay usable for packets already sealed to them.",
)
def node_rotate_keys(home: Path, overlap_days: int) -> None:
    """Create new keys; old ones end after the overlap. Then export and have the operator re-add."""
    node_settings(home)
    NodeHome(home).rotate_keys(_now(), timedelta(days=overlap_days))
    click.echo("new keys created; run 'avrr node export' and send it to the federation operator")


@node.command("migrate")
@click.argument("home", type=click.Path(exists=True, path_type=Path))
def node_migrate(home: Path) -> None:
    """Bring the database schema to the newest version."""
    migrate(make_engine(node_settings(home).database_url))
    click.echo("database schema is up to date")


@node.command("token")
@click.argument("home", type=click.Path(exists=True, path_type=Path))
@click.option("--user", required=True, help="A user id (not a name).")
@click.option("--role", type=click.Choice([r.value for r in StaffRole]), required=True)
@click.option("--office", required=True)
@click.option("--hours", type=int, help="Lifetime; default: the node's staff_token_lifetime.")
def node_token(home: Path, user: str, role: str, office: str, hours: int | None) -> None:
    """Issue a staff bearer token from the node's built-in issuer (printed alone, for scripts)."""
    settings = node_settings(home)
    issuer = StaffTokenIssuer(key=NodeHome(home).staff_issuer(), node_id=settings.node_id)
    try:
        token = issuer.issue(
            user=user,
            role=StaffRole(role),
            office=office,
            now=_now(),
            lifetime=timedelta(hours=hours) if hours else settings.staff_token_lifetime,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(token)
