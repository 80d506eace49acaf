"""The federation directory: who is in the federation, their keys, and what each role may receive.

The operator signs it; every node pins the operator's public key and refuses an unsigned, stale or
rolled-back directory (see ``partners.directory``). The sharing policy maps (role, purpose) to the
sections and fields a recipient in that role may receive; consent narrows it, never widens it.

Example::

    >>> rule = SharingRule(role="reception_partner", purpose="arrival_reception",
    ...                    sections={"arrival": ["reception_requested"]})
    >>> rule.sections["arrival"]
    ['reception_requested']
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AnyHttpUrl, Field, StringConstraints, field_validator, model_validator

from schemas.common import (
    AwareDatetime,
    CountryCode,
    Inbound,
    KeyId,
    NodeId,
    PartnerRole,
    Purpose,
    SectionName,
    ShortText,
    SubdivisionCode,
)
from schemas.envelope import Base64Url
from schemas.sections import section_fields

#: Hosts an inbox may be reached at over plain http: this machine only.
LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

DIRECTORY_FORMAT: Final = "avrr-directory/1"

FederationId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,62}$")]


class KeyRecord(Inbound):
    """One public key and the period in which it may be used."""

    key_id: KeyId
    public_key: Base64Url
    valid_from: AwareDatetime
    valid_until: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> KeyRecord:
        if self.valid_until <= self.valid_from:
            raise ValueError("a key's validity must end after it starts")
        return self


class DeliveryMode(StrEnum):
    """How envelopes reach a member.

    ``push``: senders post them to its ``inbox_url``. ``pickup``: it has no public address; it
    fetches what waits for it from each sender (``POST /federation/v1/pickup``) whenever it is
    online, and answers with the same signed receipts. Either may also receive hand-carried
    bundles (``avrr bundle``).
    """

    PUSH = "push"
    PICKUP = "pickup"


class NodeRecord(Inbound):
    """A member of the federation as the directory lists it."""

    node_id: NodeId
    organisation: ShortText
    country: CountryCode
    #: Where in the country the member works (ISO 3166-2), so a region can be suspended alone.
    region: SubdivisionCode | None = None
    roles: Annotated[list[PartnerRole], Field(min_length=1, max_length=8)]
    delivery: DeliveryMode = DeliveryMode.PUSH
    #: Where senders post envelopes; a pickup member has none.
    inbox_url: AnyHttpUrl | None = None
    signing_keys: Annotated[list[KeyRecord], Field(min_length=1, max_length=16)]
    encryption_keys: Annotated[list[KeyRecord], Field(min_length=1, max_length=16)]

    @field_validator("inbox_url")
    @classmethod
    def _encrypted_in_transit(cls, url: AnyHttpUrl | None) -> AnyHttpUrl | None:
        # Envelopes are sealed, but the bearer token, the sender and the timing travel beside
        # them: an inbox is reached over TLS, except on this machine (the demo, tests).
        if url is not None and url.scheme != "https" and url.host not in LOOPBACK_HOSTS:
            raise ValueError("an inbox URL must use https (plain http only on loopback)")
        return url

    @model_validator(mode="after")
    def _reachable(self) -> NodeRecord:
        if self.delivery is DeliveryMode.PUSH and self.inbox_url is None:
            raise ValueError("a push member needs an inbox URL (or delivery: pickup)")
        if self.delivery is DeliveryMode.PICKUP and self.inbox_url is not None:
            raise ValueError("a pickup member has no inbox URL: it fetches what waits for it")
        return self

    @model_validator(mode="after")
    def _region_in_country(self) -> NodeRecord:
        if self.region is not None and not self.region.startswith(f"{self.country}-"):
            raise ValueError("a node's region must lie in its country")
        return self


class SharingRule(Inbound):
    """What a recipient in ``role`` may receive for ``purpose``: sections, and fields within them."""

    role: PartnerRole
    purpose: Purpose
    sections: dict[SectionName, Annotated[list[str], Field(max_length=64)]]

    @model_validator(mode="after")
    def _known_fields(self) -> SharingRule:
        for section, fields in self.sections.items():
            unknown = set(fields) - section_fields(section)
            if unknown:
                raise ValueError(f"unknown fields for section {section.value}: {sorted(unknown)}")
        return self


class RetentionEvent(StrEnum):
    """What a retention period counts from."""

    REFERRAL_SENT = "referral_sent"
    ARRIVAL = "arrival"
    ASSISTANCE_STARTED = "assistance_started"
    CASE_CLOSED = "case_closed"
    #: A child handed over to the custodian its referrals named; for an unaccompanied child,
    #: arrival can only be recorded once this is.
    HANDED_OVER = "handed_over"


class RetentionRule(Inbound):
    """How long a section sent for a purpose may be kept: ``days`` after ``event``.

    Until the event is reported, it is assumed to happen ``Directory.event_horizon_days`` after
    the referral is sent, so every section always has a date.
    """

    purpose: Purpose
    section: SectionName
    event: RetentionEvent
    days: Annotated[int, Field(ge=1, le=3650)]
    #: For a child, keep at least this long (follow-up of children lasts at least 24 months).
    child_minimum_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class Directory(Inbound):
    """The signed list of members and the data-sharing policy."""

    format: Literal["avrr-directory/1"] = DIRECTORY_FORMAT
    federation_id: FederationId
    serial: Annotated[int, Field(ge=1)]
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    nodes: Annotated[list[NodeRecord], Field(max_length=1000)]
    sharing_policy: Annotated[list[SharingRule], Field(max_length=1000)]
    suspended_countries: Annotated[list[CountryCode], Field(max_length=300)] = []
    #: Regions (ISO 3166-2) where referrals are suspended while the rest of the country is not.
    suspended_regions: Annotated[list[SubdivisionCode], Field(max_length=1000)] = []
    retention: Annotated[list[RetentionRule], Field(max_length=500)] = []
    #: Days from sending until an event is assumed to happen, while it is not yet reported.
    event_horizon_days: dict[RetentionEvent, Annotated[int, Field(ge=0, le=3650)]] = {}

    @model_validator(mode="after")
    def _unique(self) -> Directory:
        ids = [node.node_id for node in self.nodes]
        if len(ids) != len(set(ids)):
            raise ValueError("node ids must be unique")
        keys = [k.key_id for n in self.nodes for k in (*n.signing_keys, *n.encryption_keys)]
        if len(keys) != len(set(keys)):
            raise ValueError("key ids must be unique across the directory")
        pairs = [(rule.role, rule.purpose) for rule in self.sharing_policy]
        if len(pairs) != len(set(pairs)):
            raise ValueError("one sharing rule per role and purpose")
        kept = [(rule.purpose, rule.section) for rule in self.retention]
        if len(kept) != len(set(kept)):
            raise ValueError("one retention rule per purpose and section")
        if self.expires_at <= self.issued_at:
            raise ValueError("a directory must expire after it is issued")
        return self

    def node(self, node_id: str) -> NodeRecord | None:
        return next((n for n in self.nodes if n.node_id == node_id), None)
