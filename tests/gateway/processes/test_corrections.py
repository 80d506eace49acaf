"""Correcting a delivered referral: the recipient's copy of the named sections is replaced.

What goes is decided again by the sharing policy and the person's current consents; a section
the recipient no longer holds is never sent again.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select

from gateway.records.accesslog.models import AccessEventRow
from schemas.common import StaffRole
from tests.support import flows
from tests.support.federation import TestFederation, TestNode


def delivered(pair: TestFederation, host: TestNode) -> dict[str, Any]:
    sent = flows.referral(host, "origin-reception")
    assert pair.deliver(host).delivered == 1
    return sent


def correct(host: TestNode, referral_id: str, content: dict[str, Any], **headers: str) -> Any:
    return host.client.post(
        f"/api/v1/referrals/{referral_id}/corrections",
        json={"content": content},
        headers=headers or host.auth(),
    )


def opened(partner: TestNode, packet_id: str) -> dict[str, Any]:
    response = partner.client.get(
        f"/api/v1/received/{packet_id}", headers=partner.auth(StaffRole.PARTNER_OFFICER)
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["content"])


def actions(node: TestNode, action: str) -> list[tuple[str | None, list[str]]]:
    with node.sessions() as session:
        rows = session.execute(
            select(AccessEventRow.packet_id, AccessEventRow.sections).where(
                AccessEventRow.action == action
            )
        ).all()
    return [(p, list(s)) for p, s in rows]


def travel(**changes: Any) -> dict[str, Any]:
    section = copy.deepcopy(flows.content()["travel"])
    section.update(changes)
    return {"travel": section}


class TestCorrection:
    def test_the_recipient_holds_the_corrected_section_after_delivery(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered(pair, host)

        response = correct(host, sent["id"], travel(traveller_name="Corrected Name"))

        assert response.status_code == 200, response.text
        assert opened(partner, sent["packet_id"])["travel"]["traveller_name"] == "Synthetic Person"
        assert pair.deliver(host).delivered == 1
        content = opened(partner, sent["packet_id"])
        assert content["travel"]["traveller_name"] == "Corrected Name"
        assert "medical" in content  # other sections untouched
        assert actions(host, "referral_corrected") == [(sent["packet_id"], ["travel"])]
        assert actions(partner, "corrected") == [(sent["packet_id"], ["travel"])]

    def test_what_the_policy_does_not_allow_is_not_sent_with_a_correction(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered(pair, host)
        medical = copy.deepcopy(flows.content()["medical"])
        medical["mobility_needs_on_arrival"] = "a walking frame"

        assert correct(host, sent["id"], {"medical": medical}).status_code == 200
        pair.deliver(host)

        held = opened(partner, sent["packet_id"])["medical"]
        assert held["mobility_needs_on_arrival"] == "a walking frame"
        assert "conditions" not in held  # a diagnosis never reaches a reception partner

    def test_a_withdrawn_section_is_never_sent_again(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        sent = delivered(pair, host)
        withdrawal = host.client.post(
            f"/api/v1/cases/{sent['case_id']}/withdrawals",
            json={"sections": ["medical"]},
            headers=host.auth(),
        )
        assert withdrawal.status_code == 201, withdrawal.text
        pair.deliver(host)
        medical = copy.deepcopy(flows.content()["medical"])

        only_medical = correct(host, sent["id"], {"medical": medical})
        assert only_medical.status_code == 422
        both = correct(host, sent["id"], {**travel(escort="operational"), "medical": medical})
        assert both.status_code == 200, both.text
        pair.deliver(host)

        content = opened(partner, sent["packet_id"])
        assert sorted(content) == ["arrival", "travel"]
        assert content["travel"]["escort"] == "operational"

    def test_only_a_delivered_referral_of_the_callers_office_is_corrected(
        self, pair: TestFederation, host: TestNode, partner: TestNode
    ) -> None:
        queued = flows.referral(host, "origin-reception")
        assert correct(host, queued["id"], travel()).status_code == 422
        pair.deliver(host)
        other_office = host.auth(office="office-b")
        assert correct(host, queued["id"], travel(), **other_office).status_code == 404
        dpo = host.auth(StaffRole.DPO)
        assert correct(host, queued["id"], travel(), **dpo).status_code == 403
        assert actions(host, "referral_corrected") == []
