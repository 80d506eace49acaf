"""Run every benchmark on SQLite and on the local PostgreSQL: what ``make bench`` calls.

Each benchmark module has ``NAME`` and ``main(argv) -> int`` accepting ``--database`` and
``--quick`` (and ``--full`` where ``HAS_FULL`` says so: the goals' sizes for benchmarks 4, 5
and 6, 1,000,000 stored rows and 100,000 expired sections, which do not fit the 15-minute
budget of a plain run); this runs them one after the other (never two at once: they would
measure each other) and stops at the first failure. Benchmarks 1 and 2 alternate ours and the
bare baseline inside their own run (``bench.harness.alternate``) and measure the physical limit
(``bench.limit``) at their start.

Example::

    python -m bench.run                       # everything, in under 15 minutes
    python -m bench.run --quick               # a smoke run
    python -m bench.run --full                # benchmarks 4, 5 and 6 at the goals' sizes
    python -m bench.run --database postgresql
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from types import ModuleType

from bench import audit, crypto, e2e, intake, purge, scale
from bench.harness import DATABASES, RESULTS, emit, stop_cleanly_on_sigterm

#: Every benchmark, in the order they run.
BENCHMARKS: list[ModuleType] = [crypto, intake, e2e, scale, purge, audit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description="Run every benchmark on both databases."
    )
    parser.add_argument("--database", choices=DATABASES, action="append")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--full", action="store_true", help="the goals' sizes for benchmarks 4, 5 and 6"
    )
    args = parser.parse_args(argv)
    stop_cleanly_on_sigterm()
    started = time.perf_counter()
    databases = args.database or list(DATABASES)
    for module in BENCHMARKS:
        run: Callable[[list[str]], int] = module.main
        sizes = ["--quick"] if args.quick else []
        if args.full and getattr(module, "HAS_FULL", False):
            sizes.append("--full")
        # A benchmark that touches no database runs once and files its figures under each.
        rounds = [databases] if getattr(module, "NO_DATABASE", False) else [[d] for d in databases]
        for names in rounds:
            emit()
            begun = time.perf_counter()
            status = run([arg for name in names for arg in ("--database", name)] + sizes)
            if status:
                return status
            emit(f"({module.NAME} on {', '.join(names)}: {time.perf_counter() - begun:.0f} s)")
    emit(f"\nall benchmarks done in {time.perf_counter() - started:.0f} s; results in {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
