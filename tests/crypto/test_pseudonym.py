"""Per-recipient subject pseudonyms (``crypto.pseudonym``)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto.pseudonym import subject_pseudonym
from schemas.envelope import Pseudonym

SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(1, 33))
NODE_IDS = st.from_regex(r"^[a-z0-9][a-z0-9.-]{1,62}$", fullmatch=True)


def pseudonym(subject: str = "case-1", recipient: str = "partner-a", secret: bytes = SECRET) -> str:
    return subject_pseudonym(secret, subject_id=subject, recipient=recipient)


class TestSubjectPseudonym:
    def test_same_inputs_give_the_same_pseudonym(self) -> None:
        assert pseudonym() == pseudonym()

    def test_pseudonym_differs_per_recipient(self) -> None:
        assert pseudonym(recipient="partner-a") != pseudonym(recipient="partner-b")

    def test_pseudonym_differs_per_subject(self) -> None:
        assert pseudonym(subject="case-1") != pseudonym(subject="case-2")

    def test_pseudonym_differs_per_node_secret(self) -> None:
        assert pseudonym(secret=SECRET) != pseudonym(secret=OTHER_SECRET)

    def test_pseudonym_is_hmac_sha256_over_the_canonical_labelled_triple(self) -> None:
        message = b'["avrr-pseudonym/1","case-1","partner-a"]'
        assert pseudonym() == hmac.new(SECRET, message, hashlib.sha256).hexdigest()

    def test_pseudonym_is_64_lowercase_hex_as_the_header_requires(self) -> None:
        from pydantic import TypeAdapter

        value = pseudonym()
        assert TypeAdapter(Pseudonym).validate_python(value) == value

    def test_subject_and_recipient_cannot_trade_characters(self) -> None:
        # A plain concatenation would give these two the same input.
        assert pseudonym(subject="case-1p", recipient="artner-a") != pseudonym()

    def test_secret_shorter_than_32_bytes_is_refused(self) -> None:
        with pytest.raises(ValueError, match="at least 32 bytes"):
            pseudonym(secret=bytes(31))

    @given(subject=st.text(max_size=40), first=NODE_IDS, second=NODE_IDS)
    def test_two_recipients_never_share_a_pseudonym(
        self, subject: str, first: str, second: str
    ) -> None:
        if first != second:
            assert pseudonym(subject, first) != pseudonym(subject, second)
