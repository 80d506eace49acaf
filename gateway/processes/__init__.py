"""Processes: what the gateway does over many records and messages at once.

Withdrawal (``withdrawal``) and erasure (``erasure``), the purge at each date (``retention``),
proof of deletion (``deletion_proof``), corrections of what was sent (``corrections``), events
of a person's return (``status``), the DPO's registers (``dpo``) and audit reports and checks
(``audit``), and the assembly of the message kinds (``kinds``).
"""
