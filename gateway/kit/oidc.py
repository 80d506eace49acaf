"""Staff sign-in through the organisation's own OpenID Connect provider, and its access tokens.

Sign-in is the authorization code flow with PKCE (S256), a ``state`` and a ``nonce``:
``OidcClient.start`` builds the provider's URL and returns what the caller keeps until the browser
comes back; ``finish`` checks the state, exchanges the code (with the PKCE verifier), verifies the
ID token and maps its claims to a ``Principal``. An access token from the same provider is accepted
on the API by ``verify_bearer``: a JWT is verified against the provider's keys, an opaque token is
shown to the provider's userinfo endpoint.

Invariants:

- Only asymmetric signatures (``ALGORITHMS``) verify, never ``none`` or HMAC; ``iss`` must be
  exactly the issuer the discovery document names, and that issuer must be the discovery URL's
  prefix (OpenID Connect Discovery 1.0, section 4.3).
- Every failure of ``finish`` and ``verify_bearer`` reaches the caller as one ``Unauthorised``;
  the log records what kind of failure it was, never a token, a secret or a claim's value. A valid
  user whose claims name no configured role is ``NoStaffRole`` (403).
- Nothing is fetched before first use. The discovery document is kept for the life of the client;
  the key set is refetched when a token names a key it lacks, at most once per ``KEYS_REFETCH``;
  a userinfo answer is kept at most ``USERINFO_TTL``, under the SHA-256 of the token.
- Time is passed in (``now``): expiry, issue time and the caches all use it.

An opaque access token says less than a JWT: the userinfo endpoint vouches for the user, not that
the token was issued to this node. Where the provider can issue JWT access tokens with an audience
for the API (``oidc_api_audience``), prefer them.

Example::

    >>> oidc = OidcClient(settings)                                                 # doctest: +SKIP
    >>> started = oidc.start("https://avrr.example.org/staff/sign-in/callback")     # doctest: +SKIP
    >>> # ...the browser signs in and comes back with ?code=...&state=...
    >>> oidc.finish(code=code, returned_state=state, started=started,             # doctest: +SKIP
    ...             redirect_uri="https://avrr.example.org/staff/sign-in/callback", now=now)
    Principal(user='cw-1', role=<StaffRole.CASEWORKER: 'caseworker'>, office='tunis')
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, overload

import httpx
from authlib.common.errors import AuthlibBaseError  # type: ignore[import-untyped]
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key, KeySet

from gateway.kit.auth import _NAME as STAFF_NAME
from gateway.kit.auth import Principal
from gateway.kit.config import WELL_KNOWN, Settings, secure_address
from gateway.kit.errors import Forbidden, ServiceUnavailable, Unauthorised
from schemas.common import StaffRole

with warnings.catch_warnings():
    # Authlib asks for the httpx2 fork; the project stays on httpx, which Authlib still supports.
    warnings.filterwarnings("ignore", "The httpx module is deprecated", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]

log = logging.getLogger("avrr.oidc")

#: Signature algorithms accepted on ID tokens and access tokens: asymmetric ones only.
ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
)
#: A user whose claims map to several roles signs in with the first of these they hold. The
#: data protection officer comes first so that oversight is not done under another hat; admin,
#: the role that changes the node itself, only when nothing else applies.
ROLE_PRECEDENCE = (StaffRole.DPO, StaffRole.CASEWORKER, StaffRole.PARTNER_OFFICER, StaffRole.ADMIN)
TIMEOUT = httpx.Timeout(10.0)
KEYS_REFETCH = timedelta(seconds=30)
USERINFO_TTL = timedelta(seconds=60)
_USERINFO_ENTRIES = 1024
_LONGEST_TOKEN = 16_384
_ASYMMETRIC = ("RSA", "EC", "OKP")

_SIGN_IN_FAILED = "the sign-in with your organisation's account did not succeed"
_BEARER_REFUSED = "the bearer token is not valid here"


@dataclass(frozen=True)
class StartedSignIn:
    """A sign-in sent to the provider: where to send the browser, and what to keep until it
    comes back (the state, the nonce and the PKCE verifier, all secret)."""

    url: str
    state: str
    nonce: str
    code_verifier: str


class NoStaffRole(Forbidden):
    """A user the provider vouches for, whose claims map to no staff role on this node."""

    def __init__(self) -> None:
        super().__init__("your account has no staff role on this node")


class _Refused(Exception):
    """Why a sign-in or token was refused: for the log only, never a token or a claim's value."""


@dataclass(frozen=True)
class _Provider:
    """The parts of the provider's discovery document this client uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None

    @classmethod
    def parse(cls, document: object, discovery_url: str) -> _Provider:
        if not isinstance(document, dict):
            raise _Refused("discovery document is not a JSON object")
        issuer = document.get("issuer")
        if not isinstance(issuer, str) or issuer.rstrip("/") + WELL_KNOWN != discovery_url:
            raise _Refused("discovery document names another issuer than its address")
        return cls(
            issuer=issuer,
            authorization_endpoint=_endpoint(document, "authorization_endpoint"),
            token_endpoint=_endpoint(document, "token_endpoint"),
            jwks_uri=_endpoint(document, "jwks_uri"),
            userinfo_endpoint=_endpoint(document, "userinfo_endpoint", optional=True),
            end_session_endpoint=_endpoint(document, "end_session_endpoint", optional=True),
        )


@overload
def _endpoint(document: dict[str, Any], name: str) -> str: ...
@overload
def _endpoint(document: dict[str, Any], name: str, *, optional: bool) -> str | None: ...
def _endpoint(document: dict[str, Any], name: str, *, optional: bool = False) -> str | None:
    value = document.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not secure_address(value):
        raise _Refused(f"discovery document: {name} missing or not https")
    return value


class OidcClient:
    """One organisation's OpenID Connect provider, as this node's client. Thread-safe."""

    def __init__(self, settings: Settings, *, http: httpx.Client | None = None) -> None:
        if not settings.oidc_discovery_url or not settings.oidc_client_id:
            raise ValueError("OpenID Connect is not configured (oidc_discovery_url, client id)")
        self._settings = settings
        self._http = http if http is not None else httpx.Client(timeout=TIMEOUT)
        self._owns_http = http is None
        self._leeway = int(settings.clock_skew.total_seconds())
        self._provider_lock = threading.Lock()
        self._provider_cache: _Provider | None = None
        self._keys_lock = threading.Lock()
        self._keys: KeySet | None = None
        self._keys_refetched_at: datetime | None = None
        self._userinfo_lock = threading.Lock()
        self._userinfo: dict[str, tuple[datetime, dict[str, Any]]] = {}

    @property
    def name(self) -> str:
        """The provider's name for the sign-in button: ``oidc_name``, else its host."""
        return self._settings.oidc_name or httpx.URL(self._settings.oidc_discovery_url).host

    @property
    def issuer(self) -> str:
        return self._provider_or_unavailable().issuer

    @property
    def api_audience(self) -> str:
        return self._settings.oidc_api_audience or self._settings.oidc_client_id

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def start(self, redirect_uri: str) -> StartedSignIn:
        """A fresh state, nonce and PKCE verifier, and the provider's URL carrying them.

        Raises ``ServiceUnavailable`` if the provider's discovery document cannot be had.
        """
        provider = self._provider_or_unavailable()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(48)
        with self._oauth(redirect_uri) as oauth:
            url, _ = oauth.create_authorization_url(
                provider.authorization_endpoint, state=state, code_verifier=verifier, nonce=nonce
            )
        return StartedSignIn(url=str(url), state=state, nonce=nonce, code_verifier=verifier)

    def finish(
        self,
        *,
        code: str,
        returned_state: str,
        started: StartedSignIn,
        redirect_uri: str,
        now: datetime,
    ) -> Principal:
        """Exchange the code (with the PKCE verifier), verify the ID token (JWKS signature, iss,
        aud, exp, iat, nonce), map claims to a Principal. Raises Unauthorised for any failure
        (state mismatch, provider error, bad token), NoStaffRole if no configured role matches."""
        try:
            if not hmac.compare_digest(
                returned_state.encode("utf-8"), started.state.encode("utf-8")
            ):
                raise _Refused("the returned state is not the one the sign-in started with")
            id_token = self._exchange(code, started.code_verifier, redirect_uri)
            claims = self._verify_id_token(id_token, nonce=started.nonce, now=now)
        except _Refused as exc:
            log.warning("OpenID Connect sign-in refused: %s", exc)
            raise Unauthorised(_SIGN_IN_FAILED) from None
        return staff_principal(claims, self._settings)

    def verify_bearer(self, token: str, *, now: datetime) -> Principal:
        """An access token from the provider used as a bearer token on the API: if it is a JWT,
        verify it against the JWKS (iss, aud = oidc_api_audience or client id, exp); otherwise
        ask the provider's userinfo endpoint with it (the answer kept at most 60 s, under a
        SHA-256 of the token). Map claims as for finish. Unauthorised / NoStaffRole on failure."""
        try:
            if len(token) > _LONGEST_TOKEN or not token.isascii() or not token.isprintable():
                raise _Refused("the bearer token is not a token")
            if _is_jwt(token):
                claims = self._verify_access_token(token, now=now)
            else:
                claims = self._userinfo_claims(token, now=now)
        except _Refused as exc:
            log.info("OpenID Connect bearer token refused: %s", exc)
            raise Unauthorised(_BEARER_REFUSED) from None
        return staff_principal(claims, self._settings)

    def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        """The provider's end_session_endpoint, asked to send the browser back to
        ``post_logout_redirect_uri``; None if it has none, or cannot be reached now (signing
        out of this node must not depend on the provider)."""
        try:
            provider = self._provider()
        except _Refused as exc:
            log.warning("OpenID Connect provider unavailable for sign-out: %s", exc)
            return None
        if provider.end_session_endpoint is None:
            return None
        url = httpx.URL(provider.end_session_endpoint).copy_merge_params(
            {
                "client_id": self._settings.oidc_client_id,
                "post_logout_redirect_uri": post_logout_redirect_uri,
            }
        )
        return str(url)

    # The provider's documents.

    def _provider(self) -> _Provider:
        with self._provider_lock:
            if self._provider_cache is None:
                url = self._settings.oidc_discovery_url
                self._provider_cache = _Provider.parse(self._get_json(url, "discovery"), url)
            return self._provider_cache

    def _provider_or_unavailable(self) -> _Provider:
        try:
            return self._provider()
        except _Refused as exc:
            log.warning("OpenID Connect provider unavailable: %s", exc)
            raise ServiceUnavailable(
                "the organisation's sign-in service cannot be reached; try again later"
            ) from None

    def _get_json(self, url: str, what: str, token: str | None = None) -> object:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = self._http.get(url, headers=headers, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            raise _Refused(f"{what}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise _Refused(f"{what}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise _Refused(f"{what}: not JSON") from None

    def _key_set(self, key_id: str | None, now: datetime) -> KeySet:
        with self._keys_lock:
            if self._keys is None:
                self._keys = self._fetch_keys()
            if not _names_key(self._keys, key_id) and self._may_refetch(now):
                self._keys_refetched_at = now
                self._keys = self._fetch_keys()
            if not _names_key(self._keys, key_id):
                raise _Refused("the token names a key the provider does not list")
            return self._keys

    def _may_refetch(self, now: datetime) -> bool:
        # At most once per KEYS_REFETCH, so tokens naming made-up keys cannot make this node
        # hammer the provider.
        last = self._keys_refetched_at
        return last is None or not (last <= now < last + KEYS_REFETCH)

    def _fetch_keys(self) -> KeySet:
        document = self._get_json(self._provider().jwks_uri, "key set")
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise _Refused("key set: not a JWK set")
        keys: list[Key] = []
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("kty") not in _ASYMMETRIC:
                continue
            if entry.get("use", "sig") != "sig":
                continue
            try:
                keys.append(JWKRegistry.import_key(entry))
            except (JoseError, ValueError, TypeError):
                # A key this client cannot read is one no token can be verified with; skip it.
                continue
        return KeySet(keys)

    # Tokens.

    def _oauth(self, redirect_uri: str) -> Any:
        """Authlib's client for one sign-in: it keeps the tokens it receives, so none is shared."""
        secret = self._settings.oidc_client_secret.get_secret_value()
        return OAuth2Client(
            client_id=self._settings.oidc_client_id,
            client_secret=secret or None,
            scope=self._settings.oidc_scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=TIMEOUT,
        )

    def _exchange(self, code: str, code_verifier: str, redirect_uri: str) -> str:
        provider = self._provider()
        with self._oauth(redirect_uri) as oauth:
            try:
                token = oauth.fetch_token(
                    provider.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    redirect_uri=redirect_uri,
                )
            except (AuthlibBaseError, httpx.HTTPError, ValueError) as exc:
                error = getattr(exc, "error", None)
                raise _Refused(f"code exchange: {type(exc).__name__} {error or ''}") from None
        id_token = token.get("id_token") if isinstance(token, dict) else None
        if not isinstance(id_token, str):
            raise _Refused("code exchange: no ID token")
        return id_token

    def _verify_id_token(self, token: str, *, nonce: str, now: datetime) -> dict[str, Any]:
        client_id = self._settings.oidc_client_id
        claims = self._verify_jwt(
            token,
            now=now,
            aud={"essential": True, "value": client_id},
            iat={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        authorised = claims.get("azp")
        # OpenID Connect Core 3.1.3.7: with several audiences, azp must name this client.
        if (len(audiences) > 1 or authorised is not None) and authorised != client_id:
            raise _Refused("ID token: azp is not this client")
        return claims

    def _verify_access_token(self, token: str, *, now: datetime) -> dict[str, Any]:
        return self._verify_jwt(token, now=now, aud={"essential": True, "value": self.api_audience})

    def _verify_jwt(self, token: str, *, now: datetime, **options: Any) -> dict[str, Any]:
        header, stated = _unverified(token)
        issuer = self._provider().issuer
        if stated.get("iss") != issuer:
            # Checked again below once the signature is; here it spares a key fetch for a
            # token from elsewhere (an expired built-in token, say).
            raise _Refused("token from another issuer")
        if header.get("alg") not in ALGORITHMS:
            raise _Refused("token algorithm not accepted")
        kid = header.get("kid")
        keys = self._key_set(kid if isinstance(kid, str) else None, now)
        try:
            decoded = jwt.decode(token, keys, algorithms=list(ALGORITHMS))
            registry = jwt.JWTClaimsRegistry(
                now=int(now.timestamp()),
                leeway=self._leeway,
                iss={"essential": True, "value": issuer},
                exp={"essential": True},
                **options,
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise _Refused(f"token: {type(exc).__name__}") from None
        return dict(decoded.claims)

    def _userinfo_claims(self, token: str, *, now: datetime) -> dict[str, Any]:
        key = hashlib.sha256(token.encode("ascii")).hexdigest()
        with self._userinfo_lock:
            kept = self._userinfo.get(key)
            if kept is not None and kept[0] <= now < kept[0] + USERINFO_TTL:
                return kept[1]
        endpoint = self._provider().userinfo_endpoint
        if endpoint is None:
            raise _Refused("opaque token and the provider has no userinfo endpoint")
        claims = self._get_json(endpoint, "userinfo", token=token)
        if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str):
            raise _Refused("userinfo: no subject")
        with self._userinfo_lock:
            self._keep_userinfo(key, now, claims)
        return claims

    def _keep_userinfo(self, key: str, now: datetime, claims: dict[str, Any]) -> None:
        kept = self._userinfo
        if len(kept) >= _USERINFO_ENTRIES:
            for stale in [k for k, (at, _) in kept.items() if not at <= now < at + USERINFO_TTL]:
                del kept[stale]
        while len(kept) >= _USERINFO_ENTRIES:
            del kept[next(iter(kept))]
        kept[key] = (now, claims)


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A token's header and claims as it states them, before any check: to route it only."""
    try:
        parts = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(parts.payload)
        header = dict(parts.headers())
    except (JoseError, ValueError, UnicodeError, TypeError, AttributeError, RecursionError):
        # Nesting too deep, or a header that is not an object: the same refusal as garbage.
        raise _Refused("not a signed token") from None
    if not isinstance(claims, dict):
        raise _Refused("token claims are not an object")
    return header, claims


def _is_jwt(token: str) -> bool:
    if token.count(".") != 2:
        return False
    try:
        _unverified(token)
    except _Refused:
        return False
    return True


def _names_key(keys: KeySet, key_id: str | None) -> bool:
    if key_id is None:
        return len(keys.keys) == 1
    return any(key.kid == key_id for key in keys)


def staff_principal(claims: Mapping[str, Any], settings: Settings) -> Principal:
    """Who the provider's claims say the caller is, under this node's mapping; a pure decision.

    The user and office must be ids (letters, digits and ``._@-``, as built-in tokens' are);
    the office falls back to ``oidc_default_office`` only when its claim is absent. Raises
    ``Unauthorised`` for a missing or malformed user or office, ``NoStaffRole`` when no claim
    value maps to a role.
    """
    user = _single(claim(claims, settings.oidc_user_claim))
    if user is None or not STAFF_NAME.match(user):
        log.warning("OpenID Connect user refused: the user claim is missing or not an id")
        raise Unauthorised(_SIGN_IN_FAILED)
    held = {
        settings.oidc_roles[value]
        for value in _strings(claim(claims, settings.oidc_role_claim))
        if value in settings.oidc_roles
    }
    role = next((role for role in ROLE_PRECEDENCE if role in held), None)
    if role is None:
        log.info("OpenID Connect user refused: no claim value maps to a staff role")
        raise NoStaffRole()
    stated = claim(claims, settings.oidc_office_claim)
    office = _single(stated) if stated is not None else settings.oidc_default_office
    if not office or not STAFF_NAME.match(office):
        log.warning("OpenID Connect user refused: no office, or an office that is not an id")
        raise Unauthorised(_SIGN_IN_FAILED)
    return Principal(user=user, role=role, office=office)


def claim(claims: Mapping[str, Any], name: str) -> Any:
    """The claim ``name``, or, if there is none by that exact name, the value at its dotted path
    (``realm_access.roles``); None if absent. Exact names first: claim names may be URLs."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _single(value: Any) -> str | None:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, str) else None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []
