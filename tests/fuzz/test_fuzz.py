"""Each fuzzing harness, run for a bounded budget: nothing but the documented refusal escapes.

Every test run fuzzes each harness for a fixed number of inputs from a fixed libFuzzer seed, two
harnesses at a time (about 30 s of CPU in all, so 15 to 50 s on two cores as other work allows,
each harness cut at 40 s), so CI stays bounded and a failure can be replayed.
``AVRR_FUZZ_SECONDS`` gives each harness that many seconds instead (``make fuzz``). Every corpus,
dictionary and crash file is written under pytest's temporary folder; a failure names the
crashing input's file and shows libFuzzer's report.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Inputs per harness in a bounded run: a few seconds of one core each after a start-up of about
#: four (the envelope and directory harnesses sign or seal most inputs, so they run fewer).
RUNS = {"envelope": 3000, "node_token": 15000, "directory": 3000, "bundle": 6000}
#: The bounded run's libFuzzer seed: the same inputs every time.
SEED = 1
#: Seconds one input may take before libFuzzer calls it a hang (a crash too).
INPUT_TIMEOUT = 10
#: A bounded run gives up after this long even if its inputs are not all done (a slow machine).
BOUNDED_SECONDS = 40


@dataclass(frozen=True)
class Outcome:
    name: str
    returncode: int
    output: str
    artifacts: Path

    def stat(self, name: str) -> int:
        found = re.search(rf"stat::{name}:\s+(\d+)", self.output)
        return int(found.group(1)) if found else 0

    def crash_files(self) -> list[str]:
        return re.findall(r"Test unit written to (\S+)", self.output)


def _seconds() -> int | None:
    value = os.environ.get("AVRR_FUZZ_SECONDS")
    return int(value) if value else None


def _campaign(name: str, work: Path) -> Outcome:
    seconds = _seconds()
    budget = (
        [f"-max_total_time={seconds}"]
        if seconds
        else [
            f"-runs={RUNS[name]}",
            f"-max_total_time={BOUNDED_SECONDS}",
        ]
    )
    artifacts = work / name / "artifacts"
    artifacts.mkdir(parents=True)
    command = [
        sys.executable,
        "-m",
        f"tests.fuzz.{name}",
        *budget,
        f"-seed={SEED}",
        f"-timeout={INPUT_TIMEOUT}",
        "-print_final_stats=1",
        f"-artifact_prefix={artifacts}/",
    ]
    # A fixed hash seed, so set and dict order (and with it coverage) do not vary between runs.
    environment = {**os.environ, "AVRR_FUZZ_DIR": str(work), "PYTHONHASHSEED": "0"}
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=(seconds or BOUNDED_SECONDS) + 120,
        check=False,
    )
    return Outcome(name, result.returncode, result.stdout + result.stderr, artifacts)


@pytest.fixture(scope="module")
def campaigns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[Outcome]]]:
    """All four harnesses, started together, at most one per core at a time."""
    work = tmp_path_factory.mktemp("fuzz")
    with ThreadPoolExecutor(max_workers=min(len(RUNS), os.cpu_count() or 1)) as pool:
        yield {name: pool.submit(_campaign, name, work) for name in RUNS}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_harness_lets_out_only_the_documented_refusal(
    campaigns: dict[str, Future[Outcome]], name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = campaigns[name].result()
    if outcome.returncode != 0:
        report = outcome.output[-6000:]
        crashes = ", ".join(outcome.crash_files()) or f"none written (see {outcome.artifacts})"
        pytest.fail(
            f"{name}: libFuzzer stopped with {outcome.returncode}; crashing input: {crashes}\n"
            f"replay: python -m tests.fuzz.{name} <that file>\n{report}",
            pytrace=False,
        )
    executed = outcome.stat("number_of_executed_units")
    assert executed > 0, outcome.output[-3000:]
    if _seconds():
        with capsys.disabled():
            sys.stdout.write(
                f"\n{name}: {executed} inputs, {outcome.stat('average_exec_per_sec')}/s, "
                f"{outcome.stat('new_units_added')} new in the corpus\n"
            )
