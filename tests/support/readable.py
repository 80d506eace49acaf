"""Checks that a page is readable, run in the browser on every page, language and width.

``problems(page, language, ...)`` returns what a person would trip over, as short lines naming
the element: the page or an element running past its container (something scrolls sideways or
is cut), a table or list cell squeezed narrower than a few characters, raw data shown to a
person (JSON, an ISO timestamp, a node id), a character the node's own font does not have (the
phone would fall back to whatever it has, or draw a box), and a wrong ``lang`` or ``dir``.
``visible_texts`` gives the page's visible text pieces, so a test can compare a page in another
language with the same page in English and find what was left in English.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont
from playwright.sync_api import Page

from gateway.surfaces.portal.i18n import HERE, RIGHT_TO_LEFT

FONTS = HERE / "static" / "fonts"

#: In the browser: every visible text piece, with its element, marking what is not to translate
#: (ids, codes) and what carries its own ``lang`` (each language's name in the language menu).
_TEXTS = """
() => {
  const pageLang = document.documentElement.lang;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.replace(/\\s+/g, " ").trim();
    const element = node.parentElement;
    if (!text || !element || element.closest("script,style,title")) continue;
    if (element.closest("svg") === null && !element.checkVisibility()) continue;
    const translate = element.closest("[translate]");
    const spoken = element.closest("[lang]");  // an element naming its own language: a name
    found.push({
      text,
      code: translate !== null && translate.getAttribute("translate") === "no",
      foreign: spoken !== null && spoken !== document.documentElement,
      where: element.tagName.toLowerCase() + (element.className ? "." + element.className : ""),
    });
  }
  return found;
}
"""

#: In the browser: what runs past its container, and cells squeezed too narrow.
_LAYOUT = r"""
() => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth + 1) {
    problems.push(`the page is ${root.scrollWidth}px wide in a ${window.innerWidth}px window`);
  }
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
    (e.className && typeof e.className === "string" ? "." + e.className.split(" ")[0] : "");
  const placed = (e) => {
    for (let a = e; a && a !== document.body; a = a.parentElement) {
      const position = getComputedStyle(a).position;
      if (position === "absolute" || position === "fixed") return true;
    }
    return false;
  };
  for (const element of document.body.querySelectorAll("*")) {
    if (element.closest("svg,option,.skip") || !element.checkVisibility()) continue;
    if (placed(element)) continue;  // taken out of the flow on purpose (visually hidden)
    const style = getComputedStyle(element);
    const parent = element.parentElement;
    if (!parent) continue;
    const box = element.getBoundingClientRect();
    const outer = parent.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > outer.right + 1.5 || box.left < outer.left - 1.5) {
      problems.push(`${name(element)} runs past ${name(parent)} ` +
        `(${Math.round(box.left)}..${Math.round(box.right)} in ` +
        `${Math.round(outer.left)}..${Math.round(outer.right)}): "${element.textContent.trim().slice(0, 40)}"`);
    }
    const text = element.textContent.trim();
    if (["TD", "TH", "DD", "DT"].includes(element.tagName) && text) {
      const em = parseFloat(style.fontSize);
      if (box.width < 3 * em) {
        problems.push(`${name(element)} is ${Math.round(box.width)}px wide: "${text.slice(0, 40)}"`);
      }
    }
    // A block of several words squeezed into a sliver of a wide container: a word per line.
    const words = text.split(/\s+/).length;
    if (style.display.startsWith("block") || style.display === "table-caption") {
      if (words >= 3 && outer.width > 200 && box.width < 0.3 * outer.width && box.height > 3 * parseFloat(style.lineHeight || style.fontSize)) {
        problems.push(`${name(element)} is squeezed to ${Math.round(box.width)}px of ${Math.round(outer.width)}px: "${text.slice(0, 40)}"`);
      }
    }
  }
  for (const svg of document.querySelectorAll("svg")) {
    const outer = svg.getBoundingClientRect();
    for (const text of svg.querySelectorAll("text")) {
      const box = text.getBoundingClientRect();
      if (box.right > outer.right + 1.5 || box.left < outer.left - 1.5) {
        problems.push(`chart label "${text.textContent}" runs out of its chart`);
      }
    }
  }
  return problems;
}
"""

_JSON = re.compile(r'[\[{]\s*"|"\s*:\s*["\[{0-9tfn]')
_ISO = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2})?\b")
_WORD = re.compile(r"[A-Za-z]{3,}")


@cache
def covered() -> frozenset[int]:
    """Every code point the node's served fonts have a glyph for."""
    points: set[int] = set()
    for path in sorted(FONTS.glob("*.woff2")):
        points.update(TTFont(path).getBestCmap())
    return frozenset(points)


def _drawn(character: str) -> bool:
    """Whether a character is drawn: not a space, and not a format mark (a direction isolate)."""
    return not character.isspace() and unicodedata.category(character) != "Cf"


def visible_texts(page: Page) -> list[dict[str, object]]:
    texts: list[dict[str, object]] = page.evaluate(_TEXTS)
    return texts


def problems(page: Page, language: str, node_ids: Iterable[str]) -> list[str]:
    """Everything unreadable on the page as it is now (open every ``<details>`` first)."""
    found: list[str] = []
    html = page.locator("html")
    if html.get_attribute("lang") != language:
        found.append(f"lang is {html.get_attribute('lang')!r}, not {language!r}")
    wanted = "rtl" if language in RIGHT_TO_LEFT else "ltr"
    if html.get_attribute("dir") != wanted:
        found.append(f"dir is {html.get_attribute('dir')!r}, not {wanted!r}")
    family = page.evaluate("getComputedStyle(document.body).fontFamily")
    if not str(family).startswith('"AVRR Sans"'):
        found.append(f"the body's font is {family}, not the node's own")
    found.extend(page.evaluate(_LAYOUT))
    glyphs = covered()
    for piece in visible_texts(page):
        text = str(piece["text"])
        if _JSON.search(text):
            found.append(f"raw JSON in {piece['where']}: {text[:60]!r}")
        if _ISO.search(text):
            found.append(f"an ISO date in {piece['where']}: {text[:60]!r}")
        found.extend(f"a node id in {piece['where']}: {text[:60]!r}" for n in node_ids if n in text)
        missing = sorted({c for c in text if _drawn(c) and ord(c) not in glyphs})
        if missing:
            found.append(f"no glyph for {''.join(missing)!r} in {piece['where']}: {text[:40]!r}")
    return found


def left_in_english(
    texts: list[dict[str, object]], english: set[str], allowed: set[str]
) -> list[str]:
    """Text pieces of a page in another language that are the same as in its English version
    and still hold a word once the names and codes in ``allowed`` are taken out: untranslated,
    unless marked as a code or carrying its own ``lang``."""
    names = sorted(allowed, key=len, reverse=True)

    def words_left(text: str) -> bool:
        for name in names:
            text = text.replace(name, " ")
        return _WORD.search(text) is not None

    return [
        f"{piece['where']}: {piece['text']!r}"
        for piece in texts
        if not piece["code"]
        and not piece["foreign"]
        and str(piece["text"]) in english
        and words_left(_plain(str(piece["text"])))
    ]


def _plain(text: str) -> str:
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def save(page: Page, folder: Path | None, name: str) -> None:
    """A full-page JPEG screenshot under ``folder`` (nothing if no folder was asked for)."""
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.jpg"), full_page=True, type="jpeg", quality=55)
