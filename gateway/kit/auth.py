"""Staff authentication: bearer tokens from the node's built-in issuer, and who may do what.

The built-in issuer signs short JWTs (``crypto.jwt``) with its own Ed25519 key: ``iss`` is
``avrr:<node id>``, ``aud`` the node id, ``sub`` the user, plus ``role`` and ``office``. Tokens
from an organisation's own OpenID Connect provider can replace it by configuring that provider's
key here; the rest of the gateway only ever sees a ``Principal``.

Example::

    >>> issuer = StaffTokenIssuer(key=key, node_id="host-mission")                  # doctest: +SKIP
    >>> token = issuer.issue(user="cw-1", role=StaffRole.CASEWORKER, office="tunis",
    ...                      now=now, lifetime=timedelta(hours=8))                   # doctest: +SKIP
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crypto.digest import sha256_hex
from crypto.errors import InvalidSignature
from crypto.jwt import sign_jwt, verify_jwt
from crypto.keys import SigningKey
from gateway.kit.errors import Forbidden, Unauthorised
from schemas.common import StaffRole

_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,128}$")
#: What a built-in token is for: the API, or a one-time link into the staff pages.
API = "api"
SIGN_IN = "sign-in"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user id (not a name), their role, and the office they belong to."""

    user: str
    role: StaffRole
    office: str

    def require(self, *roles: StaffRole) -> None:
        if self.role not in roles:
            raise WrongRole(self)


class WrongRole(Forbidden):
    """A caller whose role may not do what it asked; the request's unit of work logs the denial."""

    def __init__(self, principal: Principal) -> None:
        super().__init__("your role may not do this")
        self.principal = principal


class VerifiedTokens:
    """API tokens of one issuer key already verified, so a repeat costs a lookup instead of an
    Ed25519 verification (about 0.2 ms), on every request a caseworker makes.

    Bounded (the least recently used entry goes first) and keyed by the token's SHA-256, so the
    cache never holds a bearer token. An entry answers only at a ``now`` at which verifying the
    token in full would accept it: from its ``iat`` until, strictly before, its ``exp``, while the
    issuer key is valid. Outside that window (before or after, or with a clock set back) the
    token is verified in full again, which accepts or refuses it exactly as without the cache;
    so the cache never returns a principal past the token's expiry. Only successes are kept.
    A cache belongs to one ``StaffTokenIssuer``, that is to one key: a node that loads another
    issuer key starts with an empty one.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[Principal, float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str, *, now: datetime) -> Principal | None:
        digest = sha256_hex(token.encode())
        moment = now.timestamp()
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            principal, issued, expires = entry
            if not issued <= moment < expires:
                if moment >= expires:
                    del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return principal

    def put(self, token: str, principal: Principal, *, issued: float, expires: float) -> None:
        digest = sha256_hex(token.encode())
        with self._lock:
            self._entries[digest] = (principal, issued, expires)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class StaffTokenIssuer:
    key: SigningKey
    node_id: str
    #: API tokens this issuer verified (``verify``); a sign-in link is never kept.
    verified: VerifiedTokens = field(
        default_factory=VerifiedTokens, init=False, repr=False, compare=False
    )

    @property
    def issuer(self) -> str:
        return f"avrr:{self.node_id}"

    def issue(
        self,
        *,
        user: str,
        role: StaffRole,
        office: str,
        now: datetime,
        lifetime: timedelta,
        use: str = API,
    ) -> str:
        """A token for the API (``use`` "api"), or for a one-time sign-in link to the staff
        pages (``use`` "sign-in"); neither is accepted for the other."""
        if not _NAME.match(user) or not _NAME.match(office):
            raise ValueError("user and office are ids: letters, digits and ._@- only")
        issued = int(now.timestamp())
        return sign_jwt(
            {
                "iss": self.issuer,
                "aud": self.node_id,
                "sub": user,
                "role": role.value,
                "office": office,
                "iat": issued,
                "exp": issued + int(lifetime.total_seconds()),
                "jti": secrets.token_hex(16),
                "use": use,
            },
            self.key,
        )

    def verify(self, token: str, *, now: datetime, use: str = API) -> Principal:
        """The caller of a token; ``Unauthorised`` if it does not verify at ``now``. An API
        token verified before is answered from ``verified`` while its time allows."""
        if use != API:
            return self.verify_claims(token, now=now, use=use)[0]
        if self.key.valid_at(now) and (known := self.verified.get(token, now=now)) is not None:
            return known
        principal, claims = self.verify_claims(token, now=now, use=use)
        issued, expires = claims["iat"], claims["exp"]
        if isinstance(issued, int) and isinstance(expires, int):
            self.verified.put(token, principal, issued=issued, expires=expires)
        return principal

    def verify_claims(
        self, token: str, *, now: datetime, use: str = API
    ) -> tuple[Principal, dict[str, object]]:
        """The principal and the token's claims (a sign-in link's ``jti`` is used once)."""
        try:
            claims = verify_jwt(token, self.key.public_key(), audience=self.node_id, now=now)
        except InvalidSignature as exc:
            raise Unauthorised("the bearer token is not valid here") from exc
        try:
            if claims.get("iss") != self.issuer:
                raise ValueError("issuer")
            if claims.get("use", API) != use:
                raise ValueError("use")
            user, office = str(claims["sub"]), str(claims["office"])
            if not _NAME.match(user) or not _NAME.match(office):
                raise ValueError("names")
            principal = Principal(user=user, role=StaffRole(claims["role"]), office=office)
            return principal, dict(claims)
        except (KeyError, ValueError) as exc:
            raise Unauthorised("the bearer token is not valid here") from exc
