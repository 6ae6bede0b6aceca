"""Words that point to the fix: the close choice, the list of choices, full-width input read
as meant. Kept apart from the field readers so the command line can use them without YAML."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def suggest(word: str, choices: Iterable[str]) -> str:
    """'; did you mean X?' in Chinese, or '' when nothing is close."""
    close = closest(word, choices)
    return f";您是不是想写 '{close}'?" if close else ""


def listing(choices: Iterable[str]) -> str:
    return "、".join(str(c) for c in choices)


def half_width(text: str) -> str:
    """Full-width letters, digits and punctuation as their ASCII forms (7d for 7d)."""
    return unicodedata.normalize("NFKC", text)
