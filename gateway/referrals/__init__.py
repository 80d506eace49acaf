"""Outgoing referrals: the sharing decision, sealing, the transactional outbox, and receipts."""
