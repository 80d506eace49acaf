"""Fetching the federation directory from the operator's URL, and how long the installed one lasts.

The federation operator publishes the signed directory at one URL (``directory_url``); every
node fetches it on a schedule (``directory_refresh``, in ``avrr worker`` and ``avrr serve``) or
at once (``avrr node fetch-directory HOME``).

Invariants:
- a fetched directory is installed only through ``NodeHome.install_directory``: it must verify
  under the operator key the node pinned, be current, and not be older than the installed one;
  a tampered or older directory is refused and the installed one stays;
- the same serial again is no news: nothing is written and nothing is wrong;
- a failed fetch (network, status, size, not a signed document) keeps the installed directory
  and says so in the log, once per refresh;
- from ``EXPIRY_WARNING`` before the installed directory expires, every refresh warns in the
  log; ``/readyz`` and the ``avrr_directory_days_left`` gauge say so on every look.

Example::

    >>> DirectoryRefresher(node=node, http=httpx.Client(timeout=10)).run_once()  # doctest: +SKIP
    FetchReport(outcome='installed', serial=8, days_left=29.9)
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from pydantic import ValidationError

from gateway.kit.errors import ServiceUnavailable
from gateway.kit.metrics import DIRECTORY_FETCHES
from gateway.kit.node import Node
from gateway.kit.periodic import run_periodically
from partners.directory import signed_serial
from partners.errors import DirectoryError
from schemas.envelope import SignedDocument

log = logging.getLogger("avrr.directory")

#: From this long before the installed directory expires, the node warns.
EXPIRY_WARNING = timedelta(days=7)
#: A directory larger than this is not a directory (a thousand members fit in far less).
MAX_DIRECTORY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class DirectoryState:
    """The installed directory as an operator needs to know it: valid, until when, a warning."""

    valid: bool
    serial: int | None = None
    expires_at: datetime | None = None
    days_left: float = 0.0
    warning: str | None = None


def directory_state(node: Node) -> DirectoryState:
    """What the node's installed directory is worth now (no network, no log line)."""
    now = node.clock.now()
    try:
        directory = node.directory().directory
    except ServiceUnavailable as absent:
        return DirectoryState(valid=False, warning=absent.detail)
    left = directory.expires_at - now
    warning = None
    if left <= EXPIRY_WARNING:
        warning = (
            f"the federation directory expires in {left.total_seconds() / 86400:.1f} days "
            f"({directory.expires_at.isoformat()}); the operator must sign and publish a new one"
        )
    return DirectoryState(
        valid=True,
        serial=directory.serial,
        expires_at=directory.expires_at,
        days_left=left.total_seconds() / 86400,
        warning=warning,
    )


class FetchFailed(Exception):
    """The directory could not be fetched; ``outcome`` is a short word for the log."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


def fetch_signed_directory(http: httpx.Client, url: str) -> SignedDocument:
    """GET the signed directory at ``url``; ``FetchFailed`` for anything but one within limits."""
    try:
        with http.stream("GET", url, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise FetchFailed(f"http_{response.status_code}")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_DIRECTORY_BYTES:
                    raise FetchFailed("too_large")
    except httpx.TimeoutException as exc:
        raise FetchFailed("timeout") from exc
    except httpx.HTTPError as exc:
        raise FetchFailed("unreachable") from exc
    try:
        return SignedDocument.model_validate_json(body)
    except ValidationError as exc:
        raise FetchFailed("not_a_signed_document") from exc


@dataclass(frozen=True)
class FetchReport:
    #: installed, unchanged, older, refused or failed.
    outcome: str
    serial: int | None = None
    detail: str = ""

    def __str__(self) -> str:
        serial = f" (serial {self.serial})" if self.serial is not None else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"directory {self.outcome}{serial}{detail}"


class DirectoryRefresher:
    """Fetch the directory from ``node.settings.directory_url`` and install it if newer."""

    def __init__(self, *, node: Node, http: httpx.Client) -> None:
        self._node = node
        self._http = http

    def run_once(self) -> FetchReport:
        report = self._fetch_and_install()
        DIRECTORY_FETCHES.labels(outcome=report.outcome).inc()
        if report.outcome in ("installed", "unchanged"):
            log.info("%s", report)
        else:
            log.warning("%s; the installed directory stays", report)
        state = directory_state(self._node)
        if state.warning:
            log.warning("%s", state.warning)
        return report

    def _fetch_and_install(self) -> FetchReport:
        url = self._node.settings.directory_url
        if not url:
            return FetchReport("failed", detail="no directory_url is set")
        home = self._node.home
        try:
            doc = fetch_signed_directory(self._http, url)
        except FetchFailed as failure:
            return FetchReport("failed", detail=failure.outcome)
        try:
            operator = home.operator_key()
        except (FileNotFoundError, ValidationError):
            return FetchReport(
                "failed", detail="no operator key is pinned; run 'avrr node install-directory'"
            )
        try:
            serial = signed_serial(doc, operator)
            installed = home.directory_file.exists()
            current = signed_serial(home.signed_directory(), operator) if installed else 0
            if serial < current:
                return FetchReport("older", serial, f"serial {current} is installed")
            if serial == current:
                return FetchReport("unchanged", serial)
            view = home.install_directory(doc, self._node.clock.now())
        except DirectoryError as refused:
            return FetchReport("refused", detail=str(refused))
        except ValidationError:
            return FetchReport("refused", detail="the installed directory cannot be read")
        except OSError as exc:
            # A home folder the process may not write (a read-only mount): say so, keep running.
            return FetchReport(
                "failed", detail=f"cannot write the directory ({type(exc).__name__})"
            )
        return FetchReport("installed", view.directory.serial)

    def run_forever(self, *, interval: float, stop: threading.Event) -> None:
        def step() -> None:
            self.run_once()  # logs its own line, once per refresh

        run_periodically(step, interval=interval, stop=stop, log=log, name="directory")
