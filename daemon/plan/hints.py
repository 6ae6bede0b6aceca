"""Words that point to the fix: the close choice, the list of choices, full-width input read
as meant. Kept apart from the field readers so the command line can use them without YAML."""

from __future__ import annotations

import difflib
import re
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


# A figure each person owes on their own (每人联系2个乡镇, 干部每月深入基层调研不少于5天): a
# target with such a source needs `per:`, or one person's progress would count for everyone.
PER_PERSON_WORDING = re.compile(r"每人|每名|每位|人均|(?:干部|党员|职工|同志)每[周月季年]")
