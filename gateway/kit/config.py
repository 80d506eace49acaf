"""One ``Settings`` object per node, built by the caller and passed to ``create_app``.

A node's settings live in ``<home>/node.json`` (written by ``avrr node init``); ``AVRR_*``
environment variables fill in what the file leaves out. Nothing is read at import time.

Example::

    >>> Settings(home=Path("/tmp/n"), node_id="host-mission").database_url
    'sqlite:////tmp/n/node.db'
"""

from __future__ import annotations

import ipaddress
import json
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gateway.kit.auth import _NAME as STAFF_NAME
from schemas.common import StaffRole

CONFIG_FILE = "node.json"
#: Where an OpenID Connect provider publishes its discovery document, below its issuer URL.
WELL_KNOWN = "/.well-known/openid-configuration"
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def secure_address(url: str) -> bool:
    """Whether ``url`` may carry sign-in traffic: https, or plain http to this machine only
    (a provider on loopback, as in tests)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)


def same_database(first: str, second: str) -> bool:
    """Whether two database URLs name the same database (driver, credentials and options
    aside; SQLite paths compared once resolved)."""
    try:
        a, b = make_url(first), make_url(second)
    except ArgumentError:
        return first == second
    if a.get_backend_name() != b.get_backend_name():
        return False
    if a.get_backend_name() == "sqlite":
        return Path(a.database or "").resolve() == Path(b.database or "").resolve()
    return (a.host or "localhost", a.port or 5432, a.database) == (
        b.host or "localhost",
        b.port or 5432,
        b.database,
    )


class Settings(BaseSettings):
    # Inputs stay out of validation errors: they may hold the client secret.
    model_config = SettingsConfigDict(env_prefix="AVRR_", extra="forbid", hide_input_in_errors=True)

    home: Path
    node_id: str
    organisation: str = ""
    country: str = ""
    database_url: str = ""
    #: Largest request body accepted, in bytes; larger ones get 413 before parsing.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    #: How old an incoming packet may be, and how long the outbox keeps trying.
    acceptance_window: timedelta = timedelta(days=14)
    clock_skew: timedelta = timedelta(minutes=5)
    #: Delivery retry schedule: capped exponential backoff with full jitter.
    retry_base: timedelta = timedelta(seconds=2)
    retry_cap: timedelta = timedelta(hours=1)
    #: How long a worker holds a claimed outbox row before another may take it.
    claim_lease: timedelta = timedelta(minutes=2)
    delivery_timeout_seconds: float = 10.0
    #: Envelopes one worker posts at once, each with its own transactions. 4 was the fastest
    #: measured (``python -m bench.e2e --hop``, docs/performance.md).
    delivery_concurrency: int = Field(default=4, ge=1, le=32)
    #: Envelopes for one recipient posted in one request (``POST /federation/v1/inbox/batch``,
    #: one signed batch receipt); 1 posts each envelope alone, as before batches existed.
    delivery_batch_size: int = Field(default=16, ge=1, le=100)
    #: How often ``avrr worker`` of a pickup member (``delivery: pickup`` in the directory)
    #: fetches what waits for it from each sender.
    pickup_interval: timedelta = Field(default=timedelta(minutes=1), ge=timedelta(seconds=1))
    staff_token_lifetime: timedelta = timedelta(hours=8)
    #: Statistics: a cell counting fewer people than this is suppressed (with what would
    #: reveal it).
    statistics_min_count: int = Field(default=10, ge=2, le=1000)
    #: The time zone pages show times in (IANA name, such as ``Africa/Tunis``).
    time_zone: str = "UTC"
    #: The address people reach this node's portal at, printed on access cards
    #: (``https://avrr.example.org``); empty: the address the card was requested at.
    public_url: str = ""

    #: Reverse proxies whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed: IP
    #: addresses or networks (``10.0.0.5``, ``10.0.0.0/8``), or ``*`` for any (only where the
    #: network lets nothing but the proxy reach the API). Empty: the headers are ignored from
    #: everyone, loopback included, and the client address is the connection's.
    trusted_proxies: list[str] = []

    #: Serve Swagger UI at ``/docs`` (from the node's own files); ``/openapi.json`` stays either way.
    api_docs: bool = True

    # Operations (docs/monitoring.md).
    #: Serve ``/metrics`` (unauthenticated: restrict it by network policy).
    metrics_enabled: bool = True
    #: ``avrr serve`` and ``avrr worker`` log one JSON object per line, or text for a terminal.
    log_format: Literal["json", "text"] = "json"
    #: Where the federation operator publishes the signed directory; empty: installed by hand.
    #: https only, except plain http to localhost.
    directory_url: str = ""
    #: How often ``avrr worker`` and ``avrr serve`` fetch it.
    directory_refresh: timedelta = Field(default=timedelta(hours=1), ge=timedelta(minutes=1))

    # Staff sign-in through the organisation's own OpenID Connect provider (``kit.oidc``); off
    # while ``oidc_discovery_url`` is empty.
    #: The provider's name as staff know it, shown on the sign-in button ("Keycloak of Mission X").
    oidc_name: str = ""
    #: The provider's discovery document, or its issuer URL (``/.well-known/openid-configuration``
    #: is then added). https only, except plain http to localhost for tests.
    oidc_discovery_url: str = ""
    #: This node's client id at the provider; required once a discovery URL is set.
    oidc_client_id: str = ""
    #: The client secret (``AVRR_OIDC_CLIENT_SECRET``); empty for a public client, which PKCE
    #: still protects. Never logged.
    oidc_client_secret: SecretStr = SecretStr("")
    #: A file holding the client secret, read (and stripped) when the variable above is not set.
    oidc_client_secret_file: str = ""
    oidc_scopes: str = "openid profile email"
    #: The claim naming the user (an id, not a name: letters, digits and ``._@-``).
    oidc_user_claim: str = "sub"
    #: The claim holding the user's groups or roles, a string or a list of strings; a dotted path
    #: reaches into an object (``realm_access.roles`` for Keycloak's realm roles).
    oidc_role_claim: str = "groups"
    #: Claim value -> staff role, e.g. ``{"avrr-caseworkers": "caseworker"}``. A user whose values
    #: map to several roles gets the first of dpo, caseworker, partner_officer, admin
    #: (``kit.oidc.ROLE_PRECEDENCE``); one whose values map to none is refused.
    oidc_roles: dict[str, StaffRole] = {}
    #: The claim naming the user's office (an id, like the user).
    oidc_office_claim: str = "office"
    #: The office of users whose token has no office claim; empty: such users are refused.
    oidc_default_office: str = ""
    #: The ``aud`` the provider's JWT access tokens carry for this node's API; empty: the client id.
    oidc_api_audience: str = ""

    # Per-person data keys (``kit.keystore``, docs/keys-and-backups.md).
    #: The key store's own database, shared by every replica (``postgresql://...`` in production,
    #: or ``sqlite:////path/keys.db``); never the data database, so a restored data backup cannot
    #: bring an erased person's key back. Empty: one file per person in ``<home>/keys/subjects``,
    #: which only processes sharing that folder can use.
    keystore_url: str = ""
    #: What wraps each person's key: ``file`` (``<home>/keys/master.key``) or ``pkcs11`` (an AES
    #: key held in a PKCS#11 token: an HSM, or SoftHSM2; the token does the wrapping).
    master_key_source: Literal["file", "pkcs11"] = "file"
    #: The token's PKCS#11 library (``/usr/lib/softhsm/libsofthsm2.so`` for SoftHSM2).
    pkcs11_module: str = ""
    #: The token's label (as ``softhsm2-util --show-slots`` or ``pkcs11-tool -L`` print it).
    pkcs11_token_label: str = ""
    #: The label of the AES key in the token (``avrr node keys create-master-in-token``).
    pkcs11_key_label: str = "avrr-master"
    #: The token's user PIN (``AVRR_PKCS11_PIN``); never logged, never in node.json.
    pkcs11_pin: SecretStr = SecretStr("")
    #: A file holding the PIN, read (and stripped) when the variable above is not set.
    pkcs11_pin_file: str = ""

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"trusted_proxies: {entry!r} is not an IP address or network (or *)"
                ) from exc
        return value

    @field_validator("public_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("public_url is a web address: https://...")
        return value.rstrip("/")

    @field_validator("directory_url")
    @classmethod
    def _directory_address(cls, value: str) -> str:
        if value and not secure_address(value):
            raise ValueError(
                "directory_url must be https (plain http only to localhost or 127.0.0.1)"
            )
        return value

    @field_validator("oidc_discovery_url")
    @classmethod
    def _discovery_address(cls, value: str) -> str:
        if not value:
            return value
        if not secure_address(value):
            raise ValueError(
                "oidc_discovery_url must be https (plain http only to localhost or 127.0.0.1)"
            )
        value = value.rstrip("/")
        return value if value.endswith(WELL_KNOWN) else value + WELL_KNOWN

    @field_validator("oidc_default_office")
    @classmethod
    def _office_id(cls, value: str) -> str:
        if value and not STAFF_NAME.match(value):
            raise ValueError("oidc_default_office is an id: letters, digits and ._@- only")
        return value

    @field_validator("oidc_user_claim", "oidc_role_claim", "oidc_office_claim")
    @classmethod
    def _claim_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a claim name cannot be empty")
        return value.strip()

    @model_validator(mode="after")
    def _oidc_client(self) -> Settings:
        if not self.oidc_discovery_url:
            return self
        if not self.oidc_client_id:
            raise ValueError("oidc_client_id is required when oidc_discovery_url is set")
        if not self.oidc_client_secret.get_secret_value() and self.oidc_client_secret_file:
            try:
                secret = Path(self.oidc_client_secret_file).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(
                    f"oidc_client_secret_file cannot be read ({type(exc).__name__})"
                ) from None
            self.oidc_client_secret = SecretStr(secret)
        return self

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'node.db'}"
        return self

    @model_validator(mode="after")
    def _key_store(self) -> Settings:
        """Runs after ``_default_database`` (validators run in the order they are defined)."""
        if self.keystore_url:
            if not self.keystore_url.startswith(("postgresql://", "postgresql+", "sqlite:///")):
                raise ValueError("keystore_url must be a postgresql:// or sqlite:/// URL")
            if same_database(self.keystore_url, self.database_url):
                raise ValueError(
                    "keystore_url must name its own database, never the data database: a "
                    "restored data backup would bring erased persons' keys back"
                )
        if self.master_key_source != "pkcs11":
            return self
        if not self.pkcs11_module or not self.pkcs11_token_label:
            raise ValueError("master_key_source pkcs11 needs pkcs11_module and pkcs11_token_label")
        if not self.pkcs11_pin.get_secret_value() and self.pkcs11_pin_file:
            try:
                pin = Path(self.pkcs11_pin_file).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"pkcs11_pin_file cannot be read ({type(exc).__name__})") from None
            self.pkcs11_pin = SecretStr(pin)
        return self

    @classmethod
    def for_home(cls, home: Path, **overrides: Any) -> Settings:
        """Settings from ``<home>/node.json``, then the environment, then ``overrides``."""
        path = home / CONFIG_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist; run 'avrr node init' first")
        values: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        values.update(overrides)
        values["home"] = home
        return cls(**values)
