"""Initial schema.

Until the first release this one migration is regenerated from the models whenever they change
(no deployed database exists yet); from the first release on, every change is a new migration.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.kit.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_events",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("actor_org", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("packet_id", sa.String(length=32), nullable=True),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=True),
        sa.Column("outcome", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("leaf_index"),
    )
    op.create_index("ix_access_events_action_at", "access_events", ["action", "at"], unique=False)
    op.create_index("ix_access_events_actor_at", "access_events", ["actor", "at"], unique=False)
    op.create_index(
        op.f("ix_access_events_packet_id"), "access_events", ["packet_id"], unique=False
    )
    op.create_index(op.f("ix_access_events_subject"), "access_events", ["subject"], unique=False)
    op.create_table(
        "bundles",
        sa.Column("bundle_id", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("envelopes", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bundle_id"),
        sa.UniqueConstraint("direction", "peer", "sequence"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("office", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_cases_office"), "cases", ["office"], unique=False)
    op.create_table(
        "follow_up",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("referral_packet_id", sa.String(length=32), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("counterpart", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(length=40), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("envelope_sha256", sa.String(length=64), nullable=False),
        sa.Column("delete_by", UTCDateTime(), nullable=False),
        sa.Column("needs_more_assistance", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_follow_up_delete_by"), "follow_up", ["delete_by"], unique=False)
    op.create_index(
        op.f("ix_follow_up_referral_packet_id"), "follow_up", ["referral_packet_id"], unique=False
    )
    op.create_index(op.f("ix_follow_up_subject_ref"), "follow_up", ["subject_ref"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("user", sa.String(length=128), nullable=False),
        sa.Column("route", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user", "route", "key"),
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("packet_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("released_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_legal_holds_packet_id"), "legal_holds", ["packet_id"], unique=False)
    op.create_index(op.f("ix_legal_holds_subject"), "legal_holds", ["subject"], unique=False)
    op.create_table(
        "log_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("size"),
    )
    op.create_index(op.f("ix_log_checkpoints_at"), "log_checkpoints", ["at"], unique=False)
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "index"),
    )
    op.create_table(
        "log_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "owed_answers",
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("packet_id", sa.String(length=32), nullable=False),
        sa.Column("envelope_sha256", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("owed_since", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("peer", "packet_id"),
    )
    op.create_table(
        "portal_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("card_reference", sa.String(length=20), nullable=True),
        sa.Column("staff_user", sa.String(length=128), nullable=True),
        sa.Column("staff_office", sa.String(length=128), nullable=True),
        sa.Column("staff_role", sa.String(length=20), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index(
        op.f("ix_portal_sessions_case_id"), "portal_sessions", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_portal_sessions_last_seen_at"), "portal_sessions", ["last_seen_at"], unique=False
    )
    op.create_table(
        "received_packets",
        sa.Column("packet_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("consent_ref", sa.String(length=32), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delete_by", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("envelope_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("withdrawn_sections", sa.JSON(), nullable=False),
        sa.Column("expired_sections", sa.JSON(), nullable=False),
        sa.Column("opened_count", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("packet_id"),
    )
    op.create_index(
        op.f("ix_received_packets_received_at"), "received_packets", ["received_at"], unique=False
    )
    op.create_index(
        op.f("ix_received_packets_sender"), "received_packets", ["sender"], unique=False
    )
    op.create_index(
        op.f("ix_received_packets_subject"), "received_packets", ["subject"], unique=False
    )
    op.create_table(
        "seen_node_tokens",
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_id"),
    )
    op.create_index(
        op.f("ix_seen_node_tokens_expires_at"), "seen_node_tokens", ["expires_at"], unique=False
    )
    op.create_table(
        "sign_in_throttle",
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("previous_failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("client"),
    )
    op.create_table(
        "staff_sign_ins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("next_path", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("state_hash"),
    )
    op.create_index(
        op.f("ix_staff_sign_ins_created_at"), "staff_sign_ins", ["created_at"], unique=False
    )
    op.create_table(
        "used_sign_in_links",
        sa.Column("jti_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("jti_hash"),
    )
    op.create_index(
        op.f("ix_used_sign_in_links_used_at"), "used_sign_in_links", ["used_at"], unique=False
    )
    op.create_table(
        "access_cards",
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("issued_by", sa.String(length=128), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("reference"),
    )
    op.create_index(op.f("ix_access_cards_case_id"), "access_cards", ["case_id"], unique=False)
    op.create_table(
        "case_events",
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("reported_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("case_id", "event"),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=True),
        sa.Column("recipient_role", sa.String(length=40), nullable=True),
        sa.Column("given_by", sa.String(length=40), nullable=False),
        sa.Column("giver_relation", sa.String(length=200), nullable=True),
        sa.Column("child_view", sa.String(length=40), nullable=True),
        sa.Column("best_interests_reference", sa.String(length=200), nullable=True),
        sa.Column("child_view_weighing", sa.LargeBinary(), nullable=True),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("counsellor", sa.String(length=128), nullable=False),
        sa.Column("informed_of_risks", sa.Boolean(), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_consents_case_id"), "consents", ["case_id"], unique=False)
    op.create_table(
        "correction_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("sealed_text", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("answered_by", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_correction_requests_case_id"), "correction_requests", ["case_id"], unique=False
    )
    op.create_table(
        "person_questions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.Column("sealed_text", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_answer", sa.LargeBinary(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("answered_by", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_person_questions_asked_at"), "person_questions", ["asked_at"], unique=False
    )
    op.create_index(
        op.f("ix_person_questions_case_id"), "person_questions", ["case_id"], unique=False
    )
    op.create_table(
        "received_sections",
        sa.Column("packet_id", sa.String(length=32), nullable=False),
        sa.Column("section", sa.String(length=20), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("delete_by", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["packet_id"],
            ["received_packets.packet_id"],
        ),
        sa.PrimaryKeyConstraint("packet_id", "section"),
    )
    op.create_index(
        op.f("ix_received_sections_delete_by"), "received_sections", ["delete_by"], unique=False
    )
    op.create_table(
        "referrals",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("office", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("transfer_ground", sa.String(length=60), nullable=False),
        sa.Column("consent_ids", sa.JSON(), nullable=False),
        sa.Column("packet_id", sa.String(length=32), nullable=False),
        sa.Column("sent_sections", sa.JSON(), nullable=False),
        sa.Column("sealed_content", sa.LargeBinary(), nullable=False),
        sa.Column("withheld", sa.JSON(), nullable=False),
        sa.Column("withdrawn_sections", sa.JSON(), nullable=False),
        sa.Column("delete_by", UTCDateTime(), nullable=False),
        sa.Column("section_delete_by", sa.JSON(), nullable=False),
        sa.Column("next_delete_at", UTCDateTime(), nullable=True),
        sa.Column("expired_sections", sa.JSON(), nullable=False),
        sa.Column("deletion_proven_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.String(length=80), nullable=True),
        sa.Column("submitted_at", UTCDateTime(), nullable=True),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("follows", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["follows"],
            ["referrals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("packet_id"),
    )
    op.create_index(op.f("ix_referrals_case_id"), "referrals", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_referrals_next_delete_at"), "referrals", ["next_delete_at"], unique=False
    )
    op.create_index(op.f("ix_referrals_office"), "referrals", ["office"], unique=False)
    op.create_table(
        "withdrawals",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("requested_by", sa.String(length=40), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=True),
        sa.Column("recipient", sa.String(length=64), nullable=True),
        sa.Column("sections", sa.JSON(), nullable=True),
        sa.Column("consents_changed", sa.JSON(), nullable=False),
        sa.Column("packets_cancelled", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_withdrawals_case_id"), "withdrawals", ["case_id"], unique=False)
    op.create_table(
        "consent_versions",
        sa.Column("consent_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("withdrawal_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consents.id"],
        ),
        sa.PrimaryKeyConstraint("consent_id", "version"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("packet_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("referral_id", sa.String(length=32), nullable=True),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=True),
        sa.Column("carried_fields", sa.JSON(), nullable=True),
        sa.Column("inbox_url", sa.String(length=300), nullable=True),
        sa.Column("cancel_reason", sa.String(length=80), nullable=True),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("envelope_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("deliver_by", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("pickup_since", UTCDateTime(), nullable=True),
        sa.Column("bundled_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("packet_id"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"], unique=False)
    op.create_index(op.f("ix_outbox_referral_id"), "outbox", ["referral_id"], unique=False)
    op.create_table(
        "revocations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("withdrawal_id", sa.String(length=32), nullable=True),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("packets", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("held", sa.JSON(), nullable=False),
        sa.Column("deletion_receipt", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["withdrawal_id"],
            ["withdrawals.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_revocations_case_id"), "revocations", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_revocations_withdrawal_id"), "revocations", ["withdrawal_id"], unique=False
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_delivery_attempts_outbox_id"), "delivery_attempts", ["outbox_id"], unique=False
    )
    op.create_table(
        "receipts",
        sa.Column("packet_id", sa.String(length=32), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("verified_at", UTCDateTime(), nullable=False),
        sa.Column("envelope_sha256", sa.String(length=64), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
        ),
        sa.PrimaryKeyConstraint("packet_id"),
        sa.UniqueConstraint("outbox_id"),
    )


def downgrade() -> None:
    op.drop_table("receipts")
    op.drop_index(op.f("ix_delivery_attempts_outbox_id"), table_name="delivery_attempts")
    op.drop_table("delivery_attempts")
    op.drop_index(op.f("ix_revocations_withdrawal_id"), table_name="revocations")
    op.drop_index(op.f("ix_revocations_case_id"), table_name="revocations")
    op.drop_table("revocations")
    op.drop_index(op.f("ix_outbox_referral_id"), table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("consent_versions")
    op.drop_index(op.f("ix_withdrawals_case_id"), table_name="withdrawals")
    op.drop_table("withdrawals")
    op.drop_index(op.f("ix_referrals_office"), table_name="referrals")
    op.drop_index(op.f("ix_referrals_next_delete_at"), table_name="referrals")
    op.drop_index(op.f("ix_referrals_case_id"), table_name="referrals")
    op.drop_table("referrals")
    op.drop_index(op.f("ix_received_sections_delete_by"), table_name="received_sections")
    op.drop_table("received_sections")
    op.drop_index(op.f("ix_person_questions_case_id"), table_name="person_questions")
    op.drop_index(op.f("ix_person_questions_asked_at"), table_name="person_questions")
    op.drop_table("person_questions")
    op.drop_index(op.f("ix_correction_requests_case_id"), table_name="correction_requests")
    op.drop_table("correction_requests")
    op.drop_index(op.f("ix_consents_case_id"), table_name="consents")
    op.drop_table("consents")
    op.drop_table("case_events")
    op.drop_index(op.f("ix_access_cards_case_id"), table_name="access_cards")
    op.drop_table("access_cards")
    op.drop_index(op.f("ix_used_sign_in_links_used_at"), table_name="used_sign_in_links")
    op.drop_table("used_sign_in_links")
    op.drop_index(op.f("ix_staff_sign_ins_created_at"), table_name="staff_sign_ins")
    op.drop_table("staff_sign_ins")
    op.drop_table("sign_in_throttle")
    op.drop_index(op.f("ix_seen_node_tokens_expires_at"), table_name="seen_node_tokens")
    op.drop_table("seen_node_tokens")
    op.drop_index(op.f("ix_received_packets_subject"), table_name="received_packets")
    op.drop_index(op.f("ix_received_packets_sender"), table_name="received_packets")
    op.drop_index(op.f("ix_received_packets_received_at"), table_name="received_packets")
    op.drop_table("received_packets")
    op.drop_index(op.f("ix_portal_sessions_last_seen_at"), table_name="portal_sessions")
    op.drop_index(op.f("ix_portal_sessions_case_id"), table_name="portal_sessions")
    op.drop_table("portal_sessions")
    op.drop_table("owed_answers")
    op.drop_table("log_state")
    op.drop_table("log_nodes")
    op.drop_index(op.f("ix_log_checkpoints_at"), table_name="log_checkpoints")
    op.drop_table("log_checkpoints")
    op.drop_index(op.f("ix_legal_holds_subject"), table_name="legal_holds")
    op.drop_index(op.f("ix_legal_holds_packet_id"), table_name="legal_holds")
    op.drop_table("legal_holds")
    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_follow_up_subject_ref"), table_name="follow_up")
    op.drop_index(op.f("ix_follow_up_referral_packet_id"), table_name="follow_up")
    op.drop_index(op.f("ix_follow_up_delete_by"), table_name="follow_up")
    op.drop_table("follow_up")
    op.drop_index(op.f("ix_cases_office"), table_name="cases")
    op.drop_table("cases")
    op.drop_table("bundles")
    op.drop_index(op.f("ix_access_events_subject"), table_name="access_events")
    op.drop_index(op.f("ix_access_events_packet_id"), table_name="access_events")
    op.drop_index("ix_access_events_actor_at", table_name="access_events")
    op.drop_index("ix_access_events_action_at", table_name="access_events")
    op.drop_table("access_events")
