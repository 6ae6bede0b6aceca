"""The clause grammar of the genre: cadences (每月, 每季度, 年底, 在…前 …) and quantities
(不少于500篇, 95%以上, 同比减少15% …), each found with its span in the clause.

Chinese numerals are read (with cn2an) only where a pattern captured a number, never across
the text: 二十届四中全会 and “两个维护” are not quantities.
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass

_CN_DIGITS = "一二两三四五六七八九十百千万"
NUM = rf"(\d+(?:\.\d+)?|[{_CN_DIGITS}]+)"
ARABIC_NUM = r"(\d+(?:\.\d+)?)"
UNIT = r"(万元|人次|课时|学时|小时|篇|次|件|项|个|名|人|家|天|场|期|批|条|元|本|部|份|门|户|所|处|支|%|％)"
_MONTH = rf"(\d{{1,2}}|[{_CN_DIGITS[:-3]}]{{1,3}})"

# Due rules written into the draft for the words that name a point in the year.
YEAR_START_DUE = "{month: 2, day: last}"  # 年初: planning papers are due by the end of February
MID_YEAR_DUE = "{month: 6, day: 30}"  # 年中 / 上半年: by the end of June


@dataclass(frozen=True)
class Cadence:
    start: int
    end: int
    every: str  # a schedule cadence: month, quarter … per-event, once
    due: str | None = None  # the due rule as YAML flow text; None: the plan's default
    month_day: tuple[int, int] | None = None  # every: once, a (month, day) in the plan year
    note: str | None = None
    in_title: bool = False  # 月度/季度/年度 name the thing itself ("年度考核"): titles keep them


@dataclass(frozen=True)
class Quantity:
    start: int
    end: int
    comparator: str  # at_least | at_most | exactly | reduce_by
    value: float
    unit: str


def _period(every: str, due: str | None = None, note: str | None = None, in_title: bool = False):
    return lambda m: Cadence(m.start(), m.end(), every, due, None, note, in_title)


def _deadline(m: re.Match) -> Cadence | None:
    month = to_number(m.group(1))
    if month is None or not 1 <= month <= 12:
        return None
    when = m.group(2) or "底"
    day = {"上旬": 10, "中旬": 20}.get(when) or (int(m.group(3)) if m.group(3) else 31)
    last = calendar.monthrange(2001, int(month))[1]  # a common year: 29 February is never due
    return Cadence(m.start(), m.end(), "once", None, (int(month), min(day, last)))


_WEEKDAYS = "一二三四五六日"
_WEEKDAY_IDS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekly(m: re.Match) -> Cadence:
    day = m.group(1)
    due = f"{{weekday: {_WEEKDAY_IDS[_WEEKDAYS.index(day)]}}}" if day else None
    return Cadence(m.start(), m.end(), "week", due)


def _nth_weekday(m: re.Match) -> Cadence:
    nth = "-1" if m.group(1) is None else str(int(to_number(m.group(1))))
    due = f"{{weekday: {_WEEKDAY_IDS[_WEEKDAYS.index(m.group(2))]}, nth: {nth}}}"
    return Cadence(m.start(), m.end(), "month", due)


def _every_n_months(m: re.Match) -> Cadence:
    months = int(to_number(m.group(1)))
    return Cadence(m.start(), m.end(), f"rrule:FREQ=MONTHLY;INTERVAL={months};BYMONTHDAY=25",
                   note=f"待确认: 每{m.group(1)}个月,按 1 月起每{months}个月的 25 日起草")


# In order of precedence: a span taken by an earlier pattern is not read again.
CADENCES: tuple[tuple[re.Pattern, object], ...] = tuple((re.compile(p), make) for p, make in (
    (rf"(?:在|于)?{_MONTH}月份?(底|末|上旬|中旬|下旬|(\d{{1,2}})日)?(?:前|之前|以前)", _deadline),
    (r"每月(?:第([一二三四1-4])个|最后一个)(?:星期|周)([一二三四五六日])", _nth_weekday),
    (r"每(?:周|个?星期)([一二三四五六日])?", _weekly),
    (r"每(两|2|三|3)个?月", _every_n_months),
    (r"每(两|2)周", lambda m: Cadence(m.start(), m.end(), "rrule:FREQ=WEEKLY;INTERVAL=2;BYDAY=FR", note="待确认: 每两周,按隔周五起草")),
    (r"每个?季度|每季", _period("quarter")),
    (r"每半年", _period("half-year")),
    (r"每个?月", _period("month")),
    (r"每年度?", _period("year")),
    (r"(?:年底|年末|年终)(?:前|之前)?", _period("year")),
    (r"年初", _period("year", YEAR_START_DUE, "年初:按 2 月底前起草")),
    (r"年中|上半年", _period("year", MID_YEAR_DUE, "上半年/年中:按 6 月底前起草")),
    (r"下半年", _period("year")),
    (r"(?:全年|年内)(?=[^,，、]{0,12}?次)", _period("year")),
    (r"年内(?=完成|建成|出台|制定|召开|开展|组织)", _period("year")),
    (r"(?<!每)(?<!年)月度(?!考核指标)", _period("month", in_title=True)),
    (r"(?<![每年])季度(?!末)", _period("quarter", in_title=True)),
    (r"(?<=开展|召开|组织|实行|编制|纳入|进行|完成|制定)年度", _period("year", in_title=True)),
    # Per event: 在…前, 立项前由…, 形成后由…, 每个重点课题…, 对各类文稿…, 重大事项必须…, 逢…必…
    (r"在[^,，]{2,30}?(?:之前|前)(?!期|列|沿)", _period("per-event")),
    (r"^[^,，]{0,16}?(?:立项|形成|完成|结束|召开|出台|印发|下发|发生|确定|启动|提交|报送|审议|出现|调整)(?:之前|之后|前|后)(?=由|要|须|应|,|，|及时)", _period("per-event")),
    (r"每(?:个|项|篇|件|批|一个|一项)(?![月季年])", _period("per-event")),
    (r"对(?:各类|各项|所有|每一?[个项篇件名])", _period("per-event")),
    (r"(?:重大事项|“三重一大”事项|三重一大事项)[^,，]{0,8}?(?:必须|须|应当|应)", _period("per-event")),
    (r"根据[^,，]{1,12}?(?:变化|需要|情况)[^,，]{0,4}?及时", _period("per-event")),
    (r"遇有|一旦发生|凡是|凡涉及|每逢|逢[^,，]{1,4}必", _period("per-event")),
))

# Words that say "when" although no pattern above read them: listed as 未识别 if left over.
CADENCE_CUES = re.compile(r"每[周月年季]|每半年|每两|年底|年初|年中|年末|上半年|下半年|定期|月度|季度|年度|半年")
NUMBER_CUES = re.compile(rf"(?<![\d.])\d+(?:\.\d+)?(?![\d.]|\s*年(?!度)|\s*周?岁)|(?<![第“])[{_CN_DIGITS}]{{1,4}}(?=次(?!全会|全体会议|代表大会)|个月|篇|件|项|名|家|场|期|批|条)")
_COUNT_AFTER = re.compile(rf"^[^,，、]{{0,10}}?{NUM}\s*(次|个|场|期|轮)")


@functools.lru_cache(maxsize=4096)  # a clause is read once to split it, once to draft it
def cadences(clause: str) -> tuple[Cadence, ...]:
    taken: list[Cadence] = []
    for pattern, make in CADENCES:
        for match in pattern.finditer(clause):
            if any(match.start() < c.end and c.start < match.end() for c in taken):
                continue
            found = make(match)
            if found is not None:
                taken.append(found)
    return tuple(sorted(taken, key=lambda c: c.start))


def count_after(clause: str, cadence: Cadence) -> tuple[int, int, int, str] | None:
    """The "1次" of 每月开展1次: (start, end, count, unit), unless a comparator stands first."""
    rest = clause[cadence.end:]
    match = _COUNT_AFTER.match(rest)
    if not match or re.search(r"不少于|不低于|不超过|达到", rest[: match.start(1)]):
        return None
    count = to_number(match.group(1))
    if count is None:
        return None
    return cadence.end + match.start(1), cadence.end + match.end(), int(count), match.group(2)


# Quantities, in order of precedence. (pattern, comparator, group of the number, group of the unit)
QUANTITIES = tuple((re.compile(p), c, n, u) for p, c, n, u in (
    (rf"(?:同比)?(?:减少|下降|压减|精简|压缩|降低)了?{NUM}\s*(%|％)", "reduce_by", 1, 2),
    (rf"(?:不少于|不低于|不得少于|不得低于|至少|力争达到|(?<!不)达到|(?<!不)超过|保持在){NUM}\s*{UNIT}(?:以上)?", "at_least", 1, 2),
    (rf"(?:不超过|不高于|不得超过|控制在){NUM}\s*{UNIT}(?:以内|以下)?", "at_most", 1, 2),
    (rf"{NUM}\s*{UNIT}(?:以上|及以上)", "at_least", 1, 2),
    (rf"{NUM}\s*{UNIT}(?:以内|以下)", "at_most", 1, 2),
    (r"覆盖全体|全覆盖", "at_least", None, None),
    (rf"(?<![第\d.])(?<![每])(?<!每一){ARABIC_NUM}\s*{UNIT}", "exactly", 1, 2),
))


def quantities(clause: str, taken: list[tuple[int, int]]) -> list[Quantity]:
    """Quantities of ``clause`` outside the ``taken`` spans (counts of a cadence) and outside
    quotes (“全覆盖行动” names a campaign, it sets no figure)."""
    spans = list(taken) + quoted(clause)
    found: list[Quantity] = []
    for pattern, comparator, number_group, unit_group in QUANTITIES:
        for match in pattern.finditer(clause):
            if any(match.start() < b and a < match.end() for a, b in spans):
                continue
            if number_group is None:
                value, unit = 100.0, "%"
            else:
                value = to_number(match.group(number_group))
                unit = match.group(unit_group).replace("％", "%")
                if value is None:
                    continue
            kind = "at_least" if comparator == "exactly" and unit == "%" else comparator
            spans.append((match.start(), match.end()))
            found.append(Quantity(match.start(), match.end(), kind, float(value), unit))
    return sorted(found, key=lambda q: q.start)


def quoted(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"“[^”]*”|《[^》]*》", text)]


def to_number(text: str) -> float | None:
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    import cn2an  # 0.2 s to import: paid only by texts that write numbers in Chinese

    try:
        return float(cn2an.cn2an(text, "smart"))
    except (ValueError, KeyError, TypeError):
        return None
