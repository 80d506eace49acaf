"""Deletion requests sent to recipients, and what their signed answers prove."""
