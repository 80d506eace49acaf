"""Everything a running node knows about itself, built once in ``create_app`` or the worker.

The directory and the keyring are re-read when their files change (an operator installs a new
directory or rotates keys without a restart), and the directory's expiry is checked on every use:
an expired directory stops the node from sending or accepting anything until a fresh one arrives.

Whether the files changed is checked (``stat``) at most once per ``FILE_CHECK_INTERVAL`` (one
second), not on each of the several uses a request makes. A change this process makes through
``kit.home`` (installing a directory, rotating keys, ``home.files_changed``) is seen at once;
a change by another process (``avrr node install-directory``, another replica's directory
fetch, a file removed by hand) is seen within that second. An expired directory is refused at
once whatever the interval: expiry is checked against the clock on every use.
Staff sign in with the node's built-in issuer, or, when configured, the organisation's OpenID
Connect provider (``oidc``), which is not contacted until first used.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Generic, TypeVar

from crypto.keys import SigningKey
from gateway.kit.auth import StaffTokenIssuer
from gateway.kit.clock import Clock
from gateway.kit.config import Settings
from gateway.kit.errors import ServiceUnavailable
from gateway.kit.home import NodeHome, files_generation
from gateway.kit.keystore import KeyStore, open_keystore
from gateway.kit.oidc import OidcClient
from partners.directory import FederationView, verify_directory
from partners.errors import DirectoryError, NoUsableKey
from partners.keyring import Keyring

T = TypeVar("T")

#: Seconds a check of the directory's and the keys' files holds (see the module's docstring).
FILE_CHECK_INTERVAL = 1.0


def _stamp(paths: list[Path]) -> tuple[tuple[str, int, int], ...]:
    stamps = []
    for path in paths:
        stat = path.stat()
        stamps.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


@dataclass
class _Cached(Generic[T]):
    stamp: tuple[tuple[str, int, int], ...] | None = None
    value: T | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: When the files were last checked (``time.monotonic``), and this process's count of its
    #: own changes then (``home.files_generation``).
    checked_at: float = float("-inf")
    generation: int = -1

    def checked_recently(self) -> bool:
        return (
            self.value is not None
            and self.generation == files_generation()
            and time.monotonic() - self.checked_at < FILE_CHECK_INTERVAL
        )

    def checked(self, generation: int) -> None:
        self.checked_at, self.generation = time.monotonic(), generation

    def forget(self) -> None:
        self.stamp, self.value, self.checked_at = None, None, float("-inf")


class Node:
    def __init__(self, *, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.home = NodeHome(settings.home)
        self.node_id = settings.node_id
        self.staff = StaffTokenIssuer(key=self.home.staff_issuer(), node_id=settings.node_id)
        #: The organisation's OpenID Connect provider; None while none is configured.
        self.oidc: OidcClient | None = OidcClient(settings) if settings.oidc_discovery_url else None
        self.pseudonym_secret = self.home.pseudonym_secret()
        #: Per-person data keys: files in the home, or a database every replica shares.
        self.keys: KeyStore = open_keystore(settings, self.home)
        self._directory: _Cached[FederationView] = _Cached()
        self._keyring: _Cached[Keyring] = _Cached()

    def directory(self) -> FederationView:
        """The installed directory, verified and current; 503 if there is none."""
        now = self.clock.now()
        cache = self._directory
        with cache.lock:
            try:
                if not cache.checked_recently():
                    generation = files_generation()
                    stamp = _stamp([self.home.directory_file, self.home.operator_file])
                    if cache.stamp != stamp or cache.value is None:
                        cache.stamp, cache.value = (
                            stamp,
                            verify_directory(
                                self.home.signed_directory(), self.home.operator_key(), now=now
                            ),
                        )
                    cache.checked(generation)
            except (OSError, DirectoryError) as exc:
                cache.forget()
                raise ServiceUnavailable(
                    "this node has no valid federation directory; the operator must install one"
                ) from exc
            view = cache.value
        assert view is not None  # just checked, or an error was raised
        if view.directory.expires_at <= now:
            raise ServiceUnavailable("the federation directory has expired; install a fresh one")
        return view

    def keyring(self) -> Keyring:
        cache = self._keyring
        with cache.lock:
            if cache.checked_recently() and cache.value is not None:
                return cache.value
            generation = files_generation()
            paths = sorted(self.home.keys.glob("signing-*.json")) + sorted(
                self.home.keys.glob("encryption-*.json")
            )
            stamp = _stamp(paths)
            if cache.stamp != stamp or cache.value is None:
                cache.stamp, cache.value = stamp, self.home.keyring()
            cache.checked(generation)
            return cache.value

    def signing_key(self, now: datetime) -> SigningKey:
        """The key to sign with: the newest one the directory lists for this node, valid now.

        After ``avrr node rotate-keys`` the node keeps signing with its previous key until the
        operator lists the new one, so no other node ever sees a signature it cannot check.
        """
        try:
            listed = self.directory().current_signing_key(self.node_id, now)
            return self.keyring().signing_key(listed.key_id, now)
        except (DirectoryError, NoUsableKey) as exc:
            raise ServiceUnavailable(
                "the directory lists no valid signing key of this node that the node holds"
            ) from exc
