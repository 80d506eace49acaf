"""Consents with their history, withdrawals that reach every recipient, and consent receipts."""
