"""Signed JSON Web Tokens with Ed25519 (JWS alg ``Ed25519``, RFC 9864), via joserfc.

Two kinds of token use this recipe: staff bearer tokens from a node's built-in issuer, and the
short-lived tokens one node presents to another. Verification checks the signature, ``aud``,
``exp`` and ``iat`` against an injected ``now``, and raises ``InvalidSignature`` on any failure.

Example::

    >>> token = sign_jwt({"aud": "n", "exp": 2, "iat": 1}, key)             # doctest: +SKIP
    >>> verify_jwt(token, key.public_key(), audience="n", now=now)["aud"]    # doctest: +SKIP
    'n'
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from crypto import _primitives
from crypto.errors import InvalidSignature
from crypto.keys import KeyUse, PublicKey, SigningKey

ALGORITHM = "Ed25519"


def sign_jwt(claims: dict[str, Any], key: SigningKey) -> str:
    jwk = OKPKey.import_key(_primitives.ed25519_private_key_object(key.seed))
    return jwt.encode({"alg": ALGORITHM, "kid": key.key_id}, claims, jwk, algorithms=[ALGORITHM])


def _unverified_parts(token: str) -> tuple[dict[str, Any], Any]:
    """The protected header, a JSON object, and the claims of a compact token, unchecked."""
    try:
        parts = jws.extract_compact(token.encode("ascii"))
        header = parts.headers()
        claims = json.loads(parts.payload)
    except (JoseError, ValueError, UnicodeError, RecursionError) as exc:
        # RecursionError: JSON nested deeper than the parser goes, which anyone can send, since
        # nothing here is verified yet.
        raise InvalidSignature("not a token") from exc
    if not isinstance(header, dict):
        # joserfc takes any JSON whose text contains "alg" for a header (a string, an array),
        # and then fails on it with TypeError or AttributeError.
        raise InvalidSignature("the token's header is not a JSON object")
    return header, claims


def unverified_claims(token: str) -> tuple[str, dict[str, Any]]:
    """The key id and claims as the token states them, *before* any check: to pick a key only."""
    header, claims = _unverified_parts(token)
    key_id = header.get("kid")
    if not isinstance(key_id, str) or not isinstance(claims, dict):
        raise InvalidSignature("token names no key")
    return key_id, claims


def verify_jwt(
    token: str,
    key: PublicKey,
    *,
    audience: str,
    now: datetime,
    leeway: timedelta = timedelta(seconds=30),
    max_lifetime: timedelta | None = None,
) -> dict[str, Any]:
    if key.use is not KeyUse.SIGNING or not key.valid_at(now):
        raise InvalidSignature("the token's key is not a signing key valid now")
    jwk = OKPKey.import_key(_primitives.ed25519_public_key_object(key.public))
    _unverified_parts(token)
    try:
        decoded = jwt.decode(token, jwk, algorithms=[ALGORITHM])
        if decoded.header.get("kid") != key.key_id:
            raise InvalidSignature("token signed by another key")
        registry = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=int(leeway.total_seconds()),
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
        )
        registry.validate(decoded.claims)
    except (JoseError, ValueError, RecursionError) as exc:
        raise InvalidSignature("token does not verify") from exc
    claims = dict(decoded.claims)
    if claims.get("aud") != audience:
        # One token, one audience: a list naming several nodes would let it be presented to each.
        raise InvalidSignature("token must name exactly this audience")
    issued, expires = claims["iat"], claims["exp"]
    if not isinstance(issued, int) or not isinstance(expires, int):
        raise InvalidSignature("token times are not integers")
    if issued > now.timestamp() + leeway.total_seconds():
        raise InvalidSignature("token issued in the future")
    if max_lifetime is not None and expires - issued > max_lifetime.total_seconds():
        raise InvalidSignature("token lives longer than allowed")
    return claims
