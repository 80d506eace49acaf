"""The reintegration plan: written at origin by the reintegration partner with the person, and
returned to the referral's sender.

Receiving, on the sender: about a referral sent to that partner (``answers``), and only under a
current consent of the person that covers reintegration assistance with that partner, for the
reintegration section; kept sealed under the case's key and logged. Nothing of a plan goes to a
government authority: refused at the sender's API, before each delivery attempt, and here.
"""

from __future__ import annotations

from gateway.exchange.kinds.answers import Returned, ReturnedUnderConsent
from schemas.common import Purpose
from schemas.envelope import MessageKind
from schemas.followup import PlanContent


class PlanKind(ReturnedUnderConsent):
    kind = MessageKind.REINTEGRATION_PLAN
    content = PlanContent
    consent_purpose = Purpose.REINTEGRATION_ASSISTANCE

    def detail(self, content: Returned) -> str:
        assert isinstance(content, PlanContent)
        return f"version {content.version}"
