"""Reading single fields of a schedule, each with an error an admin can act on.

Every reader returns the parsed value, or None after adding an error that names the line,
the path and the fix. Callers never see a YAML or Python exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, time
from typing import Any

from daemon.plan.errors import ErrorList
from daemon.plan.hints import closest, half_width, listing, suggest  # noqa: F401 (re-exported)
from daemon.plan.yamlsafe import InvalidScalar, YMap, YNode, YSeq, describe

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_DURATION = re.compile(r"^(\d{1,3})\s*([dw天周])$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
# Chinese input methods type these in place of ',' and ':'; YAML sees no separator in them.
_FULL_WIDTH_SEPARATORS = re.compile("[\uff0c\u3001\uff1b]")  # , 、 ;
FULL_WIDTH_COLON = "\uff1a"


class Reader:
    """Field readers bound to one file's error list."""

    def __init__(self, errors: ErrorList):
        self.errors = errors

    def fail(self, node: YNode, path: str, message: str) -> None:
        self.errors.add(node.line, path, message)

    # --- structure -------------------------------------------------------------------

    def mapping(
        self, node: YNode | None, path: str, allowed: Iterable[str], required: Iterable[str] = ()
    ) -> YMap | None:
        """A mapping with only known keys (misspellings get a suggestion) and all required ones."""
        if node is None:
            return None
        if not isinstance(node, YMap):
            colon = (f";冒号是全角的 '{FULL_WIDTH_COLON}',请改成半角 ':' 再加一个空格,如 day: 25"
                     if FULL_WIDTH_COLON in str(node.raw) else "")
            self.fail(node, path, f"这里应是一组 '键: 值',而不是{describe(node)}{colon}")
            return None
        allowed = list(allowed)
        misspelt = set()  # required keys a misspelling already points at: one error, not two
        for key, line in node.key_lines.items():
            if key not in allowed and FULL_WIDTH_COLON in key:
                name, _, value = key.partition(FULL_WIDTH_COLON)
                self.errors.add(line, _join(path, key), f"'{key}' 里的冒号是全角的 '{FULL_WIDTH_COLON}';"
                                                      f"请改成半角冒号加空格:{name.strip()}: {value.strip()}")
                misspelt.add(closest(name.strip(), allowed))
            elif key not in allowed:
                close = closest(key, allowed)
                misspelt.add(close)
                hint = f";您是不是想写 '{close}'?" if close else ";可用的键:" + listing(allowed)
                self.errors.add(line, _join(path, key), f"未知的键 '{key}'{hint}")
        for key in required:
            if key not in node.entries and key not in misspelt:
                self.fail(node, path, f"缺少必填项 '{key}'")
        return node

    def sequence(self, node: YNode | None, path: str) -> list[YNode] | None:
        if node is None:
            return None
        if isinstance(node, YSeq):
            return node.items
        self.fail(node, path, f"这里应是一个列表(每项以 '- ' 开头),而不是{describe(node)}")
        return None

    # --- scalars ---------------------------------------------------------------------

    def text(self, node: YNode | None, path: str, max_len: int = 500) -> str | None:
        if node is None:
            return None
        if isinstance(node, (YMap, YSeq)) or node.value is None:
            self.fail(node, path, f"这里应是一段文字,而不是{describe(node)}")
            return None
        value = node.raw.strip()
        if not value:
            self.fail(node, path, "不能为空")
            return None
        if any(ord(c) < 32 for c in value):
            self.fail(node, path, "不能包含换行或控制字符;请写成一行")
            return None
        if len(value) > max_len:
            self.fail(node, path, f"太长了({len(value)} 字),最多 {max_len} 字")
            return None
        return value

    def slug(self, node: YNode | None, path: str) -> str | None:
        value = self.text(node, path, 64)
        if value is None:
            return None
        if not SLUG.match(value):
            self.fail(node, path, f"'{value}' 不能用作标识;只能用小写英文字母、数字和 '-',如 first-topic-study")
            return None
        return value

    def integer(self, node: YNode | None, path: str, lo: int, hi: int) -> int | None:
        if node is None:
            return None
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(node, path, f"应是 {lo} 到 {hi} 之间的整数,而不是{describe(node)}")
            return None
        if not lo <= value <= hi:
            self.fail(node, path, f"{value} 超出范围;应在 {lo} 到 {hi} 之间")
            return None
        return value

    def number(self, node: YNode | None, path: str) -> float | None:
        if node is None:
            return None
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            self.fail(node, path, f"应是一个数字,而不是{describe(node)}")
            return None
        if value < 0 or value > 1e9:
            self.fail(node, path, f"{value} 超出范围;应是 0 到 10 亿之间的数")
            return None
        return float(value)

    def boolean(self, node: YNode | None, path: str) -> bool | None:
        if node is None:
            return None
        if isinstance(node.value, bool):
            return node.value
        self.fail(node, path, f"应是 true 或 false,而不是{describe(node)}")
        return None

    def choice(self, node: YNode | None, path: str, choices: Iterable[str], what: str) -> str | None:
        if node is None:
            return None
        choices = list(choices)
        value = node.raw.strip() if not isinstance(node, (YMap, YSeq)) else None
        if value in choices:
            return value
        shown = describe(node)
        hint = suggest(value, choices) if value else ""
        self.fail(node, path, f"{shown} 不是可用的{what}{hint or ';可选:' + listing(choices)}")
        return None

    def date(self, node: YNode | None, path: str) -> date | None:
        if node is None:
            return None
        value = node.value
        if isinstance(value, date):
            return value
        if isinstance(value, InvalidScalar) or (isinstance(value, str) and _ISO_DATE.match(value)):
            self.fail(node, path, f"'{node.raw}' 不是存在的日期;请检查月份和日期(如 2026-02-28)")
            return None
        self.fail(node, path, f"应是日期,格式 YYYY-MM-DD(如 2026-03-25),而不是{describe(node)}")
        return None

    def days(self, node: YNode | None, path: str, max_days: int = 366) -> int | None:
        """A duration in whole days: 7d, 2w (also 7天, 2周)."""
        if node is None:
            return None
        # Full-width digits and letters (7d) read as meant; a comma (full-width ones become
        # ',' here) means several durations where one is expected.
        raw = half_width(node.raw.strip()) if not isinstance(node, (YMap, YSeq)) else ""
        match = _DURATION.match(raw)
        if not match:
            several = "(多个时长请写成列表 [7d, 1d],用半角逗号)" if "," in raw else ""
            self.fail(node, path, f"{describe(node)} 不是时长;请写成天数或周数,如 7d、1d、2w{several}")
            return None
        count = int(match.group(1)) * (7 if match.group(2) in "w周" else 1)
        if count > max_days:
            self.fail(node, path, f"{raw} 太长了;最多 {max_days} 天")
            return None
        return count

    def clock_time(self, node: YNode | None, path: str) -> time | None:
        if node is None:
            return None
        raw = half_width(node.raw.strip()) if not isinstance(node, (YMap, YSeq)) else ""
        match = _TIME.match(raw)
        if not match:
            self.fail(node, path, f"{describe(node)} 不是时刻;请写成带引号的 24 小时制,如 \"09:00\"")
            return None
        return time(int(match.group(1)), int(match.group(2)))

    def list_of(self, node: YNode | None, path: str, read_one) -> tuple[Any, ...] | None:
        """A list whose items are read by ``read_one(node, path)``; a lone scalar is a list of one."""
        if node is None:
            return None
        if isinstance(node, YMap):
            self.fail(node, path, "这里应是一个列表,如 [7d, 1d]")
            return None
        items = [part for item in (node.items if isinstance(node, YSeq) else [node]) for part in _split_full_width(item)]
        values = [read_one(n, f"{path}[{i}]") for i, n in enumerate(items)]
        return None if any(v is None for v in values) else tuple(values)


def _split_full_width(node: YNode) -> list[YNode]:
    """'7d,1d' (full-width comma, so YAML saw one value) as the list the admin meant."""
    if isinstance(node, (YMap, YSeq)) or not isinstance(node.value, str) or not _FULL_WIDTH_SEPARATORS.search(node.raw):
        return [node]
    import yaml

    parts = [p.strip() for p in _FULL_WIDTH_SEPARATORS.split(node.raw) if p.strip()]
    out = []
    for part in parts:
        try:
            value = yaml.safe_load(part)
        except yaml.YAMLError:
            value = part
        out.append(YNode(line=node.line, value=value, raw=part))
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
