"""Consents: versioned records per purpose and recipient, withdrawals, and signed consent receipts."""
