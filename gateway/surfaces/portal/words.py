"""Values for people: every code, date, list, name and id on a page, said in the page's language.

A page never shows raw data: a country code becomes the country's name, a language code the
language's name, a time the date and time in the node's time zone, a list is joined the way the
language joins lists, a node id becomes its organisation's name from the directory, and a member
of staff is their role in words ("a caseworker at …"), never a user id. Codes with a meaning
(purposes, sections, statuses, actions, rules) have a translated label here; the catalogues
(``locales/*/messages.po``) hold the translations, extracted from the ``N_`` marks below.

Example::

    >>> words = Words.of("fr", "UTC", {"origin-reception": "Réception Dakar"})
    >>> words.country("SN"), words.join(["a", "b", "c"])
    ('Sénégal', 'a, b et c')
"""

from __future__ import annotations

import gettext
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_skeleton, get_datetime_format
from babel.lists import format_list

from consent.retention import FALLBACK
from gateway.surfaces.portal.i18n import gettext_for
from gateway.surfaces.portal.labels import (
    ACTIONS,
    ACTORS,
    COLUMNS,
    EVENTS,
    FIELDS,
    HAPPENINGS,
    N_,
    PURPOSES,
    REPORTS,
    ROLES,
    SECTIONS,
    STATUSES,
    VALUES,
)
from schemas.directory import RetentionRule

#: Report columns whose values are node ids, times, dates, countries, or codes with a label.
NODE_COLUMNS = frozenset({"recipient", "recipients", "counterpart", "sender"})
TIME_COLUMNS = frozenset(
    {
        "at",
        "requested_at",
        "first_sent",
        "last_sent",
        "delete_by",
        "first_at",
        "last_at",
        "window_start",
        "checked_at",
    }
)
COUNTRY_COLUMNS = frozenset({"destination_country", "country_of_return"})
SECTION_COLUMNS = frozenset({"sections", "data_category", "data_categories"})
#: Fields whose values are codes with a label; every other text field is the staff's own words.
CODED_FIELDS = frozenset(
    {
        "travel_document_status",
        "escort",
        "equipment",
        "kind",
        "dimension",
        "level",
        "grant_type",
        "protection_needs",
        "vulnerability_flags",
        "sex",
    }
)


@dataclass(frozen=True)
class Words:
    """How one page says things: its language, the node's time zone, the directory's names."""

    language: str
    zone: ZoneInfo
    organisations: Mapping[str, str]
    translations: gettext.NullTranslations

    @classmethod
    def of(cls, language: str, zone: str, organisations: Mapping[str, str]) -> Words:
        return cls(language, ZoneInfo(zone), dict(organisations), gettext_for(language))

    def __call__(self, message: str, **values: Any) -> str:
        text = self.translations.gettext(message)
        return text % values if values else text

    # -- codes -----------------------------------------------------------------------------

    def label(self, table: Mapping[str, str], code: object) -> str:
        """The translated label of ``code`` in ``table``, or the code itself if it has none."""
        text = str(code)
        return self(table[text]) if text in table else text

    def purpose(self, code: str) -> str:
        return self.label(PURPOSES, code)

    def section(self, code: str) -> str:
        return self.label(SECTIONS, code)

    def sections(self, codes: Iterable[str]) -> str:
        return self.join(self.section(c) for c in codes)

    def status(self, code: str) -> str:
        return self.label(STATUSES, code)

    def action(self, code: str) -> str:
        return self.label(ACTIONS, code)

    def role(self, code: str) -> str:
        return self.label(ROLES, code)

    def value(self, code: object) -> str:
        return self.label(VALUES, code)

    def field(self, key: str) -> str:
        """A form input's label."""
        return self.label(FIELDS, key)

    def happening(self, what: str) -> str:
        """A line of a case's timeline, in words."""
        if what.endswith(" sent") and what not in HAPPENINGS:
            return self.label(HAPPENINGS, "note sent")
        return self.label(HAPPENINGS, what)

    def detail(self, entry: Any) -> str:
        """What a timeline line adds: the answer, the plan's version, the round and its score."""
        detail, content = entry.detail or "", entry.content or {}
        if entry.what.startswith("referral"):
            return self.purpose(detail) if entry.what == "referral" else self.value(detail)
        if entry.what == "monitoring":
            composite = (content.get("scores") or {}).get("composite")
            score = "" if composite is None else f" ({composite / 10_000:.2f})"
            return self(N_("month %(number)s"), number=content.get("round_months", "")) + score
        if entry.what.startswith("reintegration_plan"):
            return self(N_("version %(number)s"), number=content.get("version", ""))
        return self.value(detail) if detail else ""

    def fields_named(self, names: Iterable[str]) -> str:
        """Field names as their labels, joined: what was left out of a referral."""
        return self.join(self.field(name) for name in names)

    def choice(self, key: str, code: str) -> str:
        """One option of a form's choice, in words."""
        if key in {"purpose"}:
            return self.purpose(code)
        if key in {"recipient", "counterpart"}:
            return self.organisation(code)
        if key in {"sections", "section"}:
            return self.section(code)
        if key in {"recipient_role", "role", "roles"}:
            return self.role(code)
        if key in {"language", "preferred_language", "contact_language"}:
            return self.language_name(code)
        return self.value(code)

    def report(self, name: str, fallback: str) -> str:
        return self(REPORTS[name]) if name in REPORTS else fallback

    def column(self, name: str) -> str:
        return self.label(COLUMNS if name in COLUMNS else VALUES, name)

    # -- the world -------------------------------------------------------------------------

    def country(self, code: str) -> str:
        name = Locale.parse(self.language).territories.get(code.upper())
        return name if name else self(N_("an unknown country"))

    def language_name(self, code: str) -> str:
        name = Locale.parse(self.language).languages.get(code.lower())
        return name if name else code

    def organisation(self, node_id: str) -> str:
        return self.organisations.get(node_id) or self(
            N_("an organisation no longer in the network")
        )

    def organisations_of(self, node_ids: Iterable[str]) -> str:
        return self.join(isolated(self.organisation(n)) for n in node_ids)

    def actor(self, organisation: str, role: str) -> str:
        """Who acted, in words: "a caseworker at Mission Berlin", never a user id. An office of
        this node is named with this node's organisation."""
        if role == "data_subject":
            return self(N_("you"))
        if organisation in self.organisations:
            named = isolated(self.organisations[organisation])
        else:
            named = self(N_("%(office)s office"), office=isolated(organisation))
        phrase = ACTORS.get(role, ACTORS["staff"])
        return self(phrase, organisation=named)

    # -- dates, numbers, lists ------------------------------------------------------------

    def day(self, value: date | datetime | str | None) -> str:
        if value is None or value == "":
            return self(N_("not known"))
        moment = _parsed(value)
        if isinstance(moment, datetime):
            moment = moment.astimezone(self.zone).date()
        return format_date(moment, "long", locale=self.language)

    def moment(self, value: datetime | str | None) -> str:
        """A date and time in the node's time zone, minutes only, as the language writes it."""
        if value is None or value == "":
            return ""
        parsed = _parsed(value)
        if not isinstance(parsed, datetime):
            return self.day(parsed)
        local = parsed.astimezone(self.zone)
        pattern = get_datetime_format("medium", locale=self.language)
        return str(pattern).format(
            format_skeleton("Hm", local, locale=self.language),
            format_skeleton("yMMMd", local, locale=self.language),
        )

    def week(self, label: str) -> str:
        """An ISO week (``2026-W45``) as the day it starts: "2 Nov" in the page's language."""
        year, _, number = label.partition("-W")
        monday = date.fromisocalendar(int(year), int(number), 1)
        return str(format_skeleton("MMMd", monday, locale=self.language))

    def yes_no(self, value: bool) -> str:
        return self(N_("yes")) if value else self(N_("no"))

    def join(self, items: Iterable[str]) -> str:
        listed = [item for item in items if item]
        return format_list(listed, locale=self.language) if listed else ""

    # -- what was shared -----------------------------------------------------------------

    def fields(self, values: Mapping[str, Any]) -> list[tuple[str, str]]:
        """A section's fields as (label, text) pairs, in the order they were given."""
        return [
            (self.label(FIELDS, name), self.said(name, value)) for name, value in values.items()
        ]

    def said(self, name: str, value: Any) -> str:
        """One field's value in words."""
        if value is None:
            return ""
        if isinstance(value, bool):
            return self.yes_no(value)
        if isinstance(value, int):
            return str(value)
        if isinstance(value, list):
            return self.join(self.said(name, item) for item in value)
        if isinstance(value, dict):
            return self._structured(value)
        return self._plain(name, str(value))

    def _plain(self, name: str, text: str) -> str:
        if name in {"country", "nationality"}:
            return self.country(text)
        if name in {"contact_language", "preferred_language", "language"}:
            return self.language_name(text)
        if name.endswith(("_at", "date_of_birth")) or name in {"on", "date"}:
            return self.moment(text) if "T" in text else self.day(text)
        return self.value(text) if name in CODED_FIELDS else text

    def _structured(self, value: Mapping[str, Any]) -> str:
        """A place, a stop on a journey, an escort, a custodian, a need: one line of words."""
        if "country" in value:  # a place: "locality, country"
            return self.join_place(value.get("locality"), value["country"])
        if set(value) == {"dimension", "level"}:  # a need: "work and income (for you)"
            return self(
                N_("%(area)s (%(whom)s)"),
                area=self.value(value["dimension"]),
                whom=self.value(value["level"]),
            )
        parts = []
        for name, item in value.items():
            if item is None or item == []:
                continue
            text = self.said(name, item)
            parts.append(
                text
                if name in {"kind", "dimension", "name"}
                else f"{self.label(FIELDS, name)}: {text}"
            )
        return self(N_("; ")).join(parts) if parts else ""

    def in_country(self, name: str, country: str) -> str:
        """An organisation with its country: "Réception Dakar, Senegal"."""
        return self(
            N_("%(locality)s, %(country)s"), locality=isolated(name), country=self.country(country)
        )

    def join_place(self, locality: str | None, country: str) -> str:
        named = self.country(country)
        return (
            self(N_("%(locality)s, %(country)s"), locality=isolated(locality), country=named)
            if locality
            else named
        )

    # -- DPO reports ---------------------------------------------------------------------

    def retention(
        self, purpose: str, sections: Iterable[str], rules: Iterable[RetentionRule]
    ) -> str:
        """How long each section sent for ``purpose`` is kept, by the directory's rules (a
        section no rule names is kept the shortest period, as ``consent.retention`` does)."""
        by_key = {(r.purpose.value, r.section.value): r for r in rules}
        parts = []
        for section in sorted(sections):
            rule = by_key.get((purpose, section))
            if rule is None:
                period = self(EVENTS["referral_sent"], days=FALLBACK.days)
            else:
                period = self(EVENTS[rule.event.value], days=rule.days)
                if rule.child_minimum_days:
                    period += " " + self(
                        N_("(at least %(days)s days for a child)"), days=rule.child_minimum_days
                    )
            parts.append(
                self(N_("%(part)s: %(period)s"), part=self.section(section), period=period)
            )
        return self(N_("; ")).join(parts)

    def cell(self, column: str, value: Any) -> str:
        """A report cell in words: names for node ids, local times, country names, labels."""
        if value is None:
            return ""
        if isinstance(value, list):
            return self.join(self.cell(column, item) for item in value)
        if isinstance(value, bool):
            return self.yes_no(value)
        if isinstance(value, int):
            return str(value)
        text = str(value)
        if text in {"all", "total", "suppressed", "unknown"}:
            return self.value(text)
        if column in NODE_COLUMNS or (column == "actor_org" and text in self.organisations):
            return self.organisation(text)
        if column == "actor_org":  # an office of this node
            return self(N_("%(office)s office"), office=isolated(text))
        if column in TIME_COLUMNS:
            return self.moment(text)
        if column in COUNTRY_COLUMNS:
            return self.country(text)
        if column in SECTION_COLUMNS:
            return self.section(text)
        if column == "purpose":
            return self.purpose(text)
        if column in {"actor_role", "recipient_role", "role"}:
            return self.role(text)
        if column == "status":
            return self.status(text)
        return self.value(text)


def isolated(text: str) -> str:
    """``text`` as a run of its own direction inside a sentence (Unicode first-strong isolate):
    a Latin name in an Arabic sentence keeps its place, and the sentence its direction."""
    return f"\u2068{text}\u2069"


def _parsed(value: date | datetime | str) -> date | datetime:
    if isinstance(value, date):
        return value
    if "T" in value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return date.fromisoformat(value)
