"""Short-lived signed tokens that authenticate one node's request to another.

A token is a JWT signed with the sending node's Ed25519 key (``crypto.jwt``) and carries: ``iss``
(sending node), ``aud`` (receiving node), ``iat``/``exp`` (at most ``MAX_TTL`` apart), ``jti``
(random, one-time: the receiver remembers it until ``exp``) and ``body`` (SHA-256 of the request
body, so a captured token cannot carry another body). This sits on top of the envelope signature:
the token says *which node is calling now*, the envelope says *who wrote this packet*.

Example::

    >>> tok = issue_node_token(key=k, issuer="host", audience="partner",
    ...                        body=b"{}", now=now, token_id="ab" * 16)        # doctest: +SKIP
    >>> verify_node_token(tok, view=view, audience="partner", body=b"{}", now=now).issuer  # doctest: +SKIP
    'host'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crypto.digest import sha256_hex
from crypto.errors import InvalidSignature
from crypto.jwt import sign_jwt, unverified_claims, verify_jwt
from crypto.keys import SigningKey
from partners.directory import FederationView
from partners.errors import DirectoryError, InvalidNodeToken

MAX_TTL = timedelta(minutes=2)
DEFAULT_TTL = timedelta(seconds=60)


@dataclass(frozen=True)
class NodeTokenClaims:
    issuer: str
    token_id: str
    expires_at: datetime


def _body_hash(body: bytes) -> str:
    return sha256_hex(body)


def issue_node_token(
    *,
    key: SigningKey,
    issuer: str,
    audience: str,
    body: bytes,
    now: datetime,
    token_id: str,
    ttl: timedelta = DEFAULT_TTL,
) -> str:
    issued = int(now.timestamp())
    claims = {
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "exp": issued + int(ttl.total_seconds()),
        "jti": token_id,
        "body": _body_hash(body),
    }
    return sign_jwt(claims, key)


def verify_node_token(
    token: str,
    *,
    view: FederationView,
    audience: str,
    body: bytes,
    now: datetime,
) -> NodeTokenClaims:
    """Check signature (by a directory key of the issuing node), audience, times and body hash."""
    try:
        key_id, stated = unverified_claims(token)
        issuer = stated.get("iss")
        if not isinstance(issuer, str):
            raise InvalidNodeToken("token names no issuer")
        public = view.signing_key(issuer, key_id)
        claims = verify_jwt(token, public, audience=audience, now=now, max_lifetime=MAX_TTL)
    except (InvalidSignature, DirectoryError) as exc:
        raise InvalidNodeToken("token does not verify") from exc
    if claims.get("iss") != issuer or claims.get("body") != _body_hash(body):
        raise InvalidNodeToken("token is for another issuer or body")
    token_id = claims["jti"]
    if not isinstance(token_id, str) or not 16 <= len(token_id) <= 64:
        raise InvalidNodeToken("token id is malformed")
    return NodeTokenClaims(issuer, token_id, datetime.fromtimestamp(claims["exp"], UTC))
