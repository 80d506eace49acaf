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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

CONFIG_FILE = "node.json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AVRR_", extra="forbid")

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
