"""Loading the roster: the people behind the roles. Personal data: only an example is committed."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from daemon import defaults
from daemon.plan.errors import ErrorList, ScheduleInvalid
from daemon.plan.fields import Reader
from daemon.plan.hints import listing, suggest
from daemon.plan.loader import read_text, unknown_role
from daemon.plan.model import CHANNELS, Person, Roster
from daemon.plan.yamlsafe import YMap, YNode, describe, load_yaml

PERSON_KEYS = ("id", "name", "email", "phone", "wecom", "dingtalk", "feishu", "branch", "roles", "channels")
BRANCH_KEYS = ("id", "name")
_PHONE = re.compile(r"^\+?[\d\s()-]{5,20}$")
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


def load_roster(path: str | Path, roles: dict[str, str] | None) -> Roster:
    """The roster in ``path``; ``roles`` (all plans' roles) checks every role it names."""
    path = Path(path)
    errors = ErrorList(str(path))
    text = read_text(path, errors)
    root = load_yaml(text, errors) if text is not None else None
    branches: dict[str, str] = {}
    people = _read(root, errors, roles, branches) if root is not None else None
    if root is None and not errors:
        errors.add(1, "", "文件是空的;名册需要 people: 列表")
    if errors or people is None:
        raise ScheduleInvalid(errors.errors)
    return Roster(people=tuple(people), file=str(path), branches=branches)


def _branches(reader: Reader, node: YNode | None, out: dict[str, str]) -> dict[str, int]:
    """Fill ``out`` (id → name) from `branches:`; returns each id's line."""
    lines: dict[str, int] = {}
    for i, item in enumerate(reader.sequence(node, "branches") or ()):
        path = f"branches[{i}]"
        fields = reader.mapping(item, path, BRANCH_KEYS, BRANCH_KEYS)
        if fields is None:
            continue
        branch_id = reader.slug(fields.entries.get("id"), f"{path}.id")
        name = reader.text(fields.entries.get("name"), f"{path}.name", 30)
        if branch_id in lines:
            reader.fail(item, path, f"支部 id '{branch_id}' 与第 {lines[branch_id]} 行重复;每个支部的 id 要不同")
        elif branch_id and name:
            out[branch_id], lines[branch_id] = name, item.line
    return lines


def _read(root: YNode, errors: ErrorList, roles: dict[str, str] | None, branches: dict[str, str]) -> list[Person] | None:
    reader = Reader(errors)
    if not isinstance(root, YMap):
        errors.add(root.line, "", f"名册顶层应是 'people:',人员逐个列在它下面(每人以 '- ' 开头),而不是{describe(root)}")
        return None
    top = reader.mapping(root, "", ("branches", "people"), ("people",))
    if top is None:
        return None
    branch_lines = _branches(reader, top.entries.get("branches"), branches)
    people, ids, emails = [], {}, {}
    by_name = {name: role_id for role_id, name in (roles or {}).items()}
    for i, node in enumerate(reader.sequence(top.entries.get("people"), "people") or ()):
        path = f"people[{i}]"
        fields = reader.mapping(node, path, PERSON_KEYS, ("id", "name", "roles"))
        if fields is None:
            continue
        get = fields.entries.get
        person_id = reader.slug(get("id"), f"{path}.id")
        email = _email(reader, get("email"), f"{path}.email")
        person_roles = reader.list_of(get("roles"), f"{path}.roles", lambda n, p: reader.text(n, p, 64)) or ()
        person_roles = tuple(by_name.get(role, role) for role in person_roles)  # 青年干部 → youth
        for j, role in enumerate(person_roles):
            if roles is not None and role not in roles and role != defaults.ADMIN_ROLE:
                role_node = get("roles").items[j] if hasattr(get("roles"), "items") else get("roles")
                reader.fail(role_node, f"{path}.roles[{j}]", unknown_role(role, roles))
        for value, seen, what in ((person_id, ids, "id"), (email, emails, "邮箱")):
            if value and value in seen:
                reader.fail(node, path, f"{what} '{value}' 与第 {seen[value]} 行的人重复;每人的 {what} 要不同")
            elif value:
                seen[value] = node.line
        person = Person(
            id=person_id, name=reader.text(get("name"), f"{path}.name", 30) or "", email=email,
            wecom=reader.text(get("wecom"), f"{path}.wecom", 64),
            dingtalk=reader.text(get("dingtalk"), f"{path}.dingtalk", 64),
            feishu=reader.text(get("feishu"), f"{path}.feishu", 64),
            phone=_phone(reader, get("phone"), f"{path}.phone"),
            roles=tuple(person_roles), branch=_branch(reader, get("branch"), f"{path}.branch", branches),
            line=node.line,
        )
        channels = _channels(reader, get("channels"), f"{path}.channels", person)
        people.append(replace(person, channels=channels) if channels else person)
    for branch_id, line in branch_lines.items():
        if branch_id in ids:  # a branch's duty is numbered <duty>/<period>/<branch id>, a person's by theirs
            errors.add(line, "branches", f"支部 id '{branch_id}' 与第 {ids[branch_id]} 行人员的 id 相同;请换一个支部 id(如 branch-1)")
    return people


def _branch(reader: Reader, node: YNode | None, path: str, branches: dict[str, str]) -> str | None:
    """A branch by id or by name (第一支部), one of `branches:`."""
    value = reader.text(node, path, 64)
    if value is None:
        return None
    by_name = {name: branch_id for branch_id, name in branches.items()}
    if value in branches or value in by_name:
        return by_name.get(value, value)
    if not branches:
        reader.fail(node, path, "名册里还没有支部列表;请在 people: 之前写 branches:,如 - {id: branch-1, name: 第一支部},再写 branch: branch-1")
    else:
        there = listing(f"{b}({n})" for b, n in branches.items())
        reader.fail(node, path, f"名册的 branches: 中没有支部 '{value}'{suggest(value, [*branches, *by_name])};已有的支部:{there}")
    return None


def _channels(reader: Reader, node: YNode | None, path: str, person: Person) -> tuple[str, ...] | None:
    if node is None:
        return None
    values = reader.list_of(node, path, lambda n, p: reader.choice(n, p, CHANNELS, "提醒渠道"))
    if values is None:
        return None
    for channel in values:
        if not person.address(channel) or (channel == "webhook" and not person.email):
            reader.fail(node, path, f"选择了 {channel} 渠道,但没有填写此人的 {channel if channel != 'webhook' else 'email'} 账号")
            return None
    return tuple(dict.fromkeys(values))


def _phone(reader: Reader, node: YNode | None, path: str) -> str | None:
    value = reader.text(node, path, 30)
    if value is not None and not _PHONE.match(value):
        reader.fail(node, path, f"'{value}' 不是电话号码;请写数字,如 \"13800000001\" 或 \"0571-87000000\"(加引号)")
        return None
    return value


def _email(reader: Reader, node: YNode | None, path: str) -> str | None:
    value = reader.text(node, path, 254)
    if value is not None and not _EMAIL.match(value):
        reader.fail(node, path, f"'{value}' 不是有效的邮箱地址,如 zhangwei@example.gov.cn")
        return None
    return value
