"""The monitoring round: a reintegration partner's scores of the Reintegration Sustainability
Survey (three dimensions and the composite), under the person's pseudonym for the sender.

The answers stay with the partner (``exchange.followup.service.monitor`` codes and scores
them); only the scores and the round travel. Receiving, on the sender: about a referral sent to
that partner (``answers``), and only under a current consent of the person that covers
reintegration monitoring with that partner; kept sealed under the case's key and logged. Never
to a government authority.
"""

from __future__ import annotations

from gateway.exchange.kinds.answers import Returned, ReturnedUnderConsent
from schemas.common import Purpose
from schemas.envelope import MessageKind
from schemas.followup import MonitoringContent


class MonitoringKind(ReturnedUnderConsent):
    kind = MessageKind.MONITORING
    content = MonitoringContent
    consent_purpose = Purpose.REINTEGRATION_MONITORING

    def detail(self, content: Returned) -> str:
        assert isinstance(content, MonitoringContent)
        return f"month {content.round_months}"
