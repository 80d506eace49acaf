"""Consent, and the pure decision of what may go to whom.

``consent.policy.decide`` takes everything it needs as arguments (the directory's sharing rules,
the person's consents, the recipient, the time) and returns the sections and fields that may go,
or raises ``SharingRefused`` naming the rule. ``consent.minimise`` cuts a packet down to that.
"""
