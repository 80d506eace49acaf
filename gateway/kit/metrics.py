"""Counters and histograms of what this process does, for Prometheus.

Each process counts its own events (the API its requests, refusals at the inbox and receipts it
issues; the worker its deliveries and purges) in prometheus-client's process registry; the API
serves them at ``/metrics``, the worker at ``avrr worker --metrics-port``. Gauges of the state
the processes share (outbox depth, dead letters, the directory, the access log's checkpoints)
are read from the database at scrape time instead (``gateway.processes.metrics``), so several
processes never report the same thing twice.

Invariant: every label value comes from a fixed vocabulary (a message kind, a state, a refusal
rule or reason, a route template, a status code, a node id of an organisation). Never a
person's data, a case id, a packet id, a pseudonym or a raw path.

Example::

    >>> REFUSALS.labels(stage="inbox", reason="bad_signature").inc()       # doctest: +SKIP
"""

from __future__ import annotations

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

#: Seconds from a message's queueing to its verified receipt: minutes when all is well.
LATENCY_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 86400, 14 * 86400)
#: Seconds an HTTP request takes in this process.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

REFUSALS = Counter(
    "avrr_refusals",
    "Things refused, by stage (referral: the sharing decision; delivery: cancelled before "
    "sending; inbox: an envelope rejected; node_token: a caller's token refused) and reason.",
    ["stage", "reason"],
)
DELIVERY_ATTEMPTS = Counter(
    "avrr_delivery_attempts",
    "Delivery attempts by this worker, by message kind and outcome word.",
    ["kind", "outcome"],
)
DELIVERY_LATENCY = Histogram(
    "avrr_delivery_latency_seconds",
    "Seconds from queueing a message to the recipient's verified receipt, by message kind.",
    ["kind"],
    buckets=LATENCY_BUCKETS,
)
RECEIPTS = Counter(
    "avrr_receipts",
    "Signed receipts: 'verified' by the worker from a recipient, 'issued' by the inbox.",
    ["direction", "kind"],
)
PURGED = Counter(
    "avrr_purged",
    "What the purge deleted: received_sections, sent_sections, follow_up, forgotten_packets, "
    "erased_subject_keys.",
    ["what"],
)
DIRECTORY_FETCHES = Counter(
    "avrr_directory_fetches",
    "Fetches of the federation directory from the operator's URL, by outcome (installed, "
    "unchanged, older, refused, failed).",
    ["outcome"],
)
REQUESTS = Counter(
    "avrr_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "avrr_http_request_duration_seconds",
    "Seconds to answer an HTTP request, by route template.",
    ["route"],
    buckets=REQUEST_BUCKETS,
)


def process_exposition() -> bytes:
    """This process's counters and histograms in the text format, or, when uvicorn runs several
    worker processes (``PROMETHEUS_MULTIPROC_DIR`` set), all of theirs added up."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
