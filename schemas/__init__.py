"""Wire and API models of the AVRR referral gateway.

Everything that crosses a process boundary is described here as a pydantic model: the referral
packet and its sections, the envelope that carries it, receipts, the federation directory, and the
shapes of the HTTP API. Inbound models forbid unknown fields and are frozen, so what was validated
is what is used. This package imports pydantic and nothing else of the project.
"""
