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
from dataclasses import dataclass
from datetime import datetime, timedelta

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


@dataclass(frozen=True)
class StaffTokenIssuer:
    key: SigningKey
    node_id: str

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
        return self.verify_claims(token, now=now, use=use)[0]

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
