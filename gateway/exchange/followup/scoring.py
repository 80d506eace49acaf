"""Coding and scoring the Reintegration Sustainability Survey, from a versioned table.

The table (``rss-<version>.json`` beside this module) lists each measurement element with its
dimension, its coding rule (answer word -> points between 0 and 1), its dimension weight and
its composite weight, and where each figure comes from. Pure: answers in, scores out.

A dimension score is the sum of point x weight over the weighted elements answered in that
dimension, divided by the sum of their weights; the composite likewise with composite weights
over all of them. Scores travel in parts per ten thousand (0.75 is 7500), as signed documents
hold no floats. An element the table gives no weight is coded (so a wrong answer is refused)
but not scored.

Example::

    >>> table = load_table()
    >>> table.weighted_point("economic_satisfaction", "satisfied")
    0.1125
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.followup import Scores
from schemas.sections import ReintegrationDimension

HERE = Path(__file__).parent
CURRENT = "rss-1.0"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Element(_Model):
    number: int
    element: str
    dimension: ReintegrationDimension
    name: str
    coding: dict[str, Annotated[float, Field(ge=0, le=1)]]
    dimension_weight: Annotated[float, Field(gt=0, le=1)] | None
    composite_weight: Annotated[float, Field(gt=0, le=1)] | None
    source: dict[str, str]

    def points(self, answer: str | bool) -> float:
        word = ("yes" if answer else "no") if isinstance(answer, bool) else answer
        if word not in self.coding:
            raise InvalidAnswer(self.element, sorted(self.coding))
        return self.coding[word]


class Threshold(_Model):
    composite: Annotated[float, Field(ge=0, le=1)]
    source: str


class ScoringTable(_Model):
    version: str
    title: str
    method: str
    needs_more_assistance_below: Threshold
    elements: list[Element]

    def element(self, key: str) -> Element:
        for element in self.elements:
            if element.element == key:
                return element
        raise InvalidAnswer(key, None)

    def weighted_point(self, key: str, answer: str | bool) -> float:
        """Point x dimension weight of one answer (the seed's worked example)."""
        element = self.element(key)
        if element.dimension_weight is None:
            raise ValueError(f"{key} has no weight in {self.version}")
        return round(element.points(answer) * element.dimension_weight, 10)


class InvalidAnswer(ValueError):
    """An answer outside the coding rules, or an element the table does not know."""

    def __init__(self, element: str, allowed: list[str] | None) -> None:
        self.element = element
        self.allowed = allowed
        if allowed is None:
            super().__init__(f"{element}: not a measurement element of the survey")
        else:
            super().__init__(f"{element}: the answer must be one of {', '.join(allowed)}")


@dataclass(frozen=True)
class Result:
    scores: Scores
    #: How many answered elements carry weights (and so count in the scores).
    elements_scored: int
    needs_more_assistance: bool
    version: str


@cache
def load_table(version: str = CURRENT) -> ScoringTable:
    path = HERE / f"{version}.json"
    return ScoringTable.model_validate(json.loads(path.read_text(encoding="utf-8")))


def score(answers: dict[str, Any], table: ScoringTable | None = None) -> Result:
    """Code every answer (refusing any outside its rule) and compute the four scores."""
    table = table or load_table()
    coded = [
        (table.element(key), table.element(key).points(answer)) for key, answer in answers.items()
    ]
    weighted = [(e, p) for e, p in coded if e.dimension_weight and e.composite_weight]

    def dimension(which: ReintegrationDimension) -> float | None:
        parts = [(e.dimension_weight or 0, p) for e, p in weighted if e.dimension is which]
        return _weighted_mean(parts)

    composite = _weighted_mean([(e.composite_weight or 0, p) for e, p in weighted])
    scores = Scores(
        economic=_per_ten_thousand(dimension(ReintegrationDimension.ECONOMIC)),
        social=_per_ten_thousand(dimension(ReintegrationDimension.SOCIAL)),
        psychosocial=_per_ten_thousand(dimension(ReintegrationDimension.PSYCHOSOCIAL)),
        composite=_per_ten_thousand(composite),
    )
    below = table.needs_more_assistance_below.composite
    return Result(
        scores=scores,
        elements_scored=len(weighted),
        needs_more_assistance=composite is not None and composite < below,
        version=table.version,
    )


def _per_ten_thousand(score: float | None) -> int | None:
    return None if score is None else round(score * 10_000)


def _weighted_mean(parts: list[tuple[float, float]]) -> float | None:
    total = sum(weight for weight, _ in parts)
    if not total:
        return None
    return round(sum(weight * point for weight, point in parts) / total, 4)
