"""Statistics that cannot single anyone out: primary and secondary suppression, checked by
trying to work each hidden cell out from its line's total."""

from __future__ import annotations

from collections import Counter
from datetime import date
from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.processes.statistics import (
    ALL,
    TOTAL,
    Observation,
    Table,
    age_band,
    latest,
    recoverable,
    score_band,
    table,
)

ROWS = [("SN", "3"), ("SN", "6"), ("ML", "3")]
COLUMNS = ["a", "b", "c"]


def counts(values: dict[tuple[int, int], int]) -> Counter[tuple[tuple[str, ...], str]]:
    return Counter({(ROWS[r], COLUMNS[c]): n for (r, c), n in values.items()})


def hidden(built: Table) -> set[tuple[tuple[str, ...], str]]:
    return {key for key, value in built.values.items() if value is None}


class TestSuppression:
    def test_cells_under_the_minimum_are_hidden_and_zeros_shown(self) -> None:
        built = table(
            counts({(0, 0): 3, (0, 1): 12, (1, 0): 20, (1, 1): 15, (2, 2): 40}),
            ROWS,
            COLUMNS,
            10,
            2,
        )

        assert (ROWS[0], "a") in hidden(built)
        assert built.values[(ROWS[2], "c")] == 40
        assert built.values[(ROWS[1], "c")] == 0

    def test_a_lone_hidden_cell_gets_a_companion_in_its_row_and_column(self) -> None:
        # Without secondary suppression, the 3 would be 15 - 12 from its row's total.
        built = table(
            counts({(0, 0): 3, (0, 1): 12, (1, 0): 20, (1, 1): 15, (2, 2): 40}),
            ROWS,
            COLUMNS,
            10,
            2,
        )

        assert recoverable(built) == []
        assert len({k for k in hidden(built) if k[0] == ROWS[0]}) >= 2

    def test_without_the_second_step_a_hidden_cell_could_be_recomputed(self) -> None:
        # The check itself fails on a table that hides only the small cell: it can find it.
        full = table(
            counts({(0, 0): 3, (0, 1): 12, (1, 0): 20, (1, 1): 15, (2, 2): 40}),
            ROWS,
            COLUMNS,
            10,
            2,
        )
        only_primary = Table(
            rows=full.rows,
            columns=full.columns,
            values={
                key: (
                    None
                    if key == (ROWS[0], "a")
                    else (full.values[key] if full.values[key] is not None else 0)
                )
                for key in full.values
            },
        )

        assert recoverable(only_primary) == [(ROWS[0], "a"), (ROWS[0], "a")]

    def test_margins_are_hidden_too_when_small(self) -> None:
        built = table(counts({(0, 0): 4}), ROWS, COLUMNS, 10, 2)

        assert built.values[(ROWS[0], TOTAL)] is None
        assert recoverable(built) == []

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.integers(min_value=0, max_value=30), min_size=9, max_size=9))
    def test_no_hidden_value_is_ever_alone_in_its_line(self, numbers: list[int]) -> None:
        values = dict(zip(product(range(3), range(3)), numbers, strict=True))
        built = table(counts(values), ROWS, COLUMNS, 10, 2)

        assert recoverable(built) == []
        # No value between 1 and 9 is ever shown.
        assert all(value is None or value == 0 or value >= 10 for value in built.values.values())


class TestPeopleNotRounds:
    def test_a_total_over_rounds_of_too_few_people_is_hidden_however_many_rounds(self) -> None:
        # Five people in column a and five others in column b, each monitored at 3 and at 6
        # months in SN: their totals over rounds count 10 rounds but only five people.
        five_a = {f"a{i}" for i in range(5)}
        five_b = {f"b{i}" for i in range(5)}
        members = {
            (ROWS[0], "a"): five_a,
            (ROWS[1], "a"): five_a,
            (ROWS[0], "b"): five_b,
            (ROWS[1], "b"): five_b,
            **{(row, "c"): {f"c{n}{i}" for i in range(20)} for n, row in enumerate(ROWS)},
        }
        rounds = Counter({key: len(who) for key, who in members.items()})

        counted_as_rounds = table(rounds, ROWS, COLUMNS, 10, 2)
        counted_as_people = table(rounds, ROWS, COLUMNS, 10, 2, members)

        total = (ALL, ALL)
        assert [counted_as_rounds.values[(total, c)] for c in COLUMNS] == [10, 10, 60]
        assert [counted_as_people.values[(total, c)] for c in COLUMNS] == [None, None, 60]
        assert recoverable(counted_as_people) == []

    def test_each_person_and_round_counts_once_at_its_latest_record(self) -> None:
        def seen(person: str, months: int, day: int, band: str) -> Observation:
            return Observation(person, date(2027, 1, day), "SN", months, "female", "25-34", band)

        found = [
            seen("p", 3, 1, "0-0.25"),
            seen("p", 3, 9, "0.25-0.5"),  # the round recorded again, later
            seen("p", 6, 2, "0.75-1"),
            seen("q", 3, 5, "0.5-0.75"),
        ]

        per_round = latest(found, key=lambda o: (o.person, o.round_months))
        per_person = latest(found, key=lambda o: (o.person,))

        assert sorted((o.person, o.round_months, o.score_band) for o in per_round) == [
            ("p", 3, "0.25-0.5"),
            ("p", 6, "0.75-1"),
            ("q", 3, "0.5-0.75"),
        ]
        assert sorted((o.person, o.score_band) for o in per_person) == [
            ("p", "0.75-1"),
            ("q", "0.5-0.75"),
        ]


class TestBands:
    def test_age_bands(self) -> None:
        on = date(2026, 6, 1)
        assert age_band(date(2010, 6, 2), False, on) == "0-17"
        assert age_band(date(2008, 6, 1), False, on) == "18-24"
        assert age_band(date(1950, 1, 1), False, on) == "50+"
        assert age_band(None, True, on) == "unknown"

    def test_score_bands(self) -> None:
        assert [score_band(x) for x in (0, 2500, 6000, 10_000, None)] == [
            "0-0.25",
            "0.25-0.5",
            "0.5-0.75",
            "0.75-1",
            "not scored",
        ]
