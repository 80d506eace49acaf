"""Errors of the crypto layer.

``InvalidEnvelope`` is the one error a sender ever learns about: its ``reason`` is for the local
log only and must never be sent back. ``InvalidSignature`` covers signed documents (receipts,
directories, tokens), where the caller is trusted to see why.
"""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    """Why an envelope was refused. Logged locally; the outside sees one generic error."""

    MALFORMED = "malformed"
    NOT_CANONICAL = "header_not_canonical"
    WRONG_RECIPIENT = "wrong_recipient"
    UNKNOWN_SENDER = "unknown_sender"
    UNKNOWN_SIGNING_KEY = "unknown_signing_key"
    SIGNING_KEY_NOT_VALID = "signing_key_not_valid_at_creation"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_RECIPIENT_KEY = "unknown_recipient_key"
    DECRYPTION_FAILED = "decryption_failed"
    CONTENT_MISMATCH = "content_does_not_match_header"
    STALE = "older_than_acceptance_window"
    FROM_THE_FUTURE = "created_in_the_future"
    PAST_DELETE_BY = "past_delete_by"
    REPLAYED = "packet_id_reused_with_other_content"
    SENDER_MISMATCH = "token_issuer_is_not_the_sender"
    NOT_ALLOWED = "sender_or_purpose_not_allowed"
    WITHHELD_FROM_ROLE = "field_withheld_from_recipient_role"
    UNKNOWN_REFERRAL = "names_no_referral_sent_to_the_sender"
    REFERRAL_PAST_DELETE_BY = "about_a_referral_past_its_delete_by"
    NO_CONSENT_FOR_RETURN = "no_consent_covers_sending_it_back"


class InvalidEnvelope(Exception):
    """An envelope failed a check. ``str()`` is deliberately generic; ``reason`` is precise."""

    def __init__(self, reason: RejectReason) -> None:
        super().__init__("envelope rejected")
        self.reason = reason


class InvalidSignature(Exception):
    """A signed document or token did not verify against the key it claims."""
