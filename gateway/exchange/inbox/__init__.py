"""The inbox: envelopes from other nodes checked and applied (receive), and what partner officers see (received)."""
