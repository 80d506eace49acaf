"""A real OpenID Connect provider on loopback, and the browser's part of signing in there.

``running_provider`` starts ``oidc_provider_mock`` (a Flask app, in a thread, on a free port) with
the given users; its discovery document is at ``<base_url>/.well-known/openid-configuration`` and
its issuer is ``base_url``. It issues RS256 ID tokens and opaque access tokens, accepts any client
id and secret, and refuses an authorization request without a nonce. ``authorise`` plays the
person at the provider's form: it posts their ``sub`` and returns where the provider sends the
browser back (``?code=...&state=...``). All users and claims are synthetic.

Example::

    with running_provider({"cw-1": {"groups": ["avrr-caseworkers"], "office": "tunis"}}) as url:
        settings = oidc_settings(tmp_path, url)
        started = OidcClient(settings).start(REDIRECT_URI)
        back = authorise(started.url, "cw-1")
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.deprecate import AuthlibDeprecationWarning

from gateway.kit.config import Settings

with warnings.catch_warnings():
    # The mock provider uses Authlib's deprecated ``jose`` module and its httpx client.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    import oidc_provider_mock

#: Mark tests that use the provider with this: its Authlib server code warns of its own
#: deprecated calls, in the provider's thread, on every token it issues.
QUIET_PROVIDER = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

#: Where the tests say the provider should send the browser back; nothing listens there.
REDIRECT_URI = "http://localhost/staff/sign-in/callback"
CLIENT_ID = "avrr-test-node"
CLIENT_SECRET = "synthetic-client-secret"
#: The mapping from group to role the tests configure.
ROLES = {
    "avrr-caseworkers": "caseworker",
    "avrr-partner-officers": "partner_officer",
    "avrr-dpo": "dpo",
    "avrr-admins": "admin",
}

Users = Mapping[str, Mapping[str, Any]] | Sequence[oidc_provider_mock.User]


@contextmanager
def running_provider(users: Users) -> Iterator[str]:
    """A provider knowing ``users`` (sub -> claims, or ``oidc_provider_mock.User``s), running
    until the block ends; yields its base URL, which is also its issuer."""
    if isinstance(users, Mapping):
        known = [oidc_provider_mock.User(sub=sub, claims=dict(c)) for sub, c in users.items()]
    else:
        known = list(users)
    # Werkzeug logs each request line, and the authorization request carries state and nonce.
    requests_log = logging.getLogger("werkzeug")
    level = requests_log.level
    requests_log.setLevel(logging.ERROR)
    try:
        with oidc_provider_mock.run_server_in_thread(
            port=0, require_nonce=True, user_claims=known
        ) as server:
            yield f"http://localhost:{server.server_port}"
    finally:
        requests_log.setLevel(level)


def authorise(authorization_url: str, sub: str) -> httpx.URL:
    """Sign in at the provider as ``sub``; the redirect URI with ``code`` and ``state``."""
    response = httpx.post(authorization_url, data={"sub": sub}, timeout=5.0)
    if response.status_code != 302:
        raise AssertionError(f"the provider answered {response.status_code}, not a redirect")
    return httpx.URL(response.headers["location"])


def oidc_settings(home: Path, discovery_url: str, **overrides: Any) -> Settings:
    """A node's settings with the provider configured as the tests use it."""
    values: dict[str, Any] = {
        "home": home,
        "node_id": "host-mission",
        "oidc_name": "Test provider",
        "oidc_discovery_url": discovery_url,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_roles": ROLES,
    }
    values.update(overrides)
    return Settings(**values)


def access_token_for(base_url: str, sub: str) -> str:
    """An access token the provider issued to ``sub``, got the way any client gets one (no code
    under test involved): authorise, then exchange the code."""
    query = httpx.QueryParams(
        response_type="code",
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT_URI,
        scope="openid profile email",
        state="synthetic-state",
        nonce="synthetic-nonce",
    )
    back = authorise(f"{base_url}/oauth2/authorize?{query}", sub)
    response = httpx.post(
        f"{base_url}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": back.params["code"],
            "redirect_uri": REDIRECT_URI,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5.0,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])
