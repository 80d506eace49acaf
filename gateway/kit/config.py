"""One ``Settings`` object per node, built by the caller and passed to ``create_app``.

A node's settings live in ``<home>/node.json`` (written by ``avrr node init``); ``AVRR_*``
environment variables fill in what the file leaves out. Nothing is read at import time.

Example::

    >>> Settings(home=Path("/tmp/n"), node_id="host-mission").database_url
    'sqlite:////tmp/n/node.db'
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    staff_token_lifetime: timedelta = timedelta(hours=8)
    #: Statistics: a cell counting fewer people than this is suppressed (with what would
    #: reveal it).
    statistics_min_count: int = Field(default=10, ge=2, le=1000)
    #: The time zone pages show times in (IANA name, such as ``Africa/Tunis``).
    time_zone: str = "UTC"
    #: The address people reach this node's portal at, printed on access cards
    #: (``https://avrr.example.org``); empty: the address the card was requested at.
    public_url: str = ""

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

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @field_validator("public_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("public_url is a web address: https://...")
        return value.rstrip("/")

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
