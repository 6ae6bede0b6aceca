"""Loading one plan file: the `plan`, `roles`, `obligations` and `targets` sections.

The file is refused whole on any error, and every error is reported at once.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import replace
from pathlib import Path

from daemon.defaults import TIMEZONE
from daemon.plan.duties import DutyReader, PlanDefaults, Refs
from daemon.plan.errors import ErrorList, ScheduleInvalid
from daemon.plan.fields import Reader, listing, suggest
from daemon.plan.model import Cadence, CalendarSpec, DueRule, Plan
from daemon.plan.periods import DueRuleError, nominal_due, periods_of
from daemon.plan.workdays import WorkdayCalendar, has_official_arrangement, supported_countries
from daemon.plan.yamlsafe import YMap, YNode, YSeq, describe, load_yaml

TOP_KEYS = ("plan", "roles", "obligations", "targets")
PLAN_KEYS = ("title", "year", "office", "timezone", "document", "calendar", "defaults", "items")
CALENDAR_KEYS = ("country", "extra_holidays", "extra_workdays")
DEFAULTS_KEYS = ("send_at", "remind", "escalate", "if_not_workday", "opens", "due")

# Without a plan-level `defaults.due`, a duty is due on the last working day of its period
# (or the Friday of its week): the latest date that is still inside the period.
BUILTIN_DUE = {Cadence.WEEK: DueRule(weekday=4)} | {
    c: DueRule(workday=-1) for c in (Cadence.MONTH, Cadence.QUARTER, Cadence.HALF_YEAR, Cadence.YEAR)
}


def read_text(path: Path, errors: ErrorList) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        errors.add(1, "", f"无法读取文件:{exc.strerror or exc}")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        errors.add(1, "", "文件不是 UTF-8 编码;请用 UTF-8 保存(记事本“另存为”可选编码)")
        return None


def load_plan_file(path: str | Path) -> tuple[Plan, list]:
    """The plan in ``path`` and its warnings; raises ScheduleInvalid with every error."""
    path = Path(path)
    errors = ErrorList(str(path))
    text = read_text(path, errors)
    root = load_yaml(text, errors) if text is not None else None
    plan = None
    if root is None and not errors:
        errors.add(1, "", "文件是空的;日程至少需要 plan: 一节")
    elif root is not None:
        plan = _read_plan(root, path, errors)
    if errors or plan is None:
        raise ScheduleInvalid(errors.errors, errors.warnings)
    return plan, errors.warnings


def _read_plan(root: YNode, path: Path, errors: ErrorList) -> Plan | None:
    reader = Reader(errors)
    if not isinstance(root, YMap):
        errors.add(root.line, "", f"文件顶层应是 plan:、roles:、obligations:、targets: 这样的 '键: 值',而不是{describe(root)}")
        return None
    top = reader.mapping(root, "", TOP_KEYS, ("plan",))
    if top is None:
        return None
    head = reader.mapping(top.entries.get("plan"), "plan", PLAN_KEYS, ("title", "year"))
    if head is None:
        return None
    get = head.entries.get
    year = reader.integer(get("year"), "plan.year", 2000, 2100)
    title = reader.text(get("title"), "plan.title", 100)
    office = reader.text(get("office"), "plan.office", 60)
    timezone = _timezone(reader, get("timezone"))
    calendar = _calendar(reader, get("calendar"), year)
    items = _items(reader, get("items"))
    document = _document(reader, get("document"), path)

    refs = Refs()
    defaults = PlanDefaults()
    scopes: dict[str, set[str]] = {"branch": set(), "one": set()}
    roles = _roles(reader, top.entries.get("roles"), scopes)
    duties = DutyReader(errors, year, defaults, refs, roles)
    send_at = _defaults(duties, get("defaults"), defaults)

    obligations = _list(duties, top.entries.get("obligations"), "obligations", duties.obligation)
    targets = _list(duties, top.entries.get("targets"), "targets", duties.target)
    _check_unique_ids(errors, top, obligations, targets)
    _check_refs(errors, refs, roles, items)
    if document is not None:
        _check_sources(errors, top, document, obligations, targets)
    if errors or year is None or calendar is None:
        return None
    plan = Plan(
        title=title, year=year, file=str(path), office=office, timezone=timezone or TIMEZONE,
        calendar=calendar, items=items or {}, roles=roles or {},
        branch_roles=frozenset(scopes["branch"]), single_roles=frozenset(scopes["one"]),
        obligations=tuple(o for o in obligations if o), targets=tuple(t for t in targets if t),
    )
    if send_at is not None:
        plan = replace(plan, send_at=send_at)
    _check_due_rules(errors, plan, duties.due_lines)
    _check_before(errors, plan, duties.due_lines)
    if not has_official_arrangement(calendar.country, year, calendar):
        errors.warn(
            get("year").line, "plan.year",
            f"holidays 数据里还没有 {year} 年的官方放假调休安排;公布后请升级 holidays 包,"
            "或在 plan.calendar.extra_holidays / extra_workdays 中补上",
        )
    return None if errors else plan


def _timezone(reader: Reader, node: YNode | None) -> str | None:
    value = reader.text(node, "plan.timezone", 64)
    if value is None:
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zones = zoneinfo.available_timezones()
        reader.fail(node, "plan.timezone", f"'{value}' 不是 IANA 时区名{suggest(value, zones) or ',如 Asia/Shanghai'}")
        return None
    return value


def _calendar(reader: Reader, node: YNode | None, year: int | None) -> CalendarSpec | None:
    if node is None:
        return CalendarSpec()
    fields = reader.mapping(node, "plan.calendar", CALENDAR_KEYS)
    if fields is None:
        return None
    get = fields.entries.get
    country = "CN"
    if "country" in fields.entries:
        country = _country(reader, get("country"))
    spec = {}
    for key in ("extra_holidays", "extra_workdays"):
        days = reader.list_of(get(key), f"plan.calendar.{key}", reader.date) or ()
        for i, day in enumerate(days):
            if year is not None and day.year != year:
                node_i = get(key).items[i] if hasattr(get(key), "items") else get(key)
                reader.fail(node_i, f"plan.calendar.{key}[{i}]", f"{day.isoformat()} 不在计划年度 {year} 年内")
        spec[key] = frozenset(days)
    both = spec["extra_holidays"] & spec["extra_workdays"]
    if both:
        reader.fail(fields, "plan.calendar", f"{listing(sorted(d.isoformat() for d in both))} 同时写在了 extra_holidays 和 extra_workdays 里;请只留一处")
    return None if country is None else CalendarSpec(country, spec["extra_holidays"], spec["extra_workdays"])


def _country(reader: Reader, node: YNode) -> str | None:
    countries = supported_countries()  # hundreds: never list them all in a message
    raw = node.raw.strip() if not isinstance(node, (YMap, YSeq)) else ""
    if raw in countries:
        return raw
    hint = f";您是不是想写 '{raw.upper()}'?" if raw.upper() in countries else ";请写大写的国家代码,如中国写 CN"
    reader.fail(node, "plan.calendar.country", f"{describe(node)} 不是 holidays 包支持的国家代码{hint}")
    return None


def _items(reader: Reader, node: YNode | None) -> dict[int, str] | None:
    fields = reader.mapping(node, "plan.items", ()) if not isinstance(node, YMap) else node
    if fields is None:
        return None
    items = {}
    for key, value_node in fields.entries.items():
        path = f"plan.items.{key}"
        if not re.fullmatch(r"\d{1,3}", key) or int(key) == 0:
            reader.errors.add(fields.key_lines[key], path, f"'{key}' 不是条目编号;请写 1、2、3 … 这样的数字")
            continue
        title = reader.text(value_node, path, 100)
        if title:
            items[int(key)] = title
    return items


def _document(reader: Reader, node: YNode | None, plan_path: Path) -> str | None:
    value = reader.text(node, "plan.document", 300)
    if value is None:
        return None
    doc = plan_path.parent / value
    try:
        return doc.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        reader.fail(node, "plan.document", f"读不到原文文件 {doc};请确认路径(相对于本文件)并用 UTF-8 保存")
        return None


def _defaults(duties: DutyReader, node: YNode | None, defaults: PlanDefaults):
    """Fill ``defaults`` from plan.defaults; returns send_at (or None)."""
    fields = duties.mapping(node, "plan.defaults", DEFAULTS_KEYS)
    for cadence, rule in BUILTIN_DUE.items():
        defaults.due[cadence] = (rule, 1)
    if fields is None:
        return None
    get = fields.entries.get
    remind = duties.reminders(get("remind"), "plan.defaults.remind")
    if remind is not None:
        defaults.remind_days = remind
    escalate = duties.escalation(get("escalate"), "plan.defaults.escalate")
    if escalate:
        defaults.escalate = escalate
    shift = duties.shift(get("if_not_workday"), "plan.defaults.if_not_workday")
    if shift:
        defaults.if_not_workday = shift
    opens = duties.opens(get("opens"), "plan.defaults.opens")
    if opens is not False:
        defaults.opens_days = opens
    due_map = duties.mapping(get("due"), "plan.defaults.due", [c.value for c in BUILTIN_DUE])
    if due_map is not None:
        for key, rule_node in due_map.entries.items():
            if key in [c.value for c in BUILTIN_DUE]:
                rule = duties.due_rule(rule_node, f"plan.defaults.due.{key}", Cadence(key))
                if rule is not None:
                    defaults.due[Cadence(key)] = (rule, rule_node.line)
    return duties.clock_time(get("send_at"), "plan.defaults.send_at")


ROLE_KEYS = ("name", "scope", "one")


def _roles(reader: Reader, node: YNode | None, scopes: dict[str, set[str]]) -> dict[str, str] | None:
    """Role id → name. A role written ``{name: 支部书记, scope: branch, one: true}`` is held
    inside a 支部 (added to ``scopes["branch"]``), and with ``one`` by at most one person per
    branch (``scopes["one"]``)."""
    if node is None:
        return {}
    fields = reader.mapping(node, "roles", ())  if not isinstance(node, YMap) else node
    if fields is None:
        return None
    roles = {}
    for key, value_node in fields.entries.items():
        path = f"roles.{key}"
        key_node = YNode(line=fields.key_lines[key], value=key, raw=key)
        role_id = reader.slug(key_node, path)
        if isinstance(value_node, YMap):
            spec = reader.mapping(value_node, path, ROLE_KEYS, ("name",))
            if spec is None:
                continue
            get = spec.entries.get
            name = reader.text(get("name"), f"{path}.name", 30)
            scope = reader.choice(get("scope"), f"{path}.scope", ("branch", "office"), "范围(branch:支部内;office:全机关)")
            one = reader.boolean(get("one"), f"{path}.one")
            if one and scope != "branch":
                reader.fail(value_node, path, "one: true 表示每个支部只有一人担任,要和 scope: branch 一起写")
            if role_id and scope == "branch":
                scopes["branch"].add(role_id)
                if one:
                    scopes["one"].add(role_id)
        else:
            name = reader.text(value_node, path, 30)
        if role_id and name:
            roles[role_id] = name
    return roles


def _list(duties: DutyReader, node: YNode | None, path: str, read_one) -> list:
    items = duties.sequence(node, path)
    return [read_one(n, f"{path}[{i}]") for i, n in enumerate(items or ())]


def _check_unique_ids(errors: ErrorList, top: YMap, obligations: list, targets: list) -> None:
    seen: dict[str, int] = {}
    for kind, values in (("obligations", obligations), ("targets", targets)):
        nodes = top.entries[kind].items if kind in top.entries and hasattr(top.entries[kind], "items") else []
        for i, (value, node) in enumerate(zip(values, nodes, strict=False)):
            if value is None:
                continue
            if value.id in seen:
                errors.add(node.line, f"{kind}[{i}].id", f"重复的 id '{value.id}'(第 {seen[value.id]} 行已用过);每项职责和指标的 id 都要不同")
            else:
                seen[value.id] = node.line


def _check_refs(errors: ErrorList, refs: Refs, roles: dict | None, items: dict | None) -> None:
    if roles is not None:
        for line, path, role in refs.roles:
            if role not in roles:
                errors.add(line, path, unknown_role(role, roles) + "(或在 roles 中添加它)")
    if items:
        for line, path, item in refs.items:
            if item not in items:
                errors.add(line, path, f"条目 {item} 不在 plan.items 中(已有编号 {min(items)}–{max(items)});请改用已有的编号,或在 plan.items 中添加它")


def unknown_role(role: str, roles: dict[str, str]) -> str:
    """'X' is no role: the close one if any, and always the roles there are, id and name."""
    hint = suggest(role, [*roles, *roles.values()])
    there = listing(f"{role_id}({name})" for role_id, name in roles.items()) or "(日程还没有定义角色)"
    return f"未定义的角色 '{role}'{hint};可用的角色(写 id 或名称均可):{there}"


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _check_sources(errors: ErrorList, top: YMap, document: str, obligations: list, targets: list) -> None:
    text = _squash(document)
    for kind, values in (("obligations", obligations), ("targets", targets)):
        for i, value in enumerate(values):
            if value is None or value.basis or _squash(value.source) in text:
                continue
            node = top.entries[kind].items[i].entries.get("source")
            errors.add(node.line, f"{kind}[{i}].source", "在原文中找不到这句话;请从原文逐字复制(全角标点也要一致),不是原文的要求请用 basis 注明出处")


def _check_before(errors: ErrorList, plan: Plan, due_lines: dict[str, int]) -> None:
    """`due: {after: 5wd, before: X}`: X is another duty of this plan with periods of its own."""
    dated = {o.id: o for o in plan.obligations if o.every.months or o.every == Cadence.WEEK}
    for index, ob in enumerate(plan.obligations):
        ref = ob.due.before if ob.due else None
        if ref is None:
            continue
        if ref == ob.id or ref not in dated:
            hint = suggest(ref, [i for i in dated if i != ob.id]) or f";可用的职责:{listing(i for i in dated if i != ob.id)}"
            errors.add(due_lines.get(ob.id, ob.line), f"obligations[{index}].due.before",
                       f"before 应是本日程中另一项按周期的职责的 id,而不是 '{ref}'{hint}")


def _check_due_rules(errors: ErrorList, plan: Plan, due_lines: dict[str, int]) -> None:
    """Place every due rule in every period of the year: impossible dates surface here."""
    cal = WorkdayCalendar(plan.calendar)
    for index, ob in enumerate(plan.obligations):
        if ob.due is None or ob.every.months == 0:
            continue
        for period in periods_of(ob.every, plan.year):
            try:
                nominal_due(ob.due, ob.every, period, cal)
            except DueRuleError as exc:
                errors.add(due_lines.get(ob.id, ob.line), f"obligations[{index}].due", f"{exc}")
                break
