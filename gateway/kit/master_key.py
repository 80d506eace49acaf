"""The node's master key, which wraps every per-person data key: a file, or a PKCS#11 token.

``FileMasterKey`` is ``<home>/keys/master.key`` (mode 0600), read into memory. ``TokenMasterKey``
is an AES-256 key held in a PKCS#11 token (an HSM, or SoftHSM2): it is generated there as
sensitive and not extractable, so it never leaves the token, and the token itself does the
AES-GCM that wraps and unwraps a data key, with the person's id bound as associated data
(``crypto.storage.wrap_key_in_token``). Nothing here implements a cipher.

One process keeps one logged-in session per token (a PKCS#11 login belongs to the application,
not to a session, so a second login would be refused) and serialises its use with a lock; a
session the token dropped (token removed, HSM restarted) is opened again once.

Example::

    >>> master = TokenMasterKey(module="/usr/lib/softhsm/libsofthsm2.so", token_label="avrr",
    ...                         key_label="avrr-master", pin="...")     # doctest: +SKIP
    >>> master.ready()                                                   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, TypeVar

from crypto.storage import (
    TOKEN_VERSION,
    StoredDataUnreadable,
    unwrap_key,
    unwrap_key_in_token,
    wrap_key,
    wrap_key_in_token,
)

T = TypeVar("T")


class KeyStoreUnavailable(Exception):
    """The key store or its master key cannot be reached or used now (database down, token
    missing, wrong PIN, no such key). The message names the store, never a key or a person."""


class MasterKey(Protocol):
    def wrap(self, data_key: bytes, *, subject: str) -> bytes:
        """The data key wrapped, bound to ``subject``."""
        ...

    def unwrap(self, wrapped: bytes, *, subject: str) -> bytes:
        """The data key; ``StoredDataUnreadable`` if it was not wrapped by this key for
        ``subject``."""
        ...

    def ready(self) -> None:
        """Raise ``KeyStoreUnavailable`` unless the key can be used now."""
        ...


class FileMasterKey:
    """The master key kept in a file outside the database (``<home>/keys/master.key``)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_file(cls, path: Path) -> FileMasterKey:
        try:
            return cls(path.read_bytes())
        except OSError as exc:
            raise KeyStoreUnavailable(f"the master key file {path} cannot be read") from exc

    def wrap(self, data_key: bytes, *, subject: str) -> bytes:
        return wrap_key(self._key, data_key, subject=subject)

    def unwrap(self, wrapped: bytes, *, subject: str) -> bytes:
        return unwrap_key(self._key, wrapped, subject=subject)

    def ready(self) -> None:
        """Always ready: the key was read when the node started."""


# -- PKCS#11 ----------------------------------------------------------------------------------

#: Errors that say the token or the session is gone, not that a wrapped key is wrong.
_UNREACHABLE_NAMES = (
    "DeviceError",
    "DeviceMemory",
    "DeviceRemoved",
    "NoSuchToken",
    "SessionClosed",
    "SessionCount",
    "SessionHandleInvalid",
    "TokenNotPresent",
    "TokenNotRecognised",
    "UserNotLoggedIn",
)
_PIN_REFUSED = ("PinIncorrect", "PinLocked", "PinExpired", "PinInvalid", "PinLenRange")
_LIBRARIES: dict[str, Any] = {}
_CONNECTIONS: dict[tuple[str, str], _TokenConnection] = {}
_REGISTRY_LOCK = threading.Lock()


def _pkcs11() -> ModuleType:
    try:
        import pkcs11
    except ImportError as exc:
        raise KeyStoreUnavailable(
            "master_key_source is pkcs11 but python-pkcs11 is not installed "
            "(pip install 'avrr-gateway[hsm]')"
        ) from exc
    return pkcs11


def _unreachable(exc: BaseException) -> bool:
    return type(exc).__name__ in _UNREACHABLE_NAMES


class _TokenConnection:
    """One token as this process sees it: its library, one logged-in session, one lock."""

    def __init__(self, module: str, token_label: str) -> None:
        self.module = module
        self.token_label = token_label
        self.lock = threading.Lock()
        self._session: Any | None = None
        #: Why the token refused the PIN, once it did: it is not offered again by this process.
        self.refused = ""

    @classmethod
    def shared(cls, module: str, token_label: str) -> _TokenConnection:
        with _REGISTRY_LOCK:
            key = (module, token_label)
            if key not in _CONNECTIONS:
                _CONNECTIONS[key] = cls(module, token_label)
            return _CONNECTIONS[key]

    def _token(self) -> Any:
        pkcs11 = _pkcs11()
        with _REGISTRY_LOCK:
            if self.module not in _LIBRARIES:
                _LIBRARIES[self.module] = pkcs11.lib(self.module)
            library = _LIBRARIES[self.module]
        return library.get_token(token_label=self.token_label)

    def session(self, pin: str) -> Any:
        """The logged-in session (opened on first use); call with ``lock`` held."""
        if self._session is None:
            self._session = self._token().open(user_pin=pin, rw=False)
        return self._session

    def drop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            # It is already unusable; only let go of it.
            with contextlib.suppress(Exception):
                session.close()

    def rw_session(self, pin: str) -> Any:
        """A read-write session to create a key; logged in through the shared one."""
        self.session(pin)
        return self._token().open(rw=True)


class TokenMasterKey:
    """An AES-256 key in a PKCS#11 token, found by its label; the token wraps and unwraps."""

    def __init__(self, *, module: str, token_label: str, key_label: str, pin: str) -> None:
        self._connection = _TokenConnection.shared(module, token_label)
        self._key_label = key_label
        self._pin = pin

    def _describe(self) -> str:
        return f"the key {self._key_label!r} in PKCS#11 token {self._connection.token_label!r}"

    def _with_key(self, operation: Callable[[Any], T]) -> T:
        """Run ``operation`` on the token's key, opening the session again once if it dropped
        (token removed, HSM restarted). Any failure of the token is ``KeyStoreUnavailable``."""
        connection = self._connection
        with connection.lock:
            for attempt in (1, 2):
                try:
                    return operation(self._find_key(connection))
                except (KeyStoreUnavailable, StoredDataUnreadable):
                    raise
                except Exception as exc:
                    connection.drop()
                    name = type(exc).__name__
                    if name in _PIN_REFUSED:
                        # Never try a refused PIN again: a few more tries would lock the token.
                        connection.refused = name
                    if attempt == 2 or not _unreachable(exc) or name in _PIN_REFUSED:
                        raise KeyStoreUnavailable(
                            f"{self._describe()} cannot be used ({name})"
                        ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _find_key(self, connection: _TokenConnection) -> Any:
        """The key, through the session (opened and logged in if need be); with the lock held."""
        if connection.refused:
            raise KeyStoreUnavailable(
                f"the PKCS#11 token {connection.token_label!r} refused the PIN "
                f"({connection.refused}); fix it and restart"
            )
        session = connection.session(self._pin)
        try:
            return session.get_key(label=self._key_label, key_type=_pkcs11().KeyType.AES)
        except Exception as exc:
            problem = {
                "NoSuchKey": "does not exist",
                "MultipleObjectsReturned": "is not unique: several keys have that label",
            }.get(type(exc).__name__)
            if problem is None:
                raise
            raise KeyStoreUnavailable(f"{self._describe()} {problem}") from exc

    def encrypt(self, plaintext: bytes, *, nonce: bytes, aad: bytes) -> bytes:
        return self._with_key(lambda key: _gcm(key, "encrypt", plaintext, nonce, aad))

    def decrypt(self, ciphertext: bytes, *, nonce: bytes, aad: bytes) -> bytes:
        def opened(key: Any) -> bytes:
            try:
                return _gcm(key, "decrypt", ciphertext, nonce, aad)
            except Exception as exc:
                if _unreachable(exc):
                    raise
                # The token refuses a tag that does not check out (SoftHSM2 says GeneralError).
                raise StoredDataUnreadable("wrapped key does not open") from exc

        return self._with_key(opened)

    def wrap(self, data_key: bytes, *, subject: str) -> bytes:
        return wrap_key_in_token(self, data_key, subject=subject)

    def unwrap(self, wrapped: bytes, *, subject: str) -> bytes:
        if not wrapped.startswith(TOKEN_VERSION):
            raise StoredDataUnreadable("this key was not wrapped by a PKCS#11 token")
        return unwrap_key_in_token(self, wrapped, subject=subject)

    def ready(self) -> None:
        """Open the session (logging in) and find the key, or raise ``KeyStoreUnavailable``."""
        self._with_key(lambda key: None)

    def create(self) -> None:
        """Generate the AES-256 key inside the token: sensitive, never extractable, only for
        encrypting and decrypting. Refuses if a key with the label exists."""
        pkcs11 = _pkcs11()
        attribute = pkcs11.Attribute
        connection = self._connection
        with connection.lock:
            if connection.refused:
                raise KeyStoreUnavailable(
                    f"the PKCS#11 token {connection.token_label!r} refused the PIN; fix it"
                )
            try:
                session = connection.session(self._pin)
                existing = list(session.get_objects({attribute.LABEL: self._key_label}))
            except Exception as exc:
                connection.drop()
                if type(exc).__name__ in _PIN_REFUSED:
                    connection.refused = type(exc).__name__
                raise KeyStoreUnavailable(
                    f"the PKCS#11 token {connection.token_label!r} cannot be reached "
                    f"({type(exc).__name__})"
                ) from exc
            if existing:
                raise KeyStoreUnavailable(f"{self._describe()} already exists; refusing")
            writer = connection.rw_session(self._pin)
            try:
                writer.generate_key(
                    pkcs11.KeyType.AES,
                    256,
                    label=self._key_label,
                    store=True,
                    template={
                        attribute.TOKEN: True,
                        attribute.PRIVATE: True,
                        attribute.SENSITIVE: True,
                        attribute.EXTRACTABLE: False,
                        attribute.ENCRYPT: True,
                        attribute.DECRYPT: True,
                        attribute.WRAP: False,
                        attribute.UNWRAP: False,
                        attribute.SIGN: False,
                        attribute.VERIFY: False,
                        attribute.DERIVE: False,
                    },
                )
            finally:
                writer.close()


def _gcm(key: Any, direction: str, data: bytes, nonce: bytes, aad: bytes) -> bytes:
    from pkcs11 import Mechanism
    from pkcs11.mechanisms import GCMParams

    param = GCMParams(nonce, aad, 128)
    if direction == "encrypt":
        return bytes(key.encrypt(data, mechanism=Mechanism.AES_GCM, mechanism_param=param))
    return bytes(key.decrypt(data, mechanism=Mechanism.AES_GCM, mechanism_param=param))
