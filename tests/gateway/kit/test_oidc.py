"""OpenID Connect for staff (``kit.oidc``): a real provider end to end, crafted tokens for what
it cannot produce, the claims mapping and the settings. All users, groups and keys are synthetic."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from pydantic import ValidationError

from gateway.kit.auth import Principal
from gateway.kit.config import WELL_KNOWN, Settings
from gateway.kit.errors import ServiceUnavailable, Unauthorised
from gateway.kit.oidc import NoStaffRole, OidcClient, StartedSignIn, staff_principal
from schemas.common import PartnerRole, StaffRole
from tests.support.clock import START
from tests.support.federation import TestFederation
from tests.support.oidc import (
    CLIENT_ID,
    QUIET_PROVIDER,
    REDIRECT_URI,
    access_token_for,
    authorise,
    oidc_settings,
    running_provider,
)

pytestmark = QUIET_PROVIDER

USERS = {
    "cw-1": {"groups": ["avrr-caseworkers"], "office": "tunis"},
    "dpo-1": {"groups": ["avrr-caseworkers", "avrr-dpo"], "office": "tunis"},
    "visitor-1": {"groups": ["library-readers"], "office": "tunis"},
}


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with running_provider(USERS) as base_url:
        yield base_url


@pytest.fixture
def oidc(provider: str, tmp_path: Path) -> Iterator[OidcClient]:
    client = OidcClient(oidc_settings(tmp_path, provider))
    yield client
    client.close()


def signed_in_at_provider(oidc: OidcClient, sub: str) -> tuple[StartedSignIn, str, str]:
    started = oidc.start(REDIRECT_URI)
    back = authorise(started.url, sub)
    return started, back.params["code"], back.params["state"]


def finish(oidc: OidcClient, started: StartedSignIn, code: str, state: str) -> Principal:
    return oidc.finish(
        code=code,
        returned_state=state,
        started=started,
        redirect_uri=REDIRECT_URI,
        now=datetime.now(UTC),
    )


class TestSignInAtARealProvider:
    def test_caseworker_group_signs_in_as_caseworker(self, oidc: OidcClient) -> None:
        started, code, state = signed_in_at_provider(oidc, "cw-1")
        principal = finish(oidc, started, code, state)
        assert principal == Principal(user="cw-1", role=StaffRole.CASEWORKER, office="tunis")

    def test_authorization_url_carries_pkce_state_and_nonce(
        self, oidc: OidcClient, provider: str
    ) -> None:
        started = oidc.start(REDIRECT_URI)
        url = httpx.URL(started.url)
        assert str(url.copy_with(query=None)) == f"{provider}/oauth2/authorize"
        challenge = hashlib.sha256(started.code_verifier.encode()).digest()
        assert dict(url.params) == {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid profile email",
            "state": started.state,
            "nonce": started.nonce,
            "code_challenge": base64.urlsafe_b64encode(challenge).rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
        assert len(started.code_verifier) >= 43
        assert oidc.start(REDIRECT_URI).state != started.state

    def test_several_roles_sign_in_as_the_first_in_precedence(self, oidc: OidcClient) -> None:
        assert finish(oidc, *signed_in_at_provider(oidc, "dpo-1")).role is StaffRole.DPO

    def test_user_without_a_mapped_group_has_no_staff_role(self, oidc: OidcClient) -> None:
        with pytest.raises(NoStaffRole) as refused:
            finish(oidc, *signed_in_at_provider(oidc, "visitor-1"))
        assert refused.value.status == 403

    def test_returned_state_that_differs_is_refused(self, oidc: OidcClient) -> None:
        started, code, _ = signed_in_at_provider(oidc, "cw-1")
        with pytest.raises(Unauthorised):
            finish(oidc, started, code, "another-state")

    def test_code_used_twice_is_refused(self, oidc: OidcClient) -> None:
        started, code, state = signed_in_at_provider(oidc, "cw-1")
        finish(oidc, started, code, state)
        with pytest.raises(Unauthorised):
            finish(oidc, started, code, state)

    def test_id_token_for_another_sign_in_is_refused(self, oidc: OidcClient) -> None:
        started, code, state = signed_in_at_provider(oidc, "cw-1")
        other = StartedSignIn(
            url=started.url, state=state, nonce="another-nonce", code_verifier=started.code_verifier
        )
        with pytest.raises(Unauthorised):
            finish(oidc, other, code, state)

    def test_issuer_comes_from_discovery_and_name_from_settings(
        self, oidc: OidcClient, provider: str
    ) -> None:
        assert oidc.issuer == provider
        assert oidc.name == "Test provider"

    def test_end_session_url_is_the_providers(self, oidc: OidcClient, provider: str) -> None:
        ending = oidc.end_session_url("https://avrr.example.org/staff/sign-in")
        assert ending is not None
        url = httpx.URL(ending)
        assert str(url.copy_with(query=None)) == f"{provider}/oauth2/end_session"
        assert url.params["post_logout_redirect_uri"] == "https://avrr.example.org/staff/sign-in"
        assert url.params["client_id"] == CLIENT_ID


class TestBearerAtARealProvider:
    def test_providers_opaque_access_token_is_accepted_through_userinfo(
        self, oidc: OidcClient, provider: str
    ) -> None:
        token = access_token_for(provider, "cw-1")
        assert token.count(".") != 2  # the mock's access tokens are opaque, not JWTs
        principal = oidc.verify_bearer(token, now=datetime.now(UTC))
        assert principal == Principal(user="cw-1", role=StaffRole.CASEWORKER, office="tunis")

    def test_random_string_is_refused(self, oidc: OidcClient) -> None:
        with pytest.raises(Unauthorised):
            oidc.verify_bearer("not-a-token-the-provider-issued", now=datetime.now(UTC))

    def test_access_token_of_a_user_without_a_role_is_forbidden(
        self, oidc: OidcClient, provider: str
    ) -> None:
        with pytest.raises(NoStaffRole):
            oidc.verify_bearer(access_token_for(provider, "visitor-1"), now=datetime.now(UTC))

    def test_api_accepts_the_providers_token_beside_built_in_ones(
        self, federation: TestFederation, provider: str
    ) -> None:
        # The bearer path of the API (surfaces/api/deps.py), through the real app.
        host = federation.add_node("host-mission", [PartnerRole.HOST_MISSION], "DE")
        host.settings = oidc_settings(
            host.home.path,
            provider,
            node_id=host.node_id,
            database_url=host.settings.database_url,
        )
        path = f"/api/v1/cases/{'0' * 32}"
        from_provider = {"Authorization": f"Bearer {access_token_for(provider, 'cw-1')}"}
        assert host.client.get(path, headers=from_provider).status_code == 404
        assert host.client.get(path, headers=host.auth()).status_code == 404
        refused = host.client.get(path, headers={"Authorization": "Bearer made-up"})
        assert refused.status_code == 401
        assert refused.json()["error"] == "unauthorised"
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        visitor = {"Authorization": f"Bearer {access_token_for(provider, 'visitor-1')}"}
        assert host.client.get(path, headers=visitor).status_code == 403


ISSUER = "https://id.example.org/realms/mission"
NOW = START
NONCE = "nonce-of-this-sign-in"
STARTED = StartedSignIn(url="", state="state-1", nonce=NONCE, code_verifier="v" * 48)


@pytest.fixture(scope="module")
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


@pytest.fixture(scope="module")
def other_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k2"})


class CraftedProvider:
    """A provider served by respx whose ID tokens the test signs itself."""

    def __init__(self, router: respx.MockRouter, key: RSAKey, settings: Settings) -> None:
        self.key = key
        self.discovery = router.get(f"{ISSUER}{WELL_KNOWN}").respond(json=self.document())
        self.keys = router.get(f"{ISSUER}/keys").respond(json=self.key_set(key))
        self.token = router.post(f"{ISSUER}/token")
        self.userinfo = router.get(f"{ISSUER}/userinfo")
        self.client = OidcClient(settings)

    @staticmethod
    def document(**changes: Any) -> dict[str, Any]:
        document = {
            "issuer": ISSUER,
            "authorization_endpoint": f"{ISSUER}/auth",
            "token_endpoint": f"{ISSUER}/token",
            "jwks_uri": f"{ISSUER}/keys",
            "userinfo_endpoint": f"{ISSUER}/userinfo",
        }
        document.update(changes)
        return document

    @staticmethod
    def key_set(*keys: RSAKey) -> dict[str, Any]:
        return dict(KeySet(list(keys)).as_dict(private=False))

    @staticmethod
    def claims(**changes: Any) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": "cw-1",
            "iat": int(NOW.timestamp()),
            "exp": int((NOW + timedelta(minutes=5)).timestamp()),
            "nonce": NONCE,
            "groups": ["avrr-caseworkers"],
            "office": "tunis",
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        signer = key or self.key
        return jwt.encode({"alg": "RS256", "kid": signer.kid}, claims, signer)

    def finish(self, id_token: str, now: datetime = NOW) -> Principal:
        self.token.respond(
            json={"access_token": "opaque", "token_type": "Bearer", "id_token": id_token}
        )
        return self.client.finish(
            code="code-1",
            returned_state="state-1",
            started=STARTED,
            redirect_uri=REDIRECT_URI,
            now=now,
        )


def segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def crafted(signing_key: RSAKey, tmp_path: Path) -> Iterator[CraftedProvider]:
    settings = oidc_settings(tmp_path, ISSUER, oidc_api_audience="avrr-api")
    with respx.mock(assert_all_called=False) as router:
        provider = CraftedProvider(router, signing_key, settings)
        yield provider
        provider.client.close()


class TestIdTokenVerification:
    def test_good_id_token_is_accepted(self, crafted: CraftedProvider) -> None:
        principal = crafted.finish(crafted.sign(crafted.claims()))
        assert principal == Principal(user="cw-1", role=StaffRole.CASEWORKER, office="tunis")
        exchange = crafted.token.calls.last.request
        sent = dict(httpx.QueryParams(exchange.content.decode()))
        assert sent["code_verifier"] == STARTED.code_verifier
        assert sent["grant_type"] == "authorization_code"
        assert sent["redirect_uri"] == REDIRECT_URI

    @pytest.mark.parametrize(
        "changes",
        [
            pytest.param({"nonce": "another-nonce"}, id="wrong nonce"),
            pytest.param({"nonce": None}, id="no nonce"),
            pytest.param({"aud": "another-client"}, id="wrong audience"),
            pytest.param({"aud": [CLIENT_ID, "another-client"]}, id="several audiences, no azp"),
            pytest.param({"iss": "https://id.example.org/realms/other"}, id="unknown issuer"),
            pytest.param(
                {
                    "iat": int((NOW - timedelta(hours=1)).timestamp()),
                    "exp": int((NOW - timedelta(minutes=5, seconds=1)).timestamp()),
                },
                id="expired beyond the skew",
            ),
            pytest.param(
                {"iat": int((NOW + timedelta(minutes=5, seconds=1)).timestamp())},
                id="issued in the future beyond the skew",
            ),
            pytest.param({"exp": None}, id="no expiry"),
            pytest.param({"sub": None}, id="no subject"),
        ],
    )
    def test_token_with_wrong_claims_is_refused(
        self, crafted: CraftedProvider, changes: dict[str, Any]
    ) -> None:
        with pytest.raises(Unauthorised):
            crafted.finish(crafted.sign(crafted.claims(**changes)))

    def test_times_within_the_skew_are_accepted(self, crafted: CraftedProvider) -> None:
        late = crafted.claims(
            iat=int((NOW - timedelta(hours=1)).timestamp()),
            exp=int((NOW - timedelta(minutes=4)).timestamp()),
        )
        assert crafted.finish(crafted.sign(late)).user == "cw-1"

    def test_tampered_payload_is_refused(self, crafted: CraftedProvider) -> None:
        header, _, signature = crafted.sign(crafted.claims()).split(".")
        forged = segment(crafted.claims(sub="dpo-1", groups=["avrr-dpo"]))
        with pytest.raises(Unauthorised):
            crafted.finish(f"{header}.{forged}.{signature}")

    def test_unsigned_token_is_refused(self, crafted: CraftedProvider) -> None:
        unsigned = f"{segment({'alg': 'none', 'kid': 'k1'})}.{segment(crafted.claims())}."
        with pytest.raises(Unauthorised):
            crafted.finish(unsigned)
        assert not crafted.keys.called

    def test_hmac_token_is_refused(self, crafted: CraftedProvider) -> None:
        secret = OctKey.generate_key(256, parameters={"kid": "k1"})
        token = jwt.encode({"alg": "HS256", "kid": "k1"}, crafted.claims(), secret)
        with pytest.raises(Unauthorised):
            crafted.finish(token)

    def test_unknown_key_is_refused_after_one_refetch(
        self, crafted: CraftedProvider, other_key: RSAKey
    ) -> None:
        token = crafted.sign(crafted.claims(), key=other_key)
        with pytest.raises(Unauthorised):
            crafted.finish(token)
        assert crafted.keys.call_count == 2
        with pytest.raises(Unauthorised):
            crafted.finish(token, now=NOW + timedelta(seconds=10))
        assert crafted.keys.call_count == 2  # not again within 30 seconds

    def test_rotated_key_is_fetched_when_a_token_names_it(
        self, crafted: CraftedProvider, other_key: RSAKey
    ) -> None:
        crafted.finish(crafted.sign(crafted.claims()))
        crafted.keys.respond(json=crafted.key_set(crafted.key, other_key))
        assert crafted.finish(crafted.sign(crafted.claims(), key=other_key)).user == "cw-1"
        assert crafted.keys.call_count == 2

    def test_several_audiences_with_this_client_as_azp_are_accepted(
        self, crafted: CraftedProvider
    ) -> None:
        claims = crafted.claims(aud=[CLIENT_ID, "avrr-api"], azp=CLIENT_ID)
        assert crafted.finish(crafted.sign(claims)).user == "cw-1"

    def test_provider_error_at_the_token_endpoint_is_refused(
        self, crafted: CraftedProvider
    ) -> None:
        crafted.token.respond(400, json={"error": "invalid_grant"})
        with pytest.raises(Unauthorised):
            crafted.client.finish(
                code="code-1",
                returned_state="state-1",
                started=STARTED,
                redirect_uri=REDIRECT_URI,
                now=NOW,
            )


class TestDiscovery:
    def test_nothing_is_fetched_before_first_use(self, tmp_path: Path) -> None:
        def unreachable(request: httpx.Request) -> httpx.Response:
            raise AssertionError("fetched at construction")

        with httpx.Client(transport=httpx.MockTransport(unreachable)) as http:
            client = OidcClient(oidc_settings(tmp_path, ISSUER), http=http)
            assert client.name == "Test provider"
            unnamed = OidcClient(oidc_settings(tmp_path, ISSUER, oidc_name=""), http=http)
            assert unnamed.name == "id.example.org"

    def test_discovery_document_is_fetched_once(self, crafted: CraftedProvider) -> None:
        crafted.client.start(REDIRECT_URI)
        crafted.client.start(REDIRECT_URI)
        assert crafted.client.issuer == ISSUER
        assert crafted.discovery.call_count == 1

    def test_document_naming_another_issuer_is_not_used(self, crafted: CraftedProvider) -> None:
        crafted.discovery.respond(json=crafted.document(issuer="https://elsewhere.example.org"))
        with pytest.raises(ServiceUnavailable):
            crafted.client.start(REDIRECT_URI)
        with pytest.raises(Unauthorised):
            crafted.finish(crafted.sign(crafted.claims()))

    def test_document_with_a_plain_http_endpoint_is_not_used(
        self, crafted: CraftedProvider
    ) -> None:
        crafted.discovery.respond(json=crafted.document(token_endpoint="http://id.example.org/t"))
        with pytest.raises(ServiceUnavailable):
            crafted.client.start(REDIRECT_URI)

    def test_unreachable_provider_leaves_sign_out_to_this_node(
        self, crafted: CraftedProvider
    ) -> None:
        crafted.discovery.mock(side_effect=httpx.ConnectError("down"))
        assert crafted.client.end_session_url("https://avrr.example.org/") is None
        with pytest.raises(ServiceUnavailable):
            crafted.client.start(REDIRECT_URI)

    def test_provider_without_end_session_has_no_sign_out_url(
        self, crafted: CraftedProvider
    ) -> None:
        assert crafted.client.end_session_url("https://avrr.example.org/") is None


class TestBearerTokens:
    def test_jwt_access_token_for_the_api_is_accepted(self, crafted: CraftedProvider) -> None:
        token = crafted.sign(crafted.claims(aud="avrr-api", nonce=None))
        principal = crafted.client.verify_bearer(token, now=NOW)
        assert principal == Principal(user="cw-1", role=StaffRole.CASEWORKER, office="tunis")
        assert not crafted.userinfo.called

    @pytest.mark.parametrize(
        "changes",
        [
            pytest.param({"aud": CLIENT_ID}, id="the client's audience, not the API's"),
            pytest.param({"exp": int((NOW - timedelta(minutes=6)).timestamp())}, id="expired"),
            pytest.param({"iss": "avrr:host-mission"}, id="another issuer"),
        ],
    )
    def test_jwt_access_token_with_wrong_claims_is_refused(
        self, crafted: CraftedProvider, changes: dict[str, Any]
    ) -> None:
        token = crafted.sign(crafted.claims(**{"aud": "avrr-api", **changes}))
        with pytest.raises(Unauthorised):
            crafted.client.verify_bearer(token, now=NOW)

    def test_token_from_another_issuer_costs_no_key_fetch(self, crafted: CraftedProvider) -> None:
        token = crafted.sign(crafted.claims(aud="avrr-api", iss="avrr:host-mission"))
        with pytest.raises(Unauthorised):
            crafted.client.verify_bearer(token, now=NOW)
        assert not crafted.keys.called

    def test_opaque_token_is_checked_at_userinfo_and_kept_a_minute(
        self, crafted: CraftedProvider
    ) -> None:
        crafted.userinfo.respond(json={"sub": "cw-1", "groups": "avrr-dpo", "office": "tunis"})
        for seconds in (0, 59):
            principal = crafted.client.verify_bearer(
                "opaque-1", now=NOW + timedelta(seconds=seconds)
            )
            assert principal.role is StaffRole.DPO
        assert crafted.userinfo.call_count == 1
        assert crafted.userinfo.calls.last.request.headers["Authorization"] == "Bearer opaque-1"
        crafted.client.verify_bearer("opaque-1", now=NOW + timedelta(seconds=61))
        assert crafted.userinfo.call_count == 2

    def test_opaque_token_the_provider_refuses_is_refused(self, crafted: CraftedProvider) -> None:
        crafted.userinfo.respond(401)
        with pytest.raises(Unauthorised):
            crafted.client.verify_bearer("opaque-2", now=NOW)


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(home=tmp_path, node_id="host-mission", **values)


class TestSettings:
    def test_oidc_is_off_by_default(self, tmp_path: Path) -> None:
        assert settings(tmp_path).oidc_discovery_url == ""

    def test_plain_http_discovery_to_another_host_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError, match="https"):
            settings(tmp_path, oidc_discovery_url="http://id.example.org", oidc_client_id=CLIENT_ID)

    @pytest.mark.parametrize(
        ("given", "used"),
        [
            ("http://localhost:8080", f"http://localhost:8080{WELL_KNOWN}"),
            ("http://127.0.0.1:8080/", f"http://127.0.0.1:8080{WELL_KNOWN}"),
            (f"{ISSUER}/", f"{ISSUER}{WELL_KNOWN}"),
            (f"{ISSUER}{WELL_KNOWN}", f"{ISSUER}{WELL_KNOWN}"),
        ],
    )
    def test_discovery_url_is_the_issuers_well_known_document(
        self, tmp_path: Path, given: str, used: str
    ) -> None:
        chosen = settings(tmp_path, oidc_discovery_url=given, oidc_client_id=CLIENT_ID)
        assert chosen.oidc_discovery_url == used

    def test_discovery_without_a_client_id_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError, match="oidc_client_id"):
            settings(tmp_path, oidc_discovery_url=ISSUER)

    def test_secret_stays_out_of_validation_errors(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError) as refused:
            settings(tmp_path, oidc_discovery_url=ISSUER, oidc_client_secret="synthetic-secret")
        assert "synthetic-secret" not in str(refused.value)

    def test_secret_is_read_from_a_file(self, tmp_path: Path) -> None:
        secret_file = tmp_path / "client-secret"
        secret_file.write_text("synthetic-secret-from-file\n", encoding="utf-8")
        chosen = oidc_settings(
            tmp_path, ISSUER, oidc_client_secret="", oidc_client_secret_file=str(secret_file)
        )
        assert chosen.oidc_client_secret.get_secret_value() == "synthetic-secret-from-file"
        assert "synthetic-secret" not in repr(chosen)

    def test_secret_from_the_environment_wins_over_the_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        secret_file = tmp_path / "client-secret"
        secret_file.write_text("from-file", encoding="utf-8")
        monkeypatch.setenv("AVRR_OIDC_CLIENT_SECRET", "from-environment")
        chosen = settings(
            tmp_path,
            oidc_discovery_url=ISSUER,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret_file=str(secret_file),
        )
        assert chosen.oidc_client_secret.get_secret_value() == "from-environment"

    def test_missing_secret_file_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError, match="oidc_client_secret_file"):
            oidc_settings(
                tmp_path,
                ISSUER,
                oidc_client_secret="",
                oidc_client_secret_file=str(tmp_path / "absent"),
            )

    def test_roles_come_from_the_environment_as_json(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AVRR_OIDC_ROLES", '{"avrr-dpo": "dpo"}')
        assert settings(tmp_path).oidc_roles == {"avrr-dpo": StaffRole.DPO}

    def test_unknown_role_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError):
            settings(tmp_path, oidc_roles={"avrr-root": "root"})

    def test_default_office_must_be_an_id(self, tmp_path: Path) -> None:
        with pytest.raises(ValidationError, match="oidc_default_office"):
            settings(tmp_path, oidc_default_office="Tunis office")


class TestStaffPrincipal:
    def test_dotted_path_reaches_into_an_object(self, tmp_path: Path) -> None:
        keycloak = oidc_settings(
            tmp_path,
            ISSUER,
            oidc_role_claim="realm_access.roles",
            oidc_roles={"avrr-cw": "caseworker"},
        )
        claims = {"sub": "cw-1", "office": "tunis", "realm_access": {"roles": ["avrr-cw"]}}
        assert staff_principal(claims, keycloak).role is StaffRole.CASEWORKER

    def test_claim_named_with_dots_is_taken_whole(self, tmp_path: Path) -> None:
        namespaced = oidc_settings(
            tmp_path, ISSUER, oidc_role_claim="https://avrr.example.org/roles"
        )
        claims = {"sub": "cw-1", "office": "tunis", "https://avrr.example.org/roles": "avrr-dpo"}
        assert staff_principal(claims, namespaced).role is StaffRole.DPO

    @pytest.mark.parametrize(
        ("groups", "role"),
        [
            (["avrr-admins", "avrr-caseworkers"], StaffRole.CASEWORKER),
            (["avrr-partner-officers", "avrr-admins"], StaffRole.PARTNER_OFFICER),
            (["avrr-admins", "avrr-dpo", "avrr-caseworkers"], StaffRole.DPO),
            (["avrr-admins"], StaffRole.ADMIN),
        ],
    )
    def test_first_role_in_precedence_wins(
        self, tmp_path: Path, groups: list[str], role: StaffRole
    ) -> None:
        claims = {"sub": "u-1", "office": "tunis", "groups": groups}
        assert staff_principal(claims, oidc_settings(tmp_path, ISSUER)).role is role

    def test_no_mapped_value_is_no_staff_role(self, tmp_path: Path) -> None:
        claims = {"sub": "u-1", "office": "tunis", "groups": ["Avrr-Caseworkers", 7]}
        with pytest.raises(NoStaffRole):
            staff_principal(claims, oidc_settings(tmp_path, ISSUER))

    def test_absent_office_is_the_default_office(self, tmp_path: Path) -> None:
        claims = {"sub": "u-1", "groups": ["avrr-caseworkers"]}
        chosen = oidc_settings(tmp_path, ISSUER, oidc_default_office="head-office")
        assert staff_principal(claims, chosen).office == "head-office"

    def test_absent_office_without_a_default_is_refused(self, tmp_path: Path) -> None:
        claims = {"sub": "u-1", "groups": ["avrr-caseworkers"]}
        with pytest.raises(Unauthorised):
            staff_principal(claims, oidc_settings(tmp_path, ISSUER))

    def test_office_that_is_not_an_id_is_refused_not_defaulted(self, tmp_path: Path) -> None:
        claims = {"sub": "u-1", "groups": ["avrr-caseworkers"], "office": "Tunis / south"}
        chosen = oidc_settings(tmp_path, ISSUER, oidc_default_office="head-office")
        with pytest.raises(Unauthorised):
            staff_principal(claims, chosen)

    def test_user_that_is_not_an_id_is_refused(self, tmp_path: Path) -> None:
        claims = {"preferred_username": "Amal B.", "groups": ["avrr-caseworkers"], "office": "t"}
        chosen = oidc_settings(tmp_path, ISSUER, oidc_user_claim="preferred_username")
        with pytest.raises(Unauthorised):
            staff_principal(claims, chosen)
