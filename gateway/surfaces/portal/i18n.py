"""Languages of the portal: message catalogues (Babel ``.po`` files) and one template
environment per language.

The catalogues live in ``gateway/portal/locales/<lang>/LC_MESSAGES/messages.po`` and are
compiled in memory at start, so the repository holds no binary ``.mo`` files. ``make messages``
extracts new strings from the templates and updates every catalogue (``babel.cfg``).

A page's language comes, in order, from: the person's choice on the page (kept in their
session), the language printed on their card, the browser's ``Accept-Language``, English.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).parent
LANGUAGES = ("en", "fr", "ar", "es", "ps")
RIGHT_TO_LEFT = frozenset({"ar", "ps"})
DEFAULT = "en"


def supported(language: str | None) -> str | None:
    if language is None:
        return None
    base = language.strip().lower().replace("_", "-").split("-")[0]
    return base if base in LANGUAGES else None


def from_header(accept_language: str | None) -> str | None:
    """The first supported language the browser asks for, by its q-values."""
    choices = []
    for position, part in enumerate((accept_language or "").split(",")):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if (found := supported(name)) is not None and quality > 0:
            choices.append((-quality, position, found))
    return min(choices)[2] if choices else None


def asked_for(chosen: str | None, accept_language: str | None) -> str:
    """The language a page is shown in before anyone signs in: the one chosen on the page
    (``?lang=``), else the browser's first supported one, else English."""
    return supported(chosen) or from_header(accept_language) or DEFAULT


@cache
def translations(language: str) -> gettext.NullTranslations:
    if language == DEFAULT:
        return gettext.NullTranslations()
    path = HERE / "locales" / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@cache
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        language=language,
        direction="rtl" if language in RIGHT_TO_LEFT else "ltr",
        languages=[(code, Locale.parse(code).get_display_name(code)) for code in LANGUAGES],
    )
    return env


def gettext_for(language: str) -> gettext.NullTranslations:
    return translations(language if language in LANGUAGES else DEFAULT)
