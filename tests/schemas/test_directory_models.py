"""Directory models: key records, node records, sharing and retention rules, and the directory's
own invariants.

These are model checks only: key ids here are synthetic hex strings, not derived from real keys
(that match is checked by ``partners.directory``, tested in ``tests/partners``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.common import PartnerRole, Purpose, SectionName
from schemas.directory import (
    DIRECTORY_FORMAT,
    Directory,
    KeyRecord,
    NodeRecord,
    RetentionEvent,
    RetentionRule,
    SharingRule,
)

ISSUED = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
KEY_FROM = ISSUED - timedelta(days=30)
KEY_UNTIL = ISSUED + timedelta(days=365)


def key_data(number: int, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key_id": f"{number:032x}",
        "public_key": "A" * 43,
        "valid_from": KEY_FROM,
        "valid_until": KEY_UNTIL,
    }
    data.update(changes)
    return data


def node_data(node_id: str, first_key: int, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "node_id": node_id,
        "organisation": f"Synthetic organisation {node_id}",
        "country": "SN",
        "roles": ["reception_partner"],
        "inbox_url": f"https://{node_id}/",
        "signing_keys": [key_data(first_key)],
        "encryption_keys": [key_data(first_key + 1)],
    }
    data.update(changes)
    return data


def rule_data(
    role: str = "reception_partner", purpose: str = "arrival_reception"
) -> dict[str, Any]:
    return {"role": role, "purpose": purpose, "sections": {"arrival": ["reception_requested"]}}


def retention_data(
    purpose: str = "arrival_reception", section: str = "arrival", **changes: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "purpose": purpose,
        "section": section,
        "event": "arrival",
        "days": 90,
    }
    data.update(changes)
    return data


def directory_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "federation_id": "synthetic-federation",
        "serial": 1,
        "issued_at": ISSUED,
        "expires_at": ISSUED + timedelta(days=30),
        "nodes": [node_data("host-mission.example", 1), node_data("reception.example", 3)],
        "sharing_policy": [rule_data()],
    }
    data.update(changes)
    return data


class TestSuspendedRegions:
    def test_regions_are_iso_3166_2_codes(self) -> None:
        directory = Directory.model_validate(directory_data(suspended_regions=["ML-7", "SN-TH"]))

        assert directory.suspended_regions == ["ML-7", "SN-TH"]

    def test_a_region_of_an_unknown_country_is_refused(self) -> None:
        with pytest.raises(ValidationError):
            Directory.model_validate(directory_data(suspended_regions=["XX-7"]))


def error_types(exc: ValidationError) -> list[str]:
    return [str(error["type"]) for error in exc.errors()]


class TestKeyRecord:
    def test_valid_key_record_is_accepted(self) -> None:
        assert KeyRecord.model_validate(key_data(1)).key_id == f"{1:032x}"

    def test_validity_ending_before_it_starts_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="end after it starts"):
            KeyRecord.model_validate(key_data(1, valid_until=KEY_FROM - timedelta(seconds=1)))

    def test_empty_validity_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="end after it starts"):
            KeyRecord.model_validate(key_data(1, valid_until=KEY_FROM))

    def test_naive_validity_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            KeyRecord.model_validate(key_data(1, valid_from=KEY_FROM.replace(tzinfo=None)))

        assert [e["loc"] for e in exc_info.value.errors()] == [("valid_from",)]


class TestNodeRecord:
    def test_valid_node_record_is_accepted(self) -> None:
        node = NodeRecord.model_validate(node_data("reception.example", 1))

        assert node.roles == [PartnerRole.RECEPTION_PARTNER]
        assert node.region is None

    def test_a_region_of_the_nodes_country_is_accepted(self) -> None:
        node = NodeRecord.model_validate(node_data("reception.example", 1, region="SN-TH"))

        assert node.region == "SN-TH"

    def test_a_region_of_another_country_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="must lie in its country"):
            NodeRecord.model_validate(node_data("reception.example", 1, region="ML-7"))

    @pytest.mark.parametrize("region", ["SN", "sn-th", "XX-1", "SN-ABCD", "SN_TH"])
    def test_a_malformed_region_is_refused(self, region: str) -> None:
        with pytest.raises(ValidationError):
            NodeRecord.model_validate(node_data("reception.example", 1, region=region))

    def test_node_without_roles_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            NodeRecord.model_validate(node_data("reception.example", 1, roles=[]))

        assert error_types(exc_info.value) == ["too_short"]

    def test_unknown_role_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            NodeRecord.model_validate(node_data("reception.example", 1, roles=["police"]))

        assert error_types(exc_info.value) == ["enum"]

    def test_node_without_signing_key_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            NodeRecord.model_validate(node_data("reception.example", 1, signing_keys=[]))

        assert error_types(exc_info.value) == ["too_short"]

    def test_unknown_country_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            NodeRecord.model_validate(node_data("reception.example", 1, country="XX"))

        assert [e["loc"] for e in exc_info.value.errors()] == [("country",)]

    def test_inbox_url_that_is_not_http_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            NodeRecord.model_validate(
                node_data("reception.example", 1, inbox_url="ftp://reception.example/")
            )

        assert [e["loc"] for e in exc_info.value.errors()] == [("inbox_url",)]

    def test_plain_http_inbox_away_from_this_machine_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            NodeRecord.model_validate(
                node_data("reception.example", 1, inbox_url="http://reception.example/")
            )

        assert [e["loc"] for e in exc_info.value.errors()] == [("inbox_url",)]
        assert "https" in exc_info.value.errors()[0]["msg"]

    @pytest.mark.parametrize(
        "url", ["https://reception.example/", "http://127.0.0.1:8001/", "http://[::1]:8001/"]
    )
    def test_https_inbox_or_plain_http_on_loopback_is_accepted(self, url: str) -> None:
        record = NodeRecord.model_validate(node_data("reception.example", 1, inbox_url=url))

        assert str(record.inbox_url) == url

    def test_unknown_field_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            NodeRecord.model_validate({**node_data("reception.example", 1), "private_key": "AA"})

        assert error_types(exc_info.value) == ["extra_forbidden"]


class TestSharingRule:
    def test_known_fields_are_accepted(self) -> None:
        rule = SharingRule.model_validate(
            {
                "role": "reception_partner",
                "purpose": "arrival_reception",
                "sections": {"arrival": ["reception_requested"], "medical": ["equipment"]},
            }
        )

        assert rule.sections == {
            SectionName.ARRIVAL: ["reception_requested"],
            SectionName.MEDICAL: ["equipment"],
        }

    def test_unknown_field_name_is_refused(self) -> None:
        with pytest.raises(ValidationError, match=r"unknown fields for section medical: \['hiv'\]"):
            SharingRule.model_validate(
                {
                    "role": "reception_partner",
                    "purpose": "arrival_reception",
                    "sections": {"medical": ["equipment", "hiv"]},
                }
            )

    def test_field_of_another_section_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="unknown fields for section arrival"):
            SharingRule(
                role=PartnerRole.RECEPTION_PARTNER,
                purpose=Purpose.ARRIVAL_RECEPTION,
                sections={SectionName.ARRIVAL: ["conditions"]},
            )

    def test_unknown_section_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            SharingRule.model_validate(
                {
                    "role": "reception_partner",
                    "purpose": "arrival_reception",
                    "sections": {"history": ["asylum"]},
                }
            )

        assert error_types(exc_info.value) == ["enum"]


class TestRetentionRule:
    def test_valid_rule_is_accepted(self) -> None:
        rule = RetentionRule.model_validate(retention_data(child_minimum_days=730))

        assert rule.purpose is Purpose.ARRIVAL_RECEPTION
        assert rule.section is SectionName.ARRIVAL
        assert rule.event is RetentionEvent.ARRIVAL
        assert (rule.days, rule.child_minimum_days) == (90, 730)

    def test_child_minimum_is_optional(self) -> None:
        assert RetentionRule.model_validate(retention_data()).child_minimum_days is None

    @pytest.mark.parametrize("event", ["referral_sent", "arrival", "assistance_started"])
    def test_every_event_is_accepted(self, event: str) -> None:
        assert RetentionRule.model_validate(retention_data(event=event)).event.value == event

    @pytest.mark.parametrize("days", [1, 3650])
    def test_days_at_the_bounds_are_accepted(self, days: int) -> None:
        rule = RetentionRule.model_validate(retention_data(days=days, child_minimum_days=days))

        assert rule.days == rule.child_minimum_days == days

    @pytest.mark.parametrize(
        ("days", "error"),
        [(0, "greater_than_equal"), (-1, "greater_than_equal"), (3651, "less_than_equal")],
    )
    @pytest.mark.parametrize("field", ["days", "child_minimum_days"])
    def test_days_out_of_bounds_are_refused(self, field: str, days: int, error: str) -> None:
        with pytest.raises(ValidationError) as exc_info:
            RetentionRule.model_validate({**retention_data(), field: days})

        assert error_types(exc_info.value) == [error]
        assert [e["loc"] for e in exc_info.value.errors()] == [(field,)]

    def test_days_are_required(self) -> None:
        data = retention_data()
        del data["days"]

        with pytest.raises(ValidationError) as exc_info:
            RetentionRule.model_validate(data)

        assert error_types(exc_info.value) == ["missing"]

    def test_fractional_days_are_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            RetentionRule.model_validate(retention_data(days=1.5))

        assert [e["loc"] for e in exc_info.value.errors()] == [("days",)]

    @pytest.mark.parametrize(
        ("field", "value"),
        [("event", "case_reopened"), ("section", "history"), ("purpose", "research")],
    )
    def test_unknown_names_are_refused(self, field: str, value: str) -> None:
        with pytest.raises(ValidationError) as exc_info:
            RetentionRule.model_validate({**retention_data(), field: value})

        assert error_types(exc_info.value) == ["enum"]

    def test_unknown_field_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            RetentionRule.model_validate(retention_data(forever=True))

        assert error_types(exc_info.value) == ["extra_forbidden"]


class TestDirectoryRetention:
    def test_directory_without_retention_has_no_rules_and_no_horizons(self) -> None:
        directory = Directory.model_validate(directory_data())

        assert directory.retention == []
        assert directory.event_horizon_days == {}

    def test_rules_and_horizons_are_accepted(self) -> None:
        rules = [retention_data(), retention_data(section="travel", days=30)]
        horizons = {"arrival": 60, "assistance_started": 90, "referral_sent": 0}

        directory = Directory.model_validate(
            directory_data(retention=rules, event_horizon_days=horizons)
        )

        assert [(r.section, r.days) for r in directory.retention] == [
            (SectionName.ARRIVAL, 90),
            (SectionName.TRAVEL, 30),
        ]
        assert directory.event_horizon_days == {
            RetentionEvent.ARRIVAL: 60,
            RetentionEvent.ASSISTANCE_STARTED: 90,
            RetentionEvent.REFERRAL_SENT: 0,
        }

    def test_two_rules_for_one_purpose_and_section_are_refused(self) -> None:
        rules = [retention_data(), retention_data(days=30, event="referral_sent")]

        with pytest.raises(ValidationError, match="one retention rule per purpose and section"):
            Directory.model_validate(directory_data(retention=rules))

    def test_one_section_under_two_purposes_is_accepted(self) -> None:
        rules = [retention_data(), retention_data(purpose="reintegration_assistance")]

        assert len(Directory.model_validate(directory_data(retention=rules)).retention) == 2

    def test_one_purpose_with_every_section_is_accepted(self) -> None:
        rules = [retention_data(section=section.value) for section in SectionName]

        assert len(Directory.model_validate(directory_data(retention=rules)).retention) == 4

    @pytest.mark.parametrize("days", [0, 3650])
    def test_horizons_at_the_bounds_are_accepted(self, days: int) -> None:
        directory = Directory.model_validate(directory_data(event_horizon_days={"arrival": days}))

        assert directory.event_horizon_days == {RetentionEvent.ARRIVAL: days}

    @pytest.mark.parametrize(
        ("days", "error"), [(-1, "greater_than_equal"), (3651, "less_than_equal")]
    )
    def test_horizons_out_of_bounds_are_refused(self, days: int, error: str) -> None:
        with pytest.raises(ValidationError) as exc_info:
            Directory.model_validate(directory_data(event_horizon_days={"arrival": days}))

        assert error_types(exc_info.value) == [error]

    def test_horizon_for_an_unknown_event_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            Directory.model_validate(directory_data(event_horizon_days={"case_reopened": 10}))

        assert error_types(exc_info.value) == ["enum"]

    def test_more_than_500_rules_are_refused(self) -> None:
        rules = [retention_data()] * 501

        with pytest.raises(ValidationError) as exc_info:
            Directory.model_validate(directory_data(retention=rules))

        assert error_types(exc_info.value) == ["too_long"]


class TestDirectory:
    def test_valid_directory_is_accepted(self) -> None:
        directory = Directory.model_validate(directory_data())

        assert directory.format == DIRECTORY_FORMAT
        assert directory.suspended_countries == []

    def test_node_lookup_finds_a_listed_node(self) -> None:
        directory = Directory.model_validate(directory_data())

        node = directory.node("reception.example")

        assert node is not None
        assert node.node_id == "reception.example"

    def test_node_lookup_of_an_unlisted_node_gives_none(self) -> None:
        assert Directory.model_validate(directory_data()).node("transit.example") is None

    def test_duplicate_node_ids_are_refused(self) -> None:
        nodes = [node_data("reception.example", 1), node_data("reception.example", 3)]

        with pytest.raises(ValidationError, match="node ids must be unique"):
            Directory.model_validate(directory_data(nodes=nodes))

    def test_key_id_shared_by_two_nodes_is_refused(self) -> None:
        nodes = [node_data("host-mission.example", 1), node_data("reception.example", 2)]

        with pytest.raises(ValidationError, match="key ids must be unique"):
            Directory.model_validate(directory_data(nodes=nodes))

    def test_key_id_repeated_within_a_node_is_refused(self) -> None:
        node = node_data("reception.example", 1, encryption_keys=[key_data(1)])

        with pytest.raises(ValidationError, match="key ids must be unique"):
            Directory.model_validate(directory_data(nodes=[node]))

    def test_two_rules_for_one_role_and_purpose_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="one sharing rule per role and purpose"):
            Directory.model_validate(directory_data(sharing_policy=[rule_data(), rule_data()]))

    def test_rules_for_one_role_and_two_purposes_are_accepted(self) -> None:
        rules = [rule_data(), rule_data(purpose="child_handover")]

        assert (
            len(Directory.model_validate(directory_data(sharing_policy=rules)).sharing_policy) == 2
        )

    def test_expiry_before_issue_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="expire after it is issued"):
            Directory.model_validate(directory_data(expires_at=ISSUED - timedelta(days=1)))

    def test_expiry_at_issue_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="expire after it is issued"):
            Directory.model_validate(directory_data(expires_at=ISSUED))

    def test_serial_zero_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            Directory.model_validate(directory_data(serial=0))

        assert error_types(exc_info.value) == ["greater_than_equal"]

    def test_unknown_suspended_country_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            Directory.model_validate(directory_data(suspended_countries=["SN", "XX"]))

        assert [e["loc"] for e in exc_info.value.errors()] == [("suspended_countries", 1)]

    def test_other_format_is_refused(self) -> None:
        with pytest.raises(ValidationError) as exc_info:
            Directory.model_validate(directory_data(format="avrr-directory/2"))

        assert error_types(exc_info.value) == ["literal_error"]

    def test_directory_is_frozen(self) -> None:
        directory = Directory.model_validate(directory_data())

        with pytest.raises(ValidationError, match="frozen"):
            directory.serial = 2  # type: ignore[misc]
