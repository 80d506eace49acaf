"""The built-in issuer's staff tokens, and the cache of tokens it has verified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from crypto.keys import SigningKey
from gateway.kit import auth
from gateway.kit.auth import Principal, StaffTokenIssuer, VerifiedTokens
from gateway.kit.errors import Unauthorised
from schemas.common import StaffRole

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _issuer() -> StaffTokenIssuer:
    key = SigningKey.generate(
        valid_from=NOW - timedelta(days=1), valid_until=NOW + timedelta(days=1)
    )
    return StaffTokenIssuer(key=key, node_id="host-mission")


def _token(issuer: StaffTokenIssuer, *, at: datetime = NOW, lifetime: timedelta = HOUR) -> str:
    return issuer.issue(
        user="cw-1", role=StaffRole.CASEWORKER, office="tunis", now=at, lifetime=lifetime
    )


class TestVerifiedTokenCache:
    def test_a_repeated_token_is_verified_once(self) -> None:
        issuer = _issuer()
        token = _token(issuer)
        with mock.patch.object(auth, "verify_jwt", wraps=auth.verify_jwt) as verify:
            first = issuer.verify(token, now=NOW)
            again = issuer.verify(token, now=NOW + timedelta(minutes=5))
        assert first == again == Principal("cw-1", StaffRole.CASEWORKER, "tunis")
        assert verify.call_count == 1

    def test_the_cache_never_answers_at_or_past_expiry(self) -> None:
        issuer = _issuer()
        token = _token(issuer)
        issuer.verify(token, now=NOW)
        with mock.patch.object(auth, "verify_jwt", wraps=auth.verify_jwt) as verify:
            # Within the leeway full verification still accepts it, as without the cache ...
            issuer.verify(token, now=NOW + HOUR)
            # ... and past the leeway it is refused.
            with pytest.raises(Unauthorised):
                issuer.verify(token, now=NOW + HOUR + timedelta(minutes=1))
        assert verify.call_count == 2

    def test_the_cache_never_answers_before_issue(self) -> None:
        issuer = _issuer()
        token = _token(issuer)
        issuer.verify(token, now=NOW)
        with pytest.raises(Unauthorised):
            issuer.verify(token, now=NOW - timedelta(minutes=5))

    def test_a_token_is_not_cached_past_its_key(self) -> None:
        issuer = _issuer()
        token = _token(issuer, at=NOW + timedelta(hours=23), lifetime=timedelta(hours=8))
        issuer.verify(token, now=NOW + timedelta(hours=23))
        with pytest.raises(Unauthorised):
            issuer.verify(token, now=NOW + timedelta(days=1, minutes=1))

    def test_another_key_does_not_inherit_what_was_verified(self) -> None:
        issuer = _issuer()
        token = _token(issuer)
        issuer.verify(token, now=NOW)
        rotated = StaffTokenIssuer(key=_issuer().key, node_id="host-mission")
        with pytest.raises(Unauthorised):
            rotated.verify(token, now=NOW)

    def test_refused_tokens_and_sign_in_links_are_not_kept(self) -> None:
        issuer = _issuer()
        with pytest.raises(Unauthorised):
            issuer.verify(_token(issuer) + "x", now=NOW)
        link = issuer.issue(
            user="cw-1",
            role=StaffRole.CASEWORKER,
            office="tunis",
            now=NOW,
            lifetime=HOUR,
            use=auth.SIGN_IN,
        )
        issuer.verify(link, now=NOW, use=auth.SIGN_IN)
        assert len(issuer.verified) == 0
        # A sign-in link is not an API token, cached or not.
        with pytest.raises(Unauthorised):
            issuer.verify(link, now=NOW)

    def test_the_cache_is_bounded_and_keeps_no_token(self) -> None:
        cache = VerifiedTokens(size=2)
        principal = Principal("cw-1", StaffRole.CASEWORKER, "tunis")
        for name in ("a", "b", "c"):
            cache.put(name, principal, issued=0, expires=NOW.timestamp() + 60)
        assert len(cache) == 2
        assert cache.get("a", now=NOW) is None
        assert cache.get("c", now=NOW) == principal
        assert "c" not in cache._entries
