"""Loading the roster: the people behind the roles. Personal data: only an example is committed."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from daemon import defaults
from daemon.plan.errors import ErrorList, ScheduleInvalid
from daemon.plan.fields import Reader
from daemon.plan.loader import read_text, unknown_role
from daemon.plan.model import CHANNELS, Person, Roster
from daemon.plan.yamlsafe import YMap, YNode, describe, load_yaml

PERSON_KEYS = ("id", "name", "email", "phone", "wecom", "dingtalk", "feishu", "roles", "channels")
_PHONE = re.compile(r"^\+?[\d\s()-]{5,20}$")
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


def load_roster(path: str | Path, roles: dict[str, str] | None) -> Roster:
    """The roster in ``path``; ``roles`` (all plans' roles) checks every role it names."""
    path = Path(path)
    errors = ErrorList(str(path))
    text = read_text(path, errors)
    root = load_yaml(text, errors) if text is not None else None
    people = _read(root, errors, roles) if root is not None else None
    if root is None and not errors:
        errors.add(1, "", "文件是空的;名册需要 people: 列表")
    if errors or people is None:
        raise ScheduleInvalid(errors.errors)
    return Roster(people=tuple(people), file=str(path))


def _read(root: YNode, errors: ErrorList, roles: dict[str, str] | None) -> list[Person] | None:
    reader = Reader(errors)
    if not isinstance(root, YMap):
        errors.add(root.line, "", f"名册顶层应是 'people:',人员逐个列在它下面(每人以 '- ' 开头),而不是{describe(root)}")
        return None
    top = reader.mapping(root, "", ("people",), ("people",))
    if top is None:
        return None
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
            roles=tuple(person_roles),
        )
        channels = _channels(reader, get("channels"), f"{path}.channels", person)
        people.append(replace(person, channels=channels) if channels else person)
    return people


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
