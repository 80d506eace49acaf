"""Ed25519 JSON Web Tokens (``crypto.jwt``): signing, and every check of verification.

``verify_jwt`` raises ``InvalidSignature`` for all failures; its message says which check failed
and, for the checks joserfc makes, the cause names the claim.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import OctKey, OKPKey

from crypto import _primitives
from crypto.errors import InvalidSignature
from crypto.jwt import ALGORITHM, sign_jwt, unverified_claims, verify_jwt
from crypto.keys import EncryptionKey, SigningKey

VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2027, 1, 1, tzinfo=UTC)
KEY = SigningKey(bytes([7]) * 32, VALID_FROM, VALID_UNTIL)
OTHER = SigningKey(bytes([8]) * 32, VALID_FROM, VALID_UNTIL)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())
LEEWAY = 30
AUDIENCE = "partner.example"


def claims(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "iss": "host.example",
        "aud": AUDIENCE,
        "iat": T,
        "exp": T + 60,
        "jti": "0123456789abcdef0123456789abcdef",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def without(name: str) -> dict[str, Any]:
    return {k: v for k, v in claims().items() if k != name}


def check(token: str, **options: Any) -> dict[str, Any]:
    options.setdefault("audience", AUDIENCE)
    options.setdefault("now", NOW)
    return verify_jwt(token, KEY.public_key(), **options)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class TestSignJwt:
    def test_header_names_the_ed25519_algorithm_and_the_key_id(self) -> None:
        header = json.loads(base64.urlsafe_b64decode(sign_jwt(claims(), KEY).split(".")[0] + "=="))
        assert header["alg"] == ALGORITHM == "Ed25519"
        assert header["kid"] == KEY.key_id

    def test_signature_is_ed25519_over_the_signing_input(self) -> None:
        token = sign_jwt(claims(), KEY)
        signing_input, _, signature = token.rpartition(".")
        _primitives.ed25519_verify(
            KEY.public_key().public,
            base64.urlsafe_b64decode(signature + "=="),
            signing_input.encode("ascii"),
        )


class TestUnverifiedClaims:
    def test_key_id_and_claims_are_read_without_checking(self) -> None:
        key_id, stated = unverified_claims(sign_jwt(claims(), OTHER))
        assert key_id == OTHER.key_id
        assert stated == claims()

    def test_text_that_is_not_a_token_is_refused(self) -> None:
        with pytest.raises(InvalidSignature, match="not a token"):
            unverified_claims("not-a-token")

    def test_token_without_a_key_id_is_refused(self) -> None:
        jwk = OKPKey.import_key(_primitives.ed25519_private_key_object(KEY.seed))
        token = jwt.encode({"alg": ALGORITHM}, claims(), jwk, algorithms=[ALGORITHM])
        with pytest.raises(InvalidSignature, match="names no key"):
            unverified_claims(token)


class TestVerifyJwt:
    def test_valid_token_yields_its_claims(self) -> None:
        assert check(sign_jwt(claims(), KEY)) == claims()

    def test_expired_token_is_refused(self) -> None:
        token = sign_jwt(claims(exp=T - LEEWAY), KEY)
        with pytest.raises(InvalidSignature, match="does not verify") as caught:
            check(token)
        assert isinstance(caught.value.__cause__, ExpiredTokenError)

    def test_token_expired_within_the_leeway_is_accepted(self) -> None:
        check(sign_jwt(claims(exp=T - LEEWAY + 1), KEY))

    def test_audience_list_naming_us_among_others_is_refused(self) -> None:
        # One token, one audience: otherwise it could be presented to every node it names.
        with pytest.raises(InvalidSignature, match="exactly this audience"):
            check(sign_jwt(claims(aud=[AUDIENCE, "third.example"]), KEY))

    def test_audience_list_naming_only_us_is_refused(self) -> None:
        with pytest.raises(InvalidSignature, match="exactly this audience"):
            check(sign_jwt(claims(aud=[AUDIENCE]), KEY))

    def test_audience_list_not_naming_us_is_refused(self) -> None:
        with pytest.raises(InvalidSignature, match="does not verify"):
            check(sign_jwt(claims(aud=["third.example"]), KEY))

    @pytest.mark.parametrize(
        "audience", [AUDIENCE.upper(), AUDIENCE + " ", AUDIENCE + "."], ids=["case", "space", "dot"]
    )
    def test_audience_must_match_exactly(self, audience: str) -> None:
        with pytest.raises(InvalidSignature):
            check(sign_jwt(claims(aud=audience), KEY))

    def test_wrong_audience_is_refused(self) -> None:
        with pytest.raises(InvalidSignature, match="does not verify") as caught:
            check(sign_jwt(claims(aud="third.example"), KEY))
        assert isinstance(caught.value.__cause__, InvalidClaimError)
        assert "aud" in str(caught.value.__cause__)

    def test_token_signed_by_another_key_is_refused(self) -> None:
        with pytest.raises(InvalidSignature, match="does not verify") as caught:
            check(sign_jwt(claims(), OTHER))
        assert isinstance(caught.value.__cause__, BadSignatureError)

    def test_token_naming_another_key_id_is_refused(self) -> None:
        jwk = OKPKey.import_key(_primitives.ed25519_private_key_object(KEY.seed))
        token = jwt.encode(
            {"alg": ALGORITHM, "kid": OTHER.key_id}, claims(), jwk, algorithms=[ALGORITHM]
        )
        with pytest.raises(InvalidSignature, match="signed by another key"):
            check(token)

    @pytest.mark.parametrize("name", ["jti", "exp", "iat", "aud"])
    def test_token_missing_an_essential_claim_is_refused(self, name: str) -> None:
        with pytest.raises(InvalidSignature, match="does not verify") as caught:
            check(sign_jwt(without(name), KEY))
        assert isinstance(caught.value.__cause__, MissingClaimError)
        assert name in str(caught.value.__cause__)

    def test_lifetime_over_the_maximum_is_refused(self) -> None:
        token = sign_jwt(claims(exp=T + 121), KEY)
        with pytest.raises(InvalidSignature, match="lives longer than allowed"):
            check(token, max_lifetime=timedelta(minutes=2))

    def test_lifetime_at_the_maximum_is_accepted(self) -> None:
        check(sign_jwt(claims(exp=T + 120), KEY), max_lifetime=timedelta(minutes=2))

    def test_token_issued_in_the_future_beyond_the_leeway_is_refused(self) -> None:
        token = sign_jwt(claims(iat=T + LEEWAY + 1, exp=T + 90), KEY)
        with pytest.raises(InvalidSignature, match="does not verify") as caught:
            check(token)
        assert isinstance(caught.value.__cause__, InvalidClaimError)
        assert "issued in the future" in str(caught.value.__cause__)

    def test_token_issued_within_the_leeway_is_accepted(self) -> None:
        check(sign_jwt(claims(iat=T + LEEWAY, exp=T + 90), KEY))

    def test_token_not_yet_valid_is_refused(self) -> None:
        with pytest.raises(InvalidSignature, match="does not verify") as caught:
            check(sign_jwt(claims(nbf=T + 100), KEY))
        assert isinstance(caught.value.__cause__, InvalidClaimError)

    def test_non_integer_times_are_refused(self) -> None:
        with pytest.raises(InvalidSignature, match="times are not integers"):
            check(sign_jwt(claims(iat=float(T)), KEY))

    def test_key_not_valid_now_is_refused(self) -> None:
        with pytest.raises(InvalidSignature, match="not a signing key valid now"):
            check(sign_jwt(claims(), KEY), now=VALID_UNTIL)

    def test_encryption_key_is_refused(self) -> None:
        key = EncryptionKey(bytes([7]) * 32, VALID_FROM, VALID_UNTIL).public_key()
        with pytest.raises(InvalidSignature, match="not a signing key valid now"):
            verify_jwt(sign_jwt(claims(), KEY), key, audience=AUDIENCE, now=NOW)

    def test_hmac_token_is_refused(self) -> None:
        secret = OctKey.import_key(bytes(32))
        token = jwt.encode({"alg": "HS256", "kid": KEY.key_id}, claims(), secret)
        with pytest.raises(InvalidSignature, match="does not verify") as caught:
            check(token)
        assert isinstance(caught.value.__cause__, UnsupportedAlgorithmError)

    def test_unsigned_token_is_refused(self) -> None:
        header = _b64(json.dumps({"alg": "none", "kid": KEY.key_id}).encode())
        token = f"{header}.{_b64(json.dumps(claims()).encode())}."
        with pytest.raises(InvalidSignature, match="does not verify"):
            check(token)

    def test_changed_claims_under_the_original_signature_are_refused(self) -> None:
        header, _, signature = sign_jwt(claims(), KEY).split(".")
        forged = f"{header}.{_b64(json.dumps(claims(aud='x')).encode())}.{signature}"
        with pytest.raises(InvalidSignature, match="does not verify") as caught:
            check(forged, audience="x")
        assert isinstance(caught.value.__cause__, BadSignatureError)
