"""What a caseworker does, as HTTP calls, so tests read as the steps of the job."""

from __future__ import annotations

import copy
from typing import Any

from tests.support.federation import TestNode

CASE = {
    "given_name": "Synthetic",
    "family_name": "Person",
    "date_of_birth": "1990-01-01",
    "nationality": "SN",
    "preferred_language": "fr",
    "vulnerability_flags": ["health_needs"],
}

CONTENT: dict[str, Any] = {
    "travel": {
        "traveller_name": "Synthetic Person",
        "traveller_date_of_birth": "1990-01-01",
        "travel_document_status": "emergency_travel_document",
        "arrival": {"airport": "DSS", "arrives_at": "2026-12-01T16:00:00Z"},
        "escort": "none",
        "assistance_at_arrival": True,
    },
    "medical": {
        "fit_to_travel": True,
        "conditions": ["CANARY-DIAGNOSIS synthetic"],
        "medication": ["synthetic medication"],
        "equipment": ["wheelchair"],
        "mobility_needs_on_arrival": "needs a wheelchair from the aircraft door",
    },
    "arrival": {
        "reception_requested": True,
        "contact_language": "fr",
        "final_destination": {"country": "SN", "locality": "Thies"},
    },
    "reintegration": {"plan": "CANARY-PLAN vocational training", "grant_type": "in_kind"},
}

ALL_SECTIONS = ["travel", "medical", "arrival", "reintegration"]


def content() -> dict[str, Any]:
    return copy.deepcopy(CONTENT)


def create_case(host: TestNode, **overrides: Any) -> dict[str, Any]:
    response = host.client.post("/api/v1/cases", json={**CASE, **overrides}, headers=host.auth())
    assert response.status_code == 201, response.text
    return dict(response.json())


def record_consent(
    host: TestNode,
    case_id: str,
    recipient: str,
    purpose: str = "arrival_reception",
    sections: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "purpose": purpose,
        "recipient": recipient,
        "sections": sections or ALL_SECTIONS,
        "method": "signed_form",
        "language": "fr",
        "informed_of_risks": True,
        **extra,
    }
    response = host.client.post(f"/api/v1/cases/{case_id}/consents", json=body, headers=host.auth())
    assert response.status_code == 201, response.text
    return dict(response.json())


def post_referral(
    host: TestNode,
    case_id: str,
    recipient: str,
    purpose: str = "arrival_reception",
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    payload = {
        "case_id": case_id,
        "recipient": recipient,
        "purpose": purpose,
        "transfer_ground": "explicit_consent_informed_of_risks",
        "content": body or content(),
    }
    return host.client.post(
        "/api/v1/referrals", json=payload, headers={**host.auth(), **(headers or {})}
    )


def referral(host: TestNode, recipient: str, purpose: str = "arrival_reception") -> dict[str, Any]:
    """A case with consent and one referral to ``recipient``: the usual starting point."""
    case = create_case(host)
    record_consent(host, case["id"], recipient, purpose)
    response = post_referral(host, case["id"], recipient, purpose)
    assert response.status_code == 201, response.text
    return dict(response.json())
