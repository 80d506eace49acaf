"""The published OpenAPI description against a running node: Schemathesis with every check.

Each test starts a federation of two real nodes (``tests.support.federation``), gives the node
something to find (a case with its consent and a referral delivered to the partner; for the
caseworker also a referral waiting for a second caseworker's approval and one the partner
declined; an erased person; signed checkpoints for the DPO) and runs Schemathesis's engine, as
its command line would, against the node's app and the description the app serves at
``/openapi.json``: the description's examples, the coverage phase (boundary values, each
constraint broken in turn, required parts left out, methods the path does not take), generated
requests, and stateful sequences that feed what one call answered into the next. It runs once
for each role with routes, with that role's staff token, over that role's operations; once with
no token at all over the probes and the federation routes, which must all answer 401 to a caller
without a node token; and briefly as an admin, whom every staff route must refuse (403).

Any finding fails the test: a 500, a status code, header or content type the operation does not
declare, a body that is not its declared schema, a request the schema forbids but the node
takes, or a request the schema allows but the node refuses as invalid (``_passes_validation``).

The run is repeatable and bounded for CI: a fixed seed, Hypothesis derandomised, ``CI_EXAMPLES``
generated requests per operation, and a fixed share of the coverage phase's requests, chosen by
a hash of each request, so always the same ones. The whole coverage phase tries every value of
every enum (each country and language code) and breaks every constraint of every nested field,
some ten thousand requests, more than CI's time allows. With ``AVRR_CONTRACT_EXAMPLES`` set
(``make contract``), all of it runs and that many requests are generated per operation.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
import schemathesis
from schemathesis import Case, CheckContext, Config, Response
from schemathesis.engine import events, from_schema
from schemathesis.generation import GenerationMode
from schemathesis.generation.meta import TestPhase
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER, HookContext

from gateway.records.accesslog.tree import AccessLogTree
from schemas.common import StaffRole
from tests.support import flows
from tests.support.federation import TestFederation, TestNode

#: Generated requests per operation in CI; ``make contract`` asks for many more.
CI_EXAMPLES = 8
LONG_RUN = "AVRR_CONTRACT_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("AVRR_CONTRACT_EXAMPLES", str(CI_EXAMPLES)))
#: In CI, one coverage-phase request in this many is sent: of those the schema allows (mostly
#: each value of an enum in turn), and of those it forbids (each rule broken in turn).
CI_COVERAGE_SHARE = {GenerationMode.POSITIVE: 8, GenerationMode.NEGATIVE: 2}
#: The same requests on every run: a finding in CI is a finding on a laptop.
SEED = 20261102
#: The user the runs call as: not the one who prepared the data, so a second approval can pass.
USER = "contract-run"
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Caller:
    """Who calls, on which node, and which operations (by OpenAPI tag) are theirs; or, for a
    role with none, which operations must refuse it."""

    name: str
    role: StaffRole | None
    tags: str
    on_partner: bool = False
    refused: bool = False


CALLERS = [
    Caller(
        "caseworker",
        StaffRole.CASEWORKER,
        r"^(cases|consents|referrals|access cards and corrections)$",
    ),
    Caller("partner_officer", StaffRole.PARTNER_OFFICER, r"^received referrals$", on_partner=True),
    Caller("dpo", StaffRole.DPO, r"^(statistics|data protection officer|audit .*)$"),
    Caller("no token", None, r"^(federation|operations)$"),
    # No staff route is an admin's: each must refuse the role (a few requests each suffice).
    Caller("admin", StaffRole.ADMIN, r"^(?!federation$|operations$)", refused=True),
]

#: Values of parameters that name what the node holds, for one person or one purpose.
Bundle = dict[str, str | int]


@dataclass
class Stock:
    """What the node holds, as bundles of parameter values: a request steered to a bundle names
    objects that belong together (a case and its consent), so that it gets past "not found"."""

    bundles: list[Bundle] = field(default_factory=list)
    #: Only reads are steered to these: what a write could end (a decline deletes a packet).
    for_reading: list[Bundle] = field(default_factory=list)


def _referral(pair: TestFederation, host: TestNode, partner: TestNode, **case: Any) -> Bundle:
    """A case, its consent and a referral to the partner, delivered unless it waits."""
    made = flows.create_case(host, **case)
    consent = flows.record_consent(host, made["id"], partner.node_id)
    answer = flows.post_referral(host, made["id"], partner.node_id)
    assert answer.status_code == 201, answer.text
    referral = answer.json()
    pair.deliver(host)
    return {
        "case_id": made["id"],
        "consent_id": consent["id"],
        "referral_id": referral["id"],
        "packet_id": referral["packet_id"],
    }


def _declined(pair: TestFederation, host: TestNode, partner: TestNode) -> Bundle:
    bundle = _referral(pair, host, partner)
    answer = partner.client.post(
        f"/api/v1/received/{bundle['packet_id']}/replies",
        json={"kind": "declined", "reason": "no_capacity"},
        headers=partner.auth(StaffRole.PARTNER_OFFICER),
    )
    assert answer.status_code == 201, answer.text
    pair.deliver(partner)
    return bundle


def _erased(pair: TestFederation, host: TestNode, partner: TestNode) -> Bundle:
    bundle = _referral(pair, host, partner)
    answer = host.client.post(
        f"/api/v1/dpo/erasures/{bundle['case_id']}", headers=host.auth(StaffRole.DPO)
    )
    assert answer.status_code == 201, answer.text
    pair.deliver(host)  # the revocation: the partner deletes what it held
    return bundle


def _checkpoints(host: TestNode) -> Bundle:
    """Two signed checkpoints, as a consistency proof names them."""
    node = host.client.app.state.node  # type: ignore[attr-defined]
    tree = AccessLogTree(node=node, sessions=host.sessions)
    sizes = []
    for _ in range(2):
        flows.create_case(host)
        tree.sequence()
        row = tree.checkpoint()
        assert row is not None
        sizes.append(row.size)
        host.clock.advance(minutes=1)
    return {"old": sizes[0], "new": sizes[1]}


def _stock(caller: Caller, pair: TestFederation, host: TestNode, partner: TestNode) -> Stock:
    if caller.role is None:
        return Stock()
    live = _referral(pair, host, partner)
    if caller.refused:
        return Stock([live])
    erased = _erased(pair, host, partner)
    if caller.role is StaffRole.PARTNER_OFFICER:
        return Stock([live, erased], for_reading=[_referral(pair, host, partner)])
    if caller.role is StaffRole.DPO:
        return Stock([live, erased, _checkpoints(host)])
    # About a victim of trafficking: it waits for a second caseworker, the run's user.
    awaiting = _referral(pair, host, partner, vulnerability_flags=["victim_of_trafficking"])
    return Stock([live, awaiting, _declined(pair, host, partner), erased])


def _number(*parts: object) -> int:
    text = json.dumps(parts, sort_keys=True, default=repr)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def _same_kind(generated: object, held: str | int) -> bool:
    """Whether a generated value may be swapped for a held one: a well-formed id for an id, a
    number for a number; a malformed value stays, as it is there to be refused."""
    if isinstance(held, str):
        return isinstance(generated, str) and bool(_HEX_ID.match(generated))
    return isinstance(generated, int) and not isinstance(generated, bool)


def _steer(stock: Stock, case: Case[Any]) -> None:
    """Four requests in five name a bundle of what the node holds instead of what was generated.
    The choice is a hash of the request, so the same run steers the same way."""
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    number = _number(case.method, case.path, case.path_parameters, case.query, headers, case.body)
    bundles = stock.bundles + (stock.for_reading if case.method.upper() == "GET" else [])
    if not bundles or number % 5 == 0:
        return
    bundle = bundles[number // 5 % len(bundles)]
    places: list[Any] = [case.path_parameters, case.query]
    if isinstance(case.body, dict) and "case_id" in case.body:
        places.append(case.body)
    for place in places:
        if isinstance(place, dict):
            for name, value in place.items():
                if name in bundle and _same_kind(value, bundle[name]):
                    place[name] = bundle[name]


def _keep_rules_stated_in_words(body: dict[str, Any]) -> None:
    """Three rules the description states only in words: a date of birth is not in the future
    and a consent's ``valid_until`` comes after its ``valid_from`` (a JSON Schema compares a
    value neither with today nor with another field), and a consent's ``fields`` name only
    sections it names (too many combinations for a generator). A generated request is made to
    keep them, touching only values that are well formed, so that it tests everything else."""
    today = datetime.now(UTC).date()
    content = body.get("content")
    travel = content.get("travel") if isinstance(content, dict) else None
    for holder, name in ((body, "date_of_birth"), (travel, "traveller_date_of_birth")):
        if isinstance(holder, dict):
            born = _parsed(holder.get(name), date.fromisoformat)
            if isinstance(born, date) and born > today:
                holder[name] = "2000-01-01"
    fields, sections = body.get("fields"), body.get("sections")
    if isinstance(fields, dict) and isinstance(sections, list):
        for name in [name for name in fields if name not in sections]:
            del fields[name]
    start = _parsed(body.get("valid_from"), datetime.fromisoformat)
    end = _parsed(body.get("valid_until"), datetime.fromisoformat)
    if (
        isinstance(start, datetime)
        and isinstance(end, datetime)
        and start.tzinfo is not None
        and end.tzinfo is not None
        and end <= start
    ):
        body["valid_until"] = None


def _parsed(value: object, parse: Any) -> object:
    if not isinstance(value, str):
        return None
    try:
        return parse(value)
    except ValueError:
        return None


def _in_ci_share(context: HookContext, case: Case[Any]) -> bool:
    """Whether CI sends this coverage-phase request (every other phase's, always)."""
    del context
    meta = case.meta
    if meta is None or meta.phase.name is not TestPhase.COVERAGE:
        return True
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    number = _number(case.method, case.path, case.path_parameters, case.query, headers, case.body)
    return number % CI_COVERAGE_SHARE.get(meta.generation.mode, 1) == 0


@contextmanager
def _hooks(stock: Stock) -> Iterator[None]:
    """Schemathesis's hooks for one run: requests steered to what the node holds and made to keep
    the rules stated in words; in CI, the coverage phase's share."""

    def before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
        del context, kwargs
        if isinstance(case.body, dict):
            _keep_rules_stated_in_words(case.body)
        # A stateful step's ids come from what the calls before it answered.
        if case.meta is None or case.meta.phase.name is not TestPhase.STATEFUL:
            _steer(stock, case)

    hooks: list[tuple[Any, str]] = [(before_call, "before_call")]
    if not LONG_RUN:
        hooks.append((_in_ci_share, "filter_case"))
    for hook, name in hooks:
        GLOBAL_HOOK_DISPATCHER.register_hook_with_name(hook, name)
    try:
        yield
    finally:
        for hook, _ in hooks:
            GLOBAL_HOOK_DISPATCHER.unregister(hook)


@schemathesis.check
def _passes_validation(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A request the schema allows is never refused as invalid.

    The node may refuse it for what the schema cannot know (no such case, no consent to
    withdraw, a checkpoint size it never signed): 404, 409, 410 and 422 ``unprocessable``,
    ``sharing_refused`` or ``nothing_to_send``. But ``invalid_request`` (or a 400) says that the
    request broke a rule, and every rule the node checks a request's shape by is in the schema.
    """
    del ctx
    meta = case.meta
    if meta is None or meta.generation.mode is not GenerationMode.POSITIVE:
        return None
    if response.status_code == 400:
        raise AssertionError("a request the schema allows was answered 400")
    if response.status_code == 422:
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("error") == "invalid_request":
            raise AssertionError(
                "a request the schema allows was refused as invalid_request: "
                + json.dumps(body.get("detail"))[:600]
            )
    return None


def _config(token: str | None, *, refused: bool = False) -> Config:
    config: dict[str, Any] = {
        "seed": SEED,
        "continue-on-failure": True,
        "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
        "checks": {
            "enabled": True,
            # What the schema cannot know is answered 404, 409, 410 or 422 `unprocessable`;
            # `_passes_validation` holds the line on `invalid_request`.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "410", "422"]
            },
        },
        "phases": {"stateful": {"max-steps": 50 if LONG_RUN else 16}},
    }
    if refused:
        config["generation"]["max-examples"] = 2
        config["phases"] = {"coverage": {"enabled": False}, "stateful": {"enabled": False}}
    if token is not None:
        config["headers"] = {"Authorization": f"Bearer {token}"}
    return Config.from_dict(config)


@dataclass
class Run:
    """What one run sent and found."""

    requests: int = 0
    phases: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    _seen: set[tuple[str, str, str]] = field(default_factory=set)

    def find(self, key: tuple[str, str, str], text: str) -> None:
        if key not in self._seen:
            self._seen.add(key)
            self.findings.append(text)

    def answered(self, label: str) -> Counter[int]:
        return self.statuses.setdefault(label, Counter())


def _describe(case: Case[Any], response: Response | None) -> str:
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    body = case.body if isinstance(case.body, dict | list | str | int | float | bool) else None
    lines = [
        f"    {case.method.upper()} {case.formatted_path} query={case.query} headers={headers}",
        f"    body={json.dumps(body, default=str)[:400]}",
    ]
    if response is not None:
        lines.append(f"    -> {response.status_code} {response.content[:400]!r}")
    return "\n".join(lines)


def _record(event: events.ScenarioFinished, run: Run) -> None:
    recorder = event.recorder
    run.requests += len(recorder.interactions)
    run.phases[event.phase.value] += len(recorder.interactions)
    for case_id, interaction in recorder.interactions.items():
        if interaction.response is not None:
            label = recorder.cases[case_id].value.operation.label
            run.answered(label)[interaction.response.status_code] += 1
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            case = recorder.cases[case_id].value
            sent = recorder.interactions.get(case_id)
            response = sent.response if sent is not None else None
            label = case.operation.label
            run.find(
                (label, check.name, failure.title),
                f"{label}: {check.name}: {failure.title}\n    {failure.message.strip()[:600]}\n"
                + _describe(case, response),
            )


def _run(app: Any, token: str | None, caller: Caller) -> Run:
    config = _config(token, refused=caller.refused)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    run = Run()
    for event in from_schema(schema.include(tag_regex=caller.tags)).execute():
        if isinstance(event, events.ScenarioFinished):
            _record(event, run)
        elif isinstance(event, events.NonFatalError):
            text = f"{event.label}: {event.info.title}\n    {str(event.info).strip()[:1500]}"
            run.find(("error", event.label, ""), text)
        elif isinstance(event, events.FatalError):
            run.find(("fatal", "", ""), f"fatal: {event.exception!r}")
    return run


@pytest.mark.parametrize("caller", CALLERS, ids=[c.name for c in CALLERS])
def test_the_node_keeps_its_published_contract(
    pair: TestFederation,
    host: TestNode,
    partner: TestNode,
    caller: Caller,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stock = _stock(caller, pair, host, partner)
    node = partner if caller.on_partner else host
    token = node.token(caller.role, user=USER) if caller.role is not None else None
    with _hooks(stock):
        run = _run(node.client.app, token, caller)
    if LONG_RUN:
        with capsys.disabled():
            # What the long run did, for docs/api.md and the people reading the make output.
            print(f"\n{caller.name}: {run.requests} requests {dict(run.phases)}")  # noqa: T201
    if run.findings:
        pytest.fail(
            f"{len(run.findings)} findings in {run.requests} requests as {caller.name}:\n"
            + "\n".join(run.findings),
            pytrace=False,
        )
    if caller.refused:
        for label, statuses in run.statuses.items():
            # 403 to the role; 422 for a request refused before anyone is asked who calls;
            # 401 for the requests sent without the token; 405 for a method the path lacks.
            assert statuses[403], (label, statuses)
            assert set(statuses) <= {401, 403, 405, 422}, (label, statuses)
    elif caller.role is None:
        federation = {k: v for k, v in run.statuses.items() if "/federation/" in k}
        assert len(federation) == 4, run.statuses
        for label, statuses in federation.items():
            # 405 for the methods the path does not take; anything else is answered 401.
            assert statuses[401], (label, statuses)
            assert set(statuses) <= {401, 405}, (label, statuses)
    else:
        # The stock is found: some read of one object answers 200.
        found = [k for k, v in run.statuses.items() if k.startswith("GET") and "{" in k and v[200]]
        assert found, run.statuses
