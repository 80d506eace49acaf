"""Coding and scoring the Reintegration Sustainability Survey: known answers from the seed's
worked example, the table's own consistency, and refusals that name the element."""

from __future__ import annotations

import pytest

from gateway.exchange.followup.scoring import InvalidAnswer, load_table, score
from schemas.sections import ReintegrationDimension

#: Figure 3 of the seed (MEASURE, Samuel Hall/IOM 2017): dimension / composite weights.
SEEDED = {
    "economic_satisfaction": (0.15, 0.05),
    "ability_to_borrow": (0.08, 0.02),
    "housing_access": (0.10, 0.03),
    "education_access": (0.11, 0.03),
    "social_participation": (0.12, 0.04),
    "support_network": (0.05, 0.03),
}


class TestTable:
    def test_the_thirty_elements_in_their_dimensions(self) -> None:
        table = load_table()
        by_dimension = {
            d: [e for e in table.elements if e.dimension is d] for d in ReintegrationDimension
        }

        assert len(table.elements) == 30
        assert [len(by_dimension[d]) for d in ReintegrationDimension] == [9, 11, 10]
        assert [e.number for e in table.elements] == list(range(1, 31))

    def test_the_weights_are_exactly_the_seeds(self) -> None:
        weighted = {
            e.element: (e.dimension_weight, e.composite_weight)
            for e in load_table().elements
            if e.dimension_weight is not None
        }

        assert weighted == SEEDED

    def test_every_element_says_where_each_figure_comes_from(self) -> None:
        for element in load_table().elements:
            assert set(element.source) == {"element", "coding", "weights"}, element.element
            assert all(element.source.values())

    def test_every_coding_runs_from_1_to_0(self) -> None:
        for element in load_table().elements:
            points = sorted(element.coding.values())
            assert (points[0], points[-1]) == (0, 1), element.element


class TestScore:
    def test_the_seeds_worked_example(self) -> None:
        # "Satisfied" = 0.75; 0.75 x 0.15 = 0.1125 weighted point.
        assert load_table().weighted_point("economic_satisfaction", "satisfied") == 0.1125

    def test_one_answer_gives_its_point_as_the_dimension_score(self) -> None:
        result = score({"economic_satisfaction": "satisfied"})

        assert result.scores.economic == 7500
        assert result.scores.composite == 7500
        assert (result.scores.social, result.scores.psychosocial) == (None, None)
        assert result.elements_scored == 1

    def test_a_dimension_is_the_weighted_mean_of_its_answers(self) -> None:
        result = score({"economic_satisfaction": "satisfied", "ability_to_borrow": "no"})

        # (0.75 x 0.15 + 0 x 0.08) / (0.15 + 0.08); composite with 0.05 and 0.02. In parts
        # per ten thousand.
        assert result.scores.economic == round(0.1125 / 0.23 * 10_000)
        assert result.scores.composite == round(0.0375 / 0.07 * 10_000)

    def test_yes_and_no_may_come_as_true_and_false(self) -> None:
        assert score({"ability_to_borrow": True}).scores.economic == 10_000

    def test_an_element_without_a_weight_is_coded_but_not_scored(self) -> None:
        result = score({"food_insecurity": "never"})

        assert result.elements_scored == 0
        assert result.scores.composite is None
        assert not result.needs_more_assistance

    def test_a_low_composite_calls_for_more_assistance(self) -> None:
        low = score({"economic_satisfaction": "very_dissatisfied", "support_network": "none"})
        high = score({"economic_satisfaction": "very_satisfied", "support_network": "strong"})

        assert (low.needs_more_assistance, high.needs_more_assistance) == (True, False)

    def test_an_answer_outside_the_coding_names_the_element(self) -> None:
        with pytest.raises(InvalidAnswer, match=r"^housing_access: the answer must be one of"):
            score({"housing_access": "superb"})

    def test_an_unknown_element_is_named(self) -> None:
        with pytest.raises(InvalidAnswer, match=r"^favourite_colour: not a measurement element"):
            score({"favourite_colour": "blue"})
