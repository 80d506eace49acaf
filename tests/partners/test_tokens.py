"""Node-to-node bearer tokens: who is calling, for whom, with which body, and for how long."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from crypto.encoding import b64decode, b64encode
from partners.directory import FederationView
from partners.errors import InvalidNodeToken
from partners.tokens import (
    DEFAULT_TTL,
    MAX_TTL,
    NodeTokenClaims,
    issue_node_token,
    verify_node_token,
)
from tests.support.builders import (
    HOST_ID,
    NOW,
    PARTNER_ID,
    THIRD_ID,
    Federation,
    NodeKeys,
    directory,
    node_record,
    signing_key,
)

BODY = b'{"header":"e30","ciphertext":"AA","signature":"AA"}'
TOKEN_ID = "5f" * 16
#: The leeway ``crypto.jwt.verify_jwt`` allows for clock differences between nodes.
LEEWAY = timedelta(seconds=30)


@pytest.fixture
def fed() -> Federation:
    return Federation.build()


def host_token(fed: Federation, **changes: object) -> str:
    """A token from the host mission to the reception partner, as the host would issue it."""
    options: dict[str, object] = {
        "key": fed.host.signing,
        "issuer": HOST_ID,
        "audience": PARTNER_ID,
        "body": BODY,
        "now": NOW,
        "token_id": TOKEN_ID,
    }
    options.update(changes)
    return issue_node_token(**options)  # type: ignore[arg-type]


def verify(token: str, fed: Federation, **changes: object) -> NodeTokenClaims:
    options: dict[str, object] = {
        "view": fed.view,
        "audience": PARTNER_ID,
        "body": BODY,
        "now": NOW,
    }
    options.update(changes)
    return verify_node_token(token, **options)  # type: ignore[arg-type]


class TestNodeToken:
    def test_issued_token_verifies_to_its_claims(self, fed: Federation) -> None:
        claims = verify(host_token(fed), fed)

        assert claims == NodeTokenClaims(HOST_ID, TOKEN_ID, NOW + DEFAULT_TTL)

    def test_token_for_another_audience_is_refused(self, fed: Federation) -> None:
        token = host_token(fed, audience=THIRD_ID)

        with pytest.raises(InvalidNodeToken):
            verify(token, fed)

    def test_token_expired_beyond_leeway_is_refused(self, fed: Federation) -> None:
        with pytest.raises(InvalidNodeToken):
            verify(host_token(fed), fed, now=NOW + DEFAULT_TTL + LEEWAY)

    def test_token_just_expired_within_leeway_is_accepted(self, fed: Federation) -> None:
        late = NOW + DEFAULT_TTL + LEEWAY - timedelta(seconds=1)

        assert verify(host_token(fed), fed, now=late).issuer == HOST_ID

    def test_token_issued_in_the_future_beyond_leeway_is_refused(self, fed: Federation) -> None:
        token = host_token(fed, now=NOW + LEEWAY + timedelta(seconds=1))

        with pytest.raises(InvalidNodeToken):
            verify(token, fed)

    def test_token_for_another_body_is_refused(self, fed: Federation) -> None:
        with pytest.raises(InvalidNodeToken, match="another issuer or body"):
            verify(host_token(fed), fed, body=BODY + b" ")

    def test_issuer_not_in_directory_is_refused(self, fed: Federation) -> None:
        stranger = NodeKeys.generate(THIRD_ID)
        token = host_token(fed, key=stranger.signing, issuer=THIRD_ID)

        with pytest.raises(InvalidNodeToken, match="does not verify"):
            verify(token, fed)

    def test_token_signed_with_another_nodes_key_is_refused(self, fed: Federation) -> None:
        # The partner cannot speak as the host, even with a key the directory lists (for the partner).
        token = host_token(fed, key=fed.partner.signing)

        with pytest.raises(InvalidNodeToken, match="does not verify"):
            verify(token, fed)

    def test_token_signed_with_an_unlisted_key_is_refused(self, fed: Federation) -> None:
        token = host_token(fed, key=signing_key())

        with pytest.raises(InvalidNodeToken, match="does not verify"):
            verify(token, fed)

    def test_token_signed_with_a_key_not_valid_now_is_refused(self) -> None:
        host = NodeKeys.generate(HOST_ID)
        ended = signing_key(
            valid_from=NOW - timedelta(days=30), valid_until=NOW - timedelta(hours=1)
        )
        view = FederationView(directory([node_record(host, signing=[ended, host.signing])]))
        token = issue_node_token(
            key=ended, issuer=HOST_ID, audience=PARTNER_ID, body=BODY, now=NOW, token_id=TOKEN_ID
        )

        with pytest.raises(InvalidNodeToken, match="does not verify"):
            verify_node_token(token, view=view, audience=PARTNER_ID, body=BODY, now=NOW)

    def test_lifetime_over_max_ttl_is_refused(self, fed: Federation) -> None:
        token = host_token(fed, ttl=MAX_TTL + timedelta(seconds=1))

        with pytest.raises(InvalidNodeToken, match="does not verify"):
            verify(token, fed)

    def test_lifetime_of_max_ttl_is_accepted(self, fed: Federation) -> None:
        claims = verify(host_token(fed, ttl=MAX_TTL), fed)

        assert claims.expires_at == NOW + MAX_TTL

    def test_token_with_replaced_claims_is_refused(self, fed: Federation) -> None:
        header, payload, signature = host_token(fed).split(".")
        claims = json.loads(b64decode(payload))
        claims["aud"] = THIRD_ID
        forged = ".".join([header, b64encode(json.dumps(claims).encode()), signature])

        with pytest.raises(InvalidNodeToken, match="does not verify"):
            verify(forged, fed, audience=THIRD_ID)

    def test_token_with_flipped_signature_bit_is_refused(self, fed: Federation) -> None:
        header, payload, signature = host_token(fed).split(".")
        raw = bytearray(b64decode(signature))
        raw[0] ^= 0x01
        tampered = ".".join([header, payload, b64encode(bytes(raw))])

        with pytest.raises(InvalidNodeToken, match="does not verify"):
            verify(tampered, fed)

    def test_text_that_is_not_a_token_is_refused(self, fed: Federation) -> None:
        with pytest.raises(InvalidNodeToken, match="does not verify"):
            verify("not-a-token", fed)

    def test_too_short_token_id_is_refused(self, fed: Federation) -> None:
        with pytest.raises(InvalidNodeToken, match="token id is malformed"):
            verify(host_token(fed, token_id="abc"), fed)
