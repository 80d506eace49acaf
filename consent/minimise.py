"""Minimisation: cut a referral down to what an ``Allowance`` permits.

What is not allowed is *absent* from the result (not null, not blanked), and a section left with
no field is dropped, so the plaintext a recipient decrypts holds nothing it may not see.

Example::

    >>> minimise(content, Allowance({SectionName.ARRIVAL: frozenset({"reception_requested"})}))  # doctest: +SKIP
    ReferralContent(arrival=ArrivalSection(reception_requested=True, ...))
"""

from __future__ import annotations

from consent.policy import Allowance
from schemas.sections import ReferralContent


class NothingToSend(Exception):
    """After minimisation no field of the referral is left."""


def minimise(content: ReferralContent, allowance: Allowance) -> ReferralContent:
    wire = content.to_wire()
    kept: dict[str, dict[str, object]] = {}
    for section, fields in allowance.sections.items():
        values = wire.get(section.value)
        if not values:
            continue
        subset = {name: value for name, value in values.items() if name in fields}
        if subset:
            kept[section.value] = subset
    if not kept:
        raise NothingToSend("no allowed field of this referral has a value")
    return ReferralContent.model_validate(kept)
