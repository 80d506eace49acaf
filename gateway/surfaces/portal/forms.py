"""HTML forms made from the API's own pydantic models, so a page and the API accept exactly the
same input, and a form that fails validation comes back with everything typed still in it and
each problem next to its field, in words.

``form_fields(Model, prefix)`` describes a model's fields (text, long text, date, yes/no, a
choice, several choices, a list of lines, a number, or a group of fields); the template macro
``form.html`` draws them. ``parsed(fields, form)`` turns what the browser posted (dotted names,
such as ``travel.arrival.airport``) back into the nested dictionary the model validates, leaving
out what was left empty; ``problems(error, prefix)`` maps a ``ValidationError`` onto the fields.

Example::

    >>> fields = form_fields(CaseCreate)                                 # doctest: +SKIP
    >>> body = parsed(fields, await request.form())                      # doctest: +SKIP
    >>> CaseCreate.model_validate(body)                                  # doctest: +SKIP
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from gateway.surfaces.portal.labels import N_

UTC_ZONE = ZoneInfo("UTC")
#: How many empty rows a list of groups (stops on a journey, plan goals) offers.
ROWS = 3

#: Problems in words, by pydantic's error type; anything else reads "not valid".
PROBLEMS = {
    "missing": N_("This is needed."),
    "string_too_long": N_("This is too long."),
    "string_too_short": N_("This is needed."),
    "string_pattern_mismatch": N_("This is not in the expected form."),
    "enum": N_("Choose one of the options."),
    "literal_error": N_("Choose one of the options."),
    "date_from_datetime_parsing": N_("Give a date, such as 2026-03-01."),
    "date_parsing": N_("Give a date, such as 2026-03-01."),
    "date_from_datetime_inexact": N_("Give a date, such as 2026-03-01."),
    "datetime_parsing": N_("Give a date and time, such as 2026-03-01 14:30."),
    "datetime_from_date_parsing": N_("Give a date and time, such as 2026-03-01 14:30."),
    "int_parsing": N_("Give a whole number."),
    "too_long": N_("Too many."),
    "too_short": N_("Choose at least one."),
    "value_error": N_("This does not fit with the rest of the form."),
}
NOT_VALID = N_("This value is not valid.")


@dataclass(frozen=True)
class FormField:
    """One input of a form: its posted ``name``, what it takes, and its choices."""

    name: str
    key: str
    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()
    children: tuple[FormField, ...] = ()
    repeat: int = 0
    max_length: int | None = None

    def row(self, index: int) -> tuple[FormField, ...]:
        """The inputs of row ``index`` of a list of groups."""
        return _row(self, index)


@dataclass
class FilledForm:
    """A form's fields with what was typed in them and what is wrong, to draw again."""

    fields: list[FormField]
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)


def form_fields(
    model: type[BaseModel], prefix: str = "", skip: Iterable[str] = ()
) -> list[FormField]:
    """The fields of ``model`` as form inputs, named ``prefix.field``."""
    left_out = set(skip)
    return [
        _field(f"{prefix}{name}", name, info)
        for name, info in model.model_fields.items()
        if name not in left_out
    ]


def _field(name: str, key: str, info: FieldInfo) -> FormField:
    annotation, required = _unwrapped(info.annotation), info.is_required()
    length = next((getattr(m, "max_length", None) for m in info.metadata), None)
    return _kind(name, key, annotation, required, length)


def _kind(name: str, key: str, annotation: Any, required: bool, length: int | None) -> FormField:
    origin = typing.get_origin(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation)
        item = _unwrapped(item)
        if isinstance(item, type) and issubclass(item, Enum):
            return FormField(name, key, "choices", required, _values(item))
        if isinstance(item, type) and issubclass(item, BaseModel):
            children = tuple(form_fields(item, f"{name}.{{i}}."))
            return FormField(name, key, "rows", required, children=children, repeat=ROWS)
        return FormField(name, key, "lines", required, max_length=length)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return FormField(
            name, key, "group", required, children=tuple(form_fields(annotation, f"{name}."))
        )
    return FormField(
        name, key, _scalar(annotation), required, _choices(annotation), max_length=length
    )


def _scalar(annotation: Any) -> str:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "choice"
    if typing.get_origin(annotation) is typing.Literal:
        return "choice"
    if annotation is bool:
        return "yes_no"
    if annotation is int:
        return "number"
    if isinstance(annotation, type) and issubclass(annotation, datetime):
        return "datetime"
    if isinstance(annotation, type) and issubclass(annotation, date):
        return "date"
    return "text"


def _choices(annotation: Any) -> tuple[str, ...]:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _values(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return tuple(str(v) for v in typing.get_args(annotation))
    return ()


def _values(enum: type[Enum]) -> tuple[str, ...]:
    return tuple(str(member.value) for member in enum)


def _unwrapped(annotation: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` as ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = options[0] if len(options) == 1 else annotation
            if len(options) != 1:
                return annotation
        else:
            return annotation


# -- reading a posted form ----------------------------------------------------------------------


def parsed(
    fields: Iterable[FormField], form: Mapping[str, Any], zone: ZoneInfo = UTC_ZONE
) -> dict[str, Any]:
    """What the browser posted, as the nested dictionary the model validates. Empty inputs
    are left out, so the model's defaults and "required" apply; a date and time typed without
    a zone is in ``zone`` (the node's)."""
    body: dict[str, Any] = {}
    for item in fields:
        value = _read(item, form, zone)
        if value is not None:
            body[item.key] = value
    return body


def _read(item: FormField, form: Mapping[str, Any], zone: ZoneInfo) -> Any:
    if item.kind == "group":
        inner = parsed(item.children, form, zone)
        return inner or None
    if item.kind == "rows":
        rows = [parsed(_row(item, i), form, zone) for i in range(item.repeat)]
        kept = [row for row in rows if row]
        return kept or None
    if item.kind == "choices":
        picked = _all(form, item.name)
        return picked or None
    text = str(form.get(item.name, "")).strip()
    if item.kind == "lines":
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines or None
    if not text:
        return None
    if item.kind == "yes_no":
        return {"yes": True, "no": False}.get(text, text)
    if item.kind == "datetime":
        return _moment(text, zone)
    return text


def _moment(text: str, zone: ZoneInfo) -> str:
    """A typed date and time (``2026-03-01T14:30`` from the browser) in the node's zone, as
    an ISO time with its offset; what cannot be read is passed on for the model to refuse."""
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def _row(item: FormField, index: int) -> tuple[FormField, ...]:
    return tuple(_renamed(child, item.name, index) for child in item.children)


def _renamed(child: FormField, parent: str, index: int) -> FormField:
    name = child.name.replace(f"{parent}.{{i}}.", f"{parent}.{index}.")
    children = tuple(_renamed(c, parent, index) for c in child.children)
    return FormField(
        name,
        child.key,
        child.kind,
        child.required,
        child.choices,
        children,
        child.repeat,
        child.max_length,
    )


def _all(form: Mapping[str, Any], name: str) -> list[str]:
    getter = getattr(form, "getlist", None)
    values = getter(name) if getter is not None else form.get(name, [])
    return [str(v) for v in (values if isinstance(values, list) else [values]) if str(v).strip()]


def flat_values(form: Mapping[str, Any]) -> dict[str, Any]:
    """What was posted, by input name, to fill the form in again (lists for several)."""
    getter = getattr(form, "getlist", None)
    names = list(form.keys())
    if getter is None:
        return dict(form)
    return {name: (getter(name) if len(getter(name)) > 1 else getter(name)[0]) for name in names}


def problems(error: ValidationError, prefix: str = "") -> tuple[dict[str, str], list[str]]:
    """Each problem of ``error`` next to the input it is about (by posted name), in words to
    translate; problems about the whole form (rules across fields) apart."""
    by_field: dict[str, str] = {}
    general: list[str] = []
    for item in error.errors():
        where = [str(part) for part in item["loc"] if part != "body"]
        text = PROBLEMS.get(item["type"], NOT_VALID)
        if where:
            by_field.setdefault(prefix + ".".join(where), text)
        else:
            general.append(str(item.get("msg", text)).removeprefix("Value error, "))
    return by_field, general
