"""Reading obligations, targets and their due rules out of a plan file."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from dateutil import rrule as dateutil_rrule

from daemon import defaults
from daemon.plan.fields import Reader, listing, suggest
from daemon.plan.hints import PER_PERSON_WORDING, half_width
from daemon.plan.model import (
    LAST_DAY,
    MONTHLY_CADENCES,
    Cadence,
    Comparator,
    DueRule,
    Escalation,
    Obligation,
    Shift,
    Target,
)
from daemon.plan.yamlsafe import YMap, YNode, YSeq, describe

OBLIGATION_KEYS = (
    "id", "item", "title", "source", "basis", "every", "due", "opens", "owner", "lead",
    "participants", "for_each", "each", "remind", "escalate", "if_not_workday",
)
TARGET_KEYS = (
    "id", "item", "title", "source", "basis", *[c.value for c in Comparator],
    "unit", "period", "owner", "per", "report",
)
DUE_KEYS = ("month", "day", "weekday", "nth", "workday", "date", "if_missing", "after", "before")
_AFTER = re.compile(r"^(\d+)\s*(wd|d|个?工作日|天)$")

# Admins may write the cadence in Chinese; each maps to the canonical English value.
CADENCE_WORDS = {
    "每周": Cadence.WEEK, "每月": Cadence.MONTH, "每季度": Cadence.QUARTER,
    "每半年": Cadence.HALF_YEAR, "每年": Cadence.YEAR, "年度": Cadence.YEAR,
    "一次": Cadence.ONCE, "按事件": Cadence.PER_EVENT,
}
_CADENCE_CHOICES = [c.value for c in Cadence if c != Cadence.RRULE]
WEEKDAYS = {
    **{w: i for i, w in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{w: i for i, w in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))},
    **{w: i for i, w in enumerate(("周一", "周二", "周三", "周四", "周五", "周六", "周日"))},
    **{w: i for i, w in enumerate(("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"))},
}
_REPORT_CHOICES = [c.value for c in MONTHLY_CADENCES]
_RRULE_FREQS = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY")


@dataclass
class PlanDefaults:
    """Plan-level defaults an obligation falls back on, with the lines they came from."""

    remind_days: tuple[int, ...] = defaults.REMIND_DAYS
    escalate: Escalation | None = None
    if_not_workday: Shift = Shift.PREVIOUS
    opens_days: int | None = None
    due: dict[Cadence, tuple[DueRule, int]] = field(default_factory=dict)


@dataclass
class Refs:
    """Role and item references to check once the whole file is read: (line, path, role)."""

    roles: list[tuple[int, str, str]] = field(default_factory=list)
    items: list[tuple[int, str, int]] = field(default_factory=list)


def _empty_first_year(rule, year: int) -> bool:
    """Whether ``rule`` (starting January 1st of ``year``) has no date in that year.

    A rule with no date at all (February 30th) sends dateutil walking to the year 9999 before
    it gives up: seconds of work from one line of a plan. So ask in the year close to 9999
    with the same calendar (weekday of January 1st, leap day) instead, where the walk is short.
    UNTIL and COUNT only ever remove dates, so they are left out of the question.
    """
    if not isinstance(rule, dateutil_rrule.rrule):
        return False
    twin = next(
        y for y in range(datetime.max.year, datetime.max.year - 28, -1)
        if calendar.isleap(y) == calendar.isleap(year) and date(y, 1, 1).weekday() == date(year, 1, 1).weekday()
    )
    start = datetime(twin, 1, 1)
    first = rule.replace(dtstart=start, until=None, count=None).after(start, inc=True)
    return first is None or first.year != twin


class DutyReader(Reader):
    def __init__(self, errors, year: int | None, defaults: PlanDefaults, refs: Refs,
                 roles: dict[str, str] | None = None):
        super().__init__(errors)
        self.year = year
        self.defaults = defaults
        self.refs = refs
        # A role may be written by its name (owner: 青年干部), as `agenda` shows it.
        self.role_ids = {name: role_id for role_id, name in (roles or {}).items()}
        self.due_lines: dict[str, int] = {}  # obligation id → line of the due rule it uses

    # --- shared ----------------------------------------------------------------------

    def role(self, node: YNode | None, path: str) -> str | None:
        """A role id, or a role's name from `roles:` (its id is returned); an unknown one is
        reported with the roles there are once the whole file is read."""
        value = self.text(node, path, 64)
        if value is not None:
            value = self.role_ids.get(value, value)
            self.refs.roles.append((node.line, path, value))
        return value

    def item(self, node: YNode | None, path: str) -> int | None:
        value = self.integer(node, path, 1, 999)
        if value is not None:
            self.refs.items.append((node.line, path, value))
        return value

    def cadence(self, node: YNode | None, path: str, allow_special: bool = True) -> tuple[Cadence, str | None] | None:
        if node is None:
            return None
        raw = node.raw.strip() if not isinstance(node, (YMap, YSeq)) else ""
        if raw.lower().startswith("rrule:") and allow_special:
            rule = self._rrule(node, path, raw[len("rrule:"):].strip())
            return None if rule is None else (Cadence.RRULE, rule)
        choices = _CADENCE_CHOICES if allow_special else [c.value for c in MONTHLY_CADENCES]
        if raw in CADENCE_WORDS and CADENCE_WORDS[raw].value in choices:
            return CADENCE_WORDS[raw], None
        value = self.choice(node, path, choices, "周期")
        return None if value is None else (Cadence(value), None)

    def _rrule(self, node: YNode, path: str, rule: str) -> str | None:
        freq = re.search(r"FREQ=(\w+)", rule.upper())
        if "DTSTART" in rule.upper():
            self.fail(node, path, "rrule 里不要写 DTSTART;规则从计划年度的 1 月 1 日开始")
            return None
        if not freq or freq.group(1) not in _RRULE_FREQS:
            self.fail(node, path, f"rrule 需要 FREQ={'/'.join(_RRULE_FREQS)} 之一(精确到天),如 rrule:FREQ=MONTHLY;BYMONTHDAY=15")
            return None
        if re.search(r"BY(HOUR|MINUTE|SECOND)", rule.upper()):
            self.fail(node, path, "rrule 只精确到天,不要写 BYHOUR/BYMINUTE/BYSECOND;提醒的时刻由 plan.defaults.send_at 决定")
            return None
        try:
            start = datetime(self.year or 2000, 1, 1)
            dates = dateutil_rrule.rrulestr(rule, dtstart=start)
            empty = "BYEASTER" not in rule.upper() and _empty_first_year(dates, start.year)
            first = None if empty else dates.after(start, inc=True)
        except (ValueError, TypeError) as exc:
            self.fail(node, path, f"rrule 写法不对({exc});请按 RFC 5545 书写,如 rrule:FREQ=MONTHLY;BYMONTHDAY=15")
            return None
        if first is None or (self.year and first.year != self.year):
            self.fail(node, path, f"这条 rrule 在 {self.year} 年里一个日期也没有;请检查各项 BY… 条件能否同时成立(如 2 月没有 30 日)")
            return None
        return rule

    def escalation(self, node: YNode | None, path: str) -> Escalation | None | bool:
        """An Escalation, False for 'no escalation', None after an error."""
        if node is None:
            return None
        if node.value is False:
            return False
        if not isinstance(node, YMap):
            self.fail(node, path, f"应写成 {{after: 3d, to: party-secretary}},不需要升级提醒则写 false;而不是{describe(node)}")
            return None
        fields = self.mapping(node, path, ("after", "to"), ("after", "to"))
        if fields is None:
            return None
        after = self.days(fields.entries.get("after"), f"{path}.after")
        to = self.role(fields.entries.get("to"), f"{path}.to")
        return None if after is None or to is None else Escalation(after, to)

    def shift(self, node: YNode | None, path: str) -> Shift | None:
        value = self.choice(node, path, [s.value for s in Shift], "非工作日处理方式")
        return None if value is None else Shift(value)

    def opens(self, node: YNode | None, path: str) -> int | None | bool:
        """Days before due, None for 'when the period starts', False after an error."""
        if node is None or node.raw.strip() == "period":
            return None
        value = self.days(node, path)
        return False if value is None else value

    def reminders(self, node: YNode | None, path: str) -> tuple[int, ...] | None:
        values = self.list_of(node, path, self.days)
        return None if values is None else tuple(sorted(set(values), reverse=True))

    # --- due rules -------------------------------------------------------------------

    def due_rule(self, node: YNode | None, path: str, cadence: Cadence) -> DueRule | None:
        if node is None:
            return None
        after_event = cadence == Cadence.PER_EVENT and isinstance(node, YMap) and "after" in node.entries
        if cadence in (Cadence.PER_EVENT, Cadence.RRULE) and not after_event:
            if cadence == Cadence.PER_EVENT:
                self.fail(node, path, "every: per-event 的日期由事件决定,due 只能写 {after: 5wd}(事件后第 5 个工作日到期);否则请删去 due")
            else:
                self.fail(node, path, "every: rrule 不用写 due;日期由规则本身决定,请删去 due")
            return None
        if not isinstance(node, (YMap, YSeq)):
            return self._due_shorthand(node, path, cadence)
        fields = self.mapping(node, path, DUE_KEYS)
        if fields is None:
            return None
        get = fields.entries.get
        before = len(self.errors.errors)
        if "date" in fields.entries:
            return self._due_shorthand(get("date"), f"{path}.date", cadence)
        if "after" in fields.entries or "before" in fields.entries:
            return self._after_period(fields, path, cadence)
        month = self.integer(get("month"), f"{path}.month", 1, 12)
        day = self._day(get("day"), f"{path}.day")
        weekday = self._weekday(get("weekday"), f"{path}.weekday")
        nth = self.integer(get("nth"), f"{path}.nth", -1, 5) if "nth" in fields.entries else None
        workday = self.integer(get("workday"), f"{path}.workday", -23, 23) if "workday" in fields.entries else None
        if_missing = self.choice(get("if_missing"), f"{path}.if_missing", ("last",), "缺日处理方式")
        if len(self.errors.errors) > before:
            return None
        if if_missing and (day is None or day == LAST_DAY):
            self.fail(node, path, "if_missing 要和 day 一起写,如 {day: 30, if_missing: last}(小月和 2 月取月底)")
            return None
        chosen = [k for k in ("day", "weekday", "workday") if k in fields.entries]
        if len(chosen) > 1:
            self.fail(node, path, f"{' 和 '.join(chosen)} 只能选一个:day 是几号,weekday 是星期几,workday 是第几个工作日")
            return None
        if nth == 0 or workday == 0:
            self.fail(node, path, "nth 和 workday 从 1 开始数,-1 表示最后一个;不能为 0")
            return None
        if nth is not None and weekday is None:
            self.fail(node, path, "nth(第几个)要和 weekday(星期几)一起写,如 {weekday: fri, nth: 2}")
            return None
        if cadence == Cadence.WEEK and (month is not None or day is not None or nth is not None):
            self.fail(node, path, "every: week 的 due 只能写 weekday(如 {weekday: fri})或 workday: -1")
            return None
        if cadence == Cadence.ONCE:
            self.fail(node, path, "every: once 的 due 应是一个日期,如 due: 2026-12-20")
            return None
        if cadence in MONTHLY_CADENCES and month is not None and month > cadence.months:
            self.fail(node, path, f"month: {month} 超出了周期:month 是每期内的第几个月,every: {cadence.value} 只能写 1 到 {cadence.months}")
            return None
        return DueRule(month=month, day=day, weekday=weekday, nth=nth, workday=workday,
                       last_if_missing=bool(if_missing))

    def _after_period(self, fields: YMap, path: str, cadence: Cadence) -> DueRule | None:
        """`{after: 5wd}`: N working days (or `5d` days) after the period ends; with
        `before: <obligation id>`, never later than the day before that duty's due date."""
        get = fields.entries.get
        others = [k for k in fields.entries if k not in ("after", "before")]
        if others or "after" not in fields.entries:
            self.fail(fields, path, "after(期满后第几个工作日)单独写,可加 before;如 {after: 5wd} 或 "
                                    "{after: 5wd, before: annual-assessment}" + (f",不要再写 {listing(others)}" if others else ""))
            return None
        if cadence not in (Cadence.WEEK, Cadence.PER_EVENT, *MONTHLY_CADENCES):
            self.fail(fields, path, f"after 用于按周、月、季、半年、年或按事件的职责;every: {cadence.value} 请写具体日期")
            return None
        if cadence == Cadence.PER_EVENT and "before" in fields.entries:
            self.fail(fields, path, "按事件的职责只写 after(事件后第几个工作日),不写 before")
            return None
        node = get("after")
        match = _AFTER.match(half_width(node.raw.strip())) if not isinstance(node, (YMap, YSeq)) else None
        if not match or not 1 <= int(match.group(1)) <= defaults.MAX_AFTER:
            self.fail(node, f"{path}.after", f"{describe(node)} 不是期满后的天数;请写 5wd(期满后第 5 个工作日)或 3d(期满后第 3 天)")
            return None
        count, workdays = int(match.group(1)), match.group(2) != "d" and match.group(2) != "天"
        before = self.slug(get("before"), f"{path}.before") if "before" in fields.entries else None
        if "before" in fields.entries and before is None:
            return None
        return DueRule(after_workdays=count if workdays else None, after_days=None if workdays else count, before=before)

    def _due_shorthand(self, node: YNode, path: str, cadence: Cadence) -> DueRule | None:
        raw = node.raw.strip()
        if isinstance(node.value, date) or re.match(r"^\d{4}-\d{1,2}-\d{1,2}$", raw):
            on = self.date(node, path)
            if on is None:
                return None
            if cadence != Cadence.ONCE:
                self.fail(node, path, f"固定日期只用于 every: once;every: {cadence.value} 请写 {{day: 25}} 或 {{month: 3, day: 20}}")
                return None
            if self.year and on.year != self.year:
                self.fail(node, path, f"{on.isoformat()} 不在计划年度 {self.year} 年内")
                return None
            return DueRule(on=on)
        if cadence == Cadence.ONCE:
            self.fail(node, path, "every: once 的 due 应是一个日期,如 due: 2026-12-20")
            return None
        if raw in ("last-workday", "最后一个工作日"):
            return DueRule(workday=-1)
        if raw in ("last", "月底"):
            return DueRule(day=LAST_DAY)
        if isinstance(node.value, int) and not isinstance(node.value, bool):
            if cadence == Cadence.WEEK:
                self.fail(node, path, "every: week 的 due 请写星期几,如 {weekday: fri}")
                return None
            day = self.integer(node, path, 1, 31)
            return None if day is None else DueRule(day=day)
        self.fail(node, path, f"{describe(node)} 不是到期规则;可写 25、last-workday、{{month: 3, day: 20}} 或 {{weekday: fri, nth: 2}}")
        return None

    def _day(self, node: YNode | None, path: str) -> int | None:
        if node is None:
            return None
        if node.raw.strip() in ("last", "月底"):
            return LAST_DAY
        return self.integer(node, path, 1, 31)

    def _weekday(self, node: YNode | None, path: str) -> int | None:
        if node is None:
            return None
        raw = node.raw.strip().lower()
        if raw in WEEKDAYS:
            return WEEKDAYS[raw]
        self.fail(node, path, f"{describe(node)} 不是星期几{suggest(raw, WEEKDAYS) or ';可写 mon…sun 或 周一…周日'}")
        return None

    # --- obligations and targets -----------------------------------------------------

    def obligation(self, node: YNode, path: str) -> Obligation | None:
        fields = self.mapping(node, path, OBLIGATION_KEYS, ("id", "item", "title", "source", "every", "owner"))
        if fields is None:
            return None
        get = fields.entries.get
        before = len(self.errors.errors)
        ident = self.slug(get("id"), f"{path}.id")
        item = self.item(get("item"), f"{path}.item")
        title = self.text(get("title"), f"{path}.title", 100)
        source = self.text(get("source"), f"{path}.source")
        basis = self.text(get("basis"), f"{path}.basis", 200)
        every = self.cadence(get("every"), f"{path}.every")
        owner = self.role(get("owner"), f"{path}.owner")
        lead = self.role(get("lead"), f"{path}.lead")
        participants = self.list_of(get("participants"), f"{path}.participants", self.role) or ()
        for_each = self.role(get("for_each"), f"{path}.for_each")
        each = self.boolean(get("each"), f"{path}.each")
        if each and for_each:
            self.fail(get("each"), f"{path}.each", "for_each 已是每人一项(关于每位对象);each: true 是每位责任人各办一项,二者只写一个")
        remind = self.reminders(get("remind"), f"{path}.remind")
        escalate = self.escalation(get("escalate"), f"{path}.escalate")
        shift = self.shift(get("if_not_workday"), f"{path}.if_not_workday")
        opens = self.opens(get("opens"), f"{path}.opens")
        due = None
        if every is not None:
            cadence = every[0]
            due = self.due_rule(get("due"), f"{path}.due", cadence)
            if due is not None:
                self.due_lines[ident or ""] = get("due").line
            elif "due" not in fields.entries and cadence in self.defaults.due:
                due, line = self.defaults.due[cadence]
                self.due_lines[ident or ""] = line
            elif "due" not in fields.entries and cadence == Cadence.ONCE:
                self.fail(fields, path, "every: once 需要写 due 日期,如 due: 2026-12-20")
        if len(self.errors.errors) > before or every is None:
            return None
        return Obligation(
            id=ident, item=item, title=title, source=source, basis=basis,
            every=every[0], rrule=every[1], due=due, owner=owner,
            opens_days=self.defaults.opens_days if "opens" not in fields.entries else opens,
            participants=participants, lead=lead, for_each=for_each, each=bool(each),
            remind_days=self.defaults.remind_days if remind is None else remind,
            escalate=self.defaults.escalate if escalate is None else (escalate or None),
            if_not_workday=shift or self.defaults.if_not_workday,
            line=node.line,
        )

    def target(self, node: YNode, path: str) -> Target | None:
        fields = self.mapping(node, path, TARGET_KEYS, ("id", "item", "title", "source", "unit", "owner"))
        if fields is None:
            return None
        get = fields.entries.get
        before = len(self.errors.errors)
        comparators = [c for c in Comparator if c.value in fields.entries]
        if len(comparators) != 1:
            names = listing(c.value for c in Comparator)
            self.fail(fields, path, f"要写且只写一个指标要求({names}),如 at_least: 500")
        comparator = comparators[0] if len(comparators) == 1 else None
        value = self.number(get(comparator.value), f"{path}.{comparator.value}") if comparator else None
        unit = self.text(get("unit"), f"{path}.unit", 8)
        if comparator == Comparator.REDUCE_BY and unit not in (None, "%"):
            self.fail(get("unit"), f"{path}.unit", "reduce_by 是同比减少的百分比,unit 请写 '%'")
        if unit == "%" and value is not None and value > 100:
            self.fail(get(comparator.value), f"{path}.{comparator.value}", f"{value:g}% 超过了 100%")
        period = self.cadence(get("period"), f"{path}.period", allow_special=False)
        report = self.choice(get("report"), f"{path}.report", _REPORT_CHOICES, "报送周期")
        per = self.role(get("per"), f"{path}.per")
        source_node = get("source")
        if "per" not in fields.entries and source_node is not None and PER_PERSON_WORDING.search(str(source_node.raw)):
            words = PER_PERSON_WORDING.search(str(source_node.raw)).group(0)
            self.fail(source_node, f"{path}.source", f"原文“{words}…”是按人计的指标,每人各有自己的进度;请加 per: 角色(如 per: staff),"
                                                   "否则一人填报的进度会算作所有人的")
        target = Target(
            id=self.slug(get("id"), f"{path}.id"),
            item=self.item(get("item"), f"{path}.item"),
            title=self.text(get("title"), f"{path}.title", 100),
            source=self.text(get("source"), f"{path}.source"),
            basis=self.text(get("basis"), f"{path}.basis", 200),
            comparator=comparator, value=value, unit=unit,
            owner=self.role(get("owner"), f"{path}.owner"),
            period=period[0] if period else Cadence.YEAR,
            report=Cadence(report) if report else Cadence.QUARTER,
            per=per, line=node.line,
        )
        return None if len(self.errors.errors) > before else target
