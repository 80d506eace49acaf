"""The soak: two nodes at half their measured capacity for half an hour, sampled every minute.

What runs (``bench.campaign``): a host mission and a reception partner set up with ``avrr``
commands, each with its API (``avrr serve``) and its worker (``avrr worker``) in a process of its
own, with the product's default settings, on SQLite files or PostgreSQL databases. Nothing is
killed.

The load is an *arrival*: what a caseworker does for one person, three requests one after the
other (record the case, its consent, and a referral to the partner); the worker then delivers
the referral and the partner receipts it.

1. Capacity, closed loop: ``CLIENTS`` clients send arrivals back to back for ``--burst``
   seconds; the capacity is the arrivals of the burst over the time from its start until the
   last of their referrals is receipted (so delivery, not only intake, has to keep up).
   ``--rate`` skips this and takes the rate given.
2. The soak, open loop: arrivals are scheduled at ``--capacity-fraction`` of the capacity (half
   by default), each at its own time, whatever the answers to the earlier ones; a pool of
   threads sends each when it falls due. An arrival's latency runs from its scheduled time to
   the answer to its referral, so a slow server makes the next ones late too, as real staff
   would find it (no coordinated omission).
3. Every minute: each member's resident memory (``VmRSS``) and open file descriptors, from
   ``/proc``; the arrivals answered that minute, their p50 and p99, the errors; the referrals
   receipted that minute and their delivery latency (queued to receipt verified); both outbox
   depths.

The verdict, *flat*, holds when all of these do (``judge``; the thirds leave the first minute
out as warm-up):

- no errors: every request answered 2xx, no member restarted or stopped;
- memory: for each member, the mean RSS of the last third of the minutes is at most 10% above
  the mean of the first third;
- open files: for each member, the most descriptors in the last third is at most 5 above the
  most in the first third;
- latency: the mean per-minute p99 of the last third is at most 1.5 times that of the first
  third (plus 20 ms, a floor for noise on a shared machine);
- the worker keeps up: the host's outbox never holds more than 10 seconds of arrivals (at least
  50) in the last third, and the referrals receipted over the run are within 1% of those sent.

    python -m bench.soak --minutes 30 --database postgresql
    python -m bench.soak --minutes 2 --rate 5 --database sqlite
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.campaign import (
    Cluster,
    case_body,
    consent_body,
    database_kind,
    open_fds,
    referral_body,
    rss_kib,
)
from bench.harness import (
    emit,
    machine,
    merge_results,
    percentile,
    source,
    stop_cleanly_on_sigterm,
    table,
)
from gateway.exchange.outbox.models import DeliveryReceiptRow, OutboxRow

NAME = "soak"
CLIENTS = 4
BURST_SECONDS = 30.0
#: Threads that send the scheduled arrivals (enough that none waits for a free one at half
#: capacity, unless the server has stalled).
SENDERS = 32
SAMPLE_SECONDS = 60.0
#: The margins of the verdict (see the module docstring).
RSS_MARGIN = 0.10
FD_MARGIN = 5
P99_FACTOR, P99_FLOOR_MS = 1.5, 20.0
BACKLOG_SECONDS, BACKLOG_FLOOR = 10.0, 50
DELIVERED_SHARE = 0.99


# -- one arrival ------------------------------------------------------------------------------


@dataclass
class Arrival:
    """One person recorded and referred: when it was due, when its referral was answered."""

    due: float
    done: float = 0.0
    error: str | None = None

    @property
    def latency(self) -> float:
        return self.done - self.due


def arrive(http: httpx.Client, cluster: Cluster, due: float) -> Arrival:
    """Record a case, its consent and a referral; no retry (nothing is killed in a soak)."""
    arrival = Arrival(due=due)
    headers = cluster.caseworker()
    base = cluster.host_url
    try:
        case = http.post(f"{base}/api/v1/cases", json=case_body(), headers=headers)
        case.raise_for_status()
        case_id = case.json()["id"]
        consent = http.post(
            f"{base}/api/v1/cases/{case_id}/consents", json=consent_body(), headers=headers
        )
        consent.raise_for_status()
        referral = http.post(
            f"{base}/api/v1/referrals", json=referral_body(case_id), headers=headers
        )
        referral.raise_for_status()
    except httpx.HTTPStatusError as exc:
        arrival.error = f"{exc.request.url.path.split('/')[3]} {exc.response.status_code}"
    except httpx.HTTPError as exc:
        arrival.error = type(exc).__name__
    arrival.done = time.monotonic()
    return arrival


def _client() -> httpx.Client:
    return httpx.Client(timeout=60.0, limits=httpx.Limits(max_connections=SENDERS))


# -- capacity ---------------------------------------------------------------------------------


def receipted(cluster: Cluster) -> int:
    """Referrals the host holds a verified receipt for."""
    with cluster.engine(cluster.host).connect() as conn:
        count = conn.scalar(
            select(func.count())
            .select_from(DeliveryReceiptRow)
            .join(OutboxRow, OutboxRow.id == DeliveryReceiptRow.outbox_id)
            .where(OutboxRow.kind == "referral")
        )
    return int(count or 0)


def capacity(cluster: Cluster, seconds: float, log: Callable[[str], None]) -> dict[str, float]:
    """Arrivals per second, end to end, from a closed-loop burst (see the module docstring)."""
    before = receipted(cluster)
    stop = threading.Event()
    arrivals: list[Arrival] = []

    def loop() -> None:
        with _client() as http:
            while not stop.is_set():
                arrivals.append(arrive(http, cluster, time.monotonic()))

    start = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        for _ in range(CLIENTS):
            pool.submit(loop)
        time.sleep(seconds)
        stop.set()
    intake = time.monotonic() - start
    sent = sum(a.error is None for a in arrivals)
    while receipted(cluster) < before + sent:
        if time.monotonic() - start > seconds * 20:
            raise TimeoutError("the burst's referrals were not all delivered")
        time.sleep(0.2)
    total = time.monotonic() - start
    errors = len(arrivals) - sent
    log(
        f"burst: {sent} arrivals in {intake:.1f} s ({sent / intake:.1f}/s intake), all receipted "
        f"after {total:.1f} s: capacity {sent / total:.2f} arrivals/s; {errors} errors"
    )
    return {
        "arrivals": sent,
        "errors": errors,
        "intake_per_s": round(sent / intake, 3),
        "per_s": round(sent / total, 3),
    }


# -- the soak ---------------------------------------------------------------------------------


@dataclass
class Minute:
    """One row of the table: what one minute of the soak looked like at its end."""

    minute: int
    arrivals: int
    errors: int
    p50_ms: float
    p99_ms: float
    delivered: int
    delivery_p50_ms: float
    delivery_p99_ms: float
    host_outbox: int
    partner_outbox: int
    rss_mib: dict[str, float] = field(default_factory=dict)
    fds: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    #: The tail after the last full minute: counted in the totals, left out of the thirds.
    partial: bool = False


def deliveries(cluster: Cluster, since: datetime, until: datetime) -> list[float]:
    """Seconds from queued to receipt verified, of referrals receipted in ``[since, until)``."""
    with cluster.engine(cluster.host).connect() as conn:
        rows = conn.execute(
            select(OutboxRow.created_at, DeliveryReceiptRow.verified_at)
            .join(DeliveryReceiptRow, OutboxRow.id == DeliveryReceiptRow.outbox_id)
            .where(
                OutboxRow.kind == "referral",
                DeliveryReceiptRow.verified_at >= since,
                DeliveryReceiptRow.verified_at < until,
            )
        ).all()
    return [(verified - created).total_seconds() for created, verified in rows]


def _ms(samples: Sequence[float], q: float) -> float:
    return round(percentile(samples, q) * 1000, 1) if samples else 0.0


def sample(
    cluster: Cluster, number: int, answered: Sequence[Arrival], since: datetime, until: datetime
) -> Minute:
    latencies = [a.latency for a in answered if a.error is None]
    delivered = deliveries(cluster, since, until)
    minute = Minute(
        minute=number,
        arrivals=len(answered),
        errors=sum(a.error is not None for a in answered),
        p50_ms=_ms(latencies, 50),
        p99_ms=_ms(latencies, 99),
        delivered=len(delivered),
        delivery_p50_ms=_ms(delivered, 50),
        delivery_p99_ms=_ms(delivered, 99),
        host_outbox=cluster.outbox_depth(cluster.host),
        partner_outbox=cluster.outbox_depth(cluster.partner),
    )
    for name, member in cluster.members.items():
        minute.pids[name] = member.pid if member.alive() else -1
        if member.alive():
            minute.rss_mib[name] = round(rss_kib(member.pid) / 1024, 1)
            minute.fds[name] = open_fds(member.pid)
    return minute


class OpenLoop:
    """Arrivals at ``rate`` per second, each sent when it falls due, answered or not."""

    def __init__(self, cluster: Cluster, rate: float) -> None:
        self._cluster = cluster
        self._rate = rate
        self._answered: list[Arrival] = []
        self._lock = threading.Lock()
        self.scheduled = 0
        self.late_starts = 0

    def take(self) -> list[Arrival]:
        """The arrivals answered since the last call."""
        with self._lock:
            answered, self._answered = self._answered, []
        return answered

    def run(self, seconds: float, stop: threading.Event) -> None:
        local = threading.local()

        def send(due: float) -> None:
            if not hasattr(local, "http"):
                local.http = _client()
            if time.monotonic() - due > 1.0:
                self.late_starts += 1  # every sender was busy: the server has stalled
            arrival = arrive(local.http, self._cluster, due)
            with self._lock:
                self._answered.append(arrival)

        start = time.monotonic()
        with ThreadPoolExecutor(SENDERS, thread_name_prefix="arrival") as pool:
            while not stop.is_set():
                due = start + self.scheduled / self._rate
                if due - start >= seconds:
                    break
                wait = due - time.monotonic()
                if wait > 0 and stop.wait(wait):
                    break
                pool.submit(send, due)
                self.scheduled += 1


@dataclass
class Soak:
    database: str
    rate: float
    capacity: dict[str, float]
    minutes: list[Minute]
    verdict: dict[str, Any]
    seconds: dict[str, float]
    late_starts: int


def run_soak(
    database: str,
    *,
    minutes: float,
    rate: float | None,
    fraction: float,
    burst: float = BURST_SECONDS,
    log: Callable[[str], None] = emit,
) -> Soak:
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="avrr-soak-") as scratch,
        Cluster.running(Path(scratch), database, settings={}) as cluster,
    ):
        ready = time.monotonic()
        log(f"nodes up in {ready - started:.0f} s")
        measured = capacity(cluster, burst, log) if rate is None else {}
        target = rate if rate is not None else measured["per_s"] * fraction
        log(f"soak: {target:.2f} arrivals/s for {minutes:g} minutes, open loop")
        log(_header())
        loop, stop = OpenLoop(cluster, target), threading.Event()
        sender = threading.Thread(target=loop.run, args=(minutes * 60, stop), name="open-loop")
        rows: list[Minute] = []
        since = datetime.now(UTC)
        soak_start = time.monotonic()
        sender.start()
        try:
            while sender.is_alive():
                next_at = soak_start + SAMPLE_SECONDS * (len(rows) + 1)
                sender.join(timeout=max(0.0, next_at - time.monotonic()))
                if time.monotonic() < next_at - 1.0:
                    break  # every arrival answered before the minute was over: see the tail
                until = datetime.now(UTC)
                rows.append(sample(cluster, len(rows) + 1, loop.take(), since, until))
                since = until
                log(_row(rows[-1]))
        finally:
            stop.set()
            sender.join()
        soaked = time.monotonic()
        # The tail: the last arrivals' referrals delivered, then what the minutes did not see.
        end = time.monotonic() + SAMPLE_SECONDS
        while cluster.outbox_depth(cluster.host) and time.monotonic() < end:
            time.sleep(1.0)
        tail = sample(cluster, len(rows) + 1, loop.take(), since, datetime.now(UTC))
        tail.partial = True
        rows.append(tail)
        log(_row(tail) + "  (tail, not judged)")
    return Soak(
        database=database_kind(database),
        rate=round(target, 3),
        capacity=measured,
        minutes=rows,
        verdict=judge(rows, target, loop.scheduled),
        seconds={
            "setup": round(ready - started, 1),
            "soak": round(soaked - soak_start, 1),
            "total": round(time.monotonic() - started, 1),
        },
        late_starts=loop.late_starts,
    )


def _answered(rows: Sequence[Minute]) -> int:
    return sum(row.arrivals for row in rows)


# -- the verdict ------------------------------------------------------------------------------


def _thirds(rows: Sequence[Minute]) -> tuple[Sequence[Minute], Sequence[Minute]]:
    """The first and the last third of the minutes; from four minutes on, the first minute is
    left out, as warm-up (it starts right after the burst, with caches still filling)."""
    if len(rows) >= 4:
        rows = rows[1:]
    third = max(1, len(rows) // 3)
    return rows[:third], rows[-third:]


def judge(rows: Sequence[Minute], rate: float, scheduled: int) -> dict[str, Any]:
    """Whether the run was flat, by the rules of the module docstring, rule by rule."""
    first, last = _thirds([row for row in rows if not row.partial])
    rules: dict[str, bool] = {}
    notes: list[str] = []
    errors = sum(row.errors for row in rows)
    restarted = {
        name for row in rows for name, pid in row.pids.items() if pid != rows[0].pids[name]
    }
    rules["no errors"] = errors == 0 and not restarted and _answered(rows) == scheduled
    notes.append(
        f"{errors} errors, {scheduled - _answered(rows)} unanswered, restarted: "
        f"{sorted(restarted) or 'none'}"
    )
    for name in rows[0].rss_mib:
        early = statistics.mean(row.rss_mib.get(name, 0.0) for row in first)
        late = statistics.mean(row.rss_mib.get(name, 0.0) for row in last)
        rules[f"{name} memory"] = late <= early * (1 + RSS_MARGIN)
        notes.append(f"{name} RSS {early:.1f} -> {late:.1f} MiB ({late / early - 1:+.1%})")
        most_early = max(row.fds.get(name, 0) for row in first)
        most_late = max(row.fds.get(name, 0) for row in last)
        rules[f"{name} open files"] = most_late <= most_early + FD_MARGIN
        notes.append(f"{name} fds {most_early} -> {most_late}")
    early_p99 = statistics.mean(row.p99_ms for row in first)
    late_p99 = statistics.mean(row.p99_ms for row in last)
    rules["p99"] = late_p99 <= early_p99 * P99_FACTOR + P99_FLOOR_MS
    notes.append(f"p99 {early_p99:.0f} -> {late_p99:.0f} ms")
    backlog = max(row.host_outbox for row in last)
    rules["worker keeps up"] = backlog <= max(BACKLOG_FLOOR, rate * BACKLOG_SECONDS) and sum(
        row.delivered for row in rows
    ) >= DELIVERED_SHARE * (scheduled - errors)
    notes.append(
        f"host outbox at most {backlog} in the last third; "
        f"{sum(row.delivered for row in rows)} receipted of {scheduled - errors} sent"
    )
    return {"flat": all(rules.values()), "rules": rules, "notes": notes}


# -- the report -------------------------------------------------------------------------------

_MEMBERS = ("host-api", "host-worker", "partner-api", "partner-worker")


def _header() -> str:
    names = " ".join(f"{n:>14}" for n in _MEMBERS)
    return (
        f"min  arrivals err   p50 ms   p99 ms  delivered dlv p99 ms  outbox  RSS MiB / fds: {names}"
    )


def _row(row: Minute) -> str:
    members = " ".join(f"{row.rss_mib.get(n, 0.0):>8.1f}/{row.fds.get(n, 0):<5d}" for n in _MEMBERS)
    return (
        f"{row.minute:>3}  {row.arrivals:>8} {row.errors:>3} {row.p50_ms:>8.0f} {row.p99_ms:>8.0f} "
        f"{row.delivered:>10} {row.delivery_p99_ms:>10.0f} {row.host_outbox:>7}  {members}"
    )


def report(soak: Soak) -> str:
    first, last = _thirds([row for row in soak.minutes if not row.partial])
    summary = []
    for name, rows in (("first third", first), ("last third", last)):
        summary.append(
            [
                name,
                f"{statistics.mean(r.arrivals for r in rows) / 60:.2f}",
                f"{statistics.mean(r.p50_ms for r in rows):.0f}",
                f"{statistics.mean(r.p99_ms for r in rows):.0f}",
                *(f"{statistics.mean(r.rss_mib.get(n, 0.0) for r in rows):.1f}" for n in _MEMBERS),
                *(str(max(r.fds.get(n, 0) for r in rows)) for n in _MEMBERS),
            ]
        )
    lines = [
        f"soak on {soak.database}: {soak.rate:.2f} arrivals/s "
        f"(capacity {soak.capacity.get('per_s', 'not measured')}), "
        f"{sum(not row.partial for row in soak.minutes)} minutes",
        "",
        table(
            [
                "minutes",
                "per s",
                "p50 ms",
                "p99 ms",
                *(f"{n} MiB" for n in _MEMBERS),
                *(f"{n} fds" for n in _MEMBERS),
            ],
            summary,
        ),
        "",
        *(f"  {note}" for note in soak.verdict["notes"]),
        *(f"  {rule}: {'ok' if ok else 'NOT MET'}" for rule, ok in soak.verdict["rules"].items()),
        f"arrivals started over a second late (every sender busy): {soak.late_starts}",
        f"run time: {soak.seconds}",
        "soak: FLAT" if soak.verdict["flat"] else "soak: NOT FLAT",
    ]
    return "\n".join(lines)


def as_record(soak: Soak) -> dict[str, Any]:
    return {
        "rate": soak.rate,
        "capacity": soak.capacity,
        "minutes": [asdict(row) for row in soak.minutes],
        "verdict": soak.verdict,
        "late_starts": soak.late_starts,
        "seconds": soak.seconds,
        "machine": machine(),
        "source": source(),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the soak (30)")
    parser.add_argument("--database", default="sqlite", help="sqlite, postgresql or an admin URL")
    load = parser.add_mutually_exclusive_group()
    load.add_argument("--rate", type=float, default=None, help="arrivals per second, as given")
    load.add_argument(
        "--capacity-fraction",
        type=float,
        default=0.5,
        help="of the capacity measured first (0.5)",
    )
    parser.add_argument("--burst", type=float, default=BURST_SECONDS, help="seconds of the burst")
    parser.add_argument("--json", type=Path, default=None, help="also write the record here")
    args = parser.parse_args(argv)
    stop_cleanly_on_sigterm()
    soak = run_soak(
        args.database,
        minutes=args.minutes,
        rate=args.rate,
        fraction=args.capacity_fraction,
        burst=args.burst,
    )
    emit(report(soak))
    record = as_record(soak)
    merge_results(NAME, database_kind(args.database), record)
    if args.json is not None:
        args.json.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 0 if soak.verdict["flat"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
