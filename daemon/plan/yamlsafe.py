"""Safe YAML reading into a tree that remembers line numbers.

Admins edit these files by hand, and a file may also come from somewhere hostile, so:
only plain data (no object-building tags), no aliases (an alias bomb costs nothing to write
and everything to walk), bounded depth and size, and duplicate keys are errors rather than
the silent last-one-wins of PyYAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    NodeEvent,
)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from daemon import defaults
from daemon.plan.errors import ErrorList

# Tags an admin may write explicitly; anything else (!!python/object, custom !tags) is refused.
_STANDARD_TAG_PREFIX = "tag:yaml.org,2002:"
_PLAIN_TAGS = {
    _STANDARD_TAG_PREFIX + t
    for t in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map")
}


@dataclass(eq=False)
class YNode:
    """One YAML value with the line it starts on (1-based)."""

    line: int
    value: Any = None
    raw: str = ""  # the scalar's source text, for values YAML 1.1 would mangle (9:00 → 540)


@dataclass(eq=False)
class YMap(YNode):
    entries: dict[str, YNode] = field(default_factory=dict)
    key_lines: dict[str, int] = field(default_factory=dict)


@dataclass(eq=False)
class YSeq(YNode):
    items: list[YNode] = field(default_factory=list)


def describe(node: YNode) -> str:
    """How a value reads to a non-programmer, for 'expected X, found Y' messages."""
    if isinstance(node, YMap):
        return "一组键值(映射)"
    if isinstance(node, YSeq):
        return "一个列表"
    if node.value is None:
        return "空值"
    return f"'{node.raw}'"


def load_yaml(text: str, errors: ErrorList) -> YNode | None:
    """Parse ``text``; on any problem add errors and return None."""
    if len(text.encode("utf-8", "surrogatepass")) > defaults.MAX_SCHEDULE_BYTES:
        errors.add(1, "", f"文件超过 {defaults.MAX_SCHEDULE_BYTES // 1024} KiB,不像手写的日程;请检查是否放错了文件")
        return None
    # libyaml reads a plan ten times faster; on any problem the pure-Python reader runs again,
    # because its errors are the ones our messages (and their line numbers) are written for.
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        probe = ErrorList(errors.file)
        try:
            root = _compose(text, probe, fast)
        except yaml.YAMLError:  # whatever libyaml objects to, the slow path reports properly
            probe.add(1, "", "libyaml")
        if not probe.errors:
            return None if root is None else _convert(root, errors, "")
    root = _compose(text, errors, yaml.SafeLoader)
    return None if root is None else _convert(root, errors, "")


def _compose(text: str, errors: ErrorList, loader) -> Any:
    if not _scan_events(text, errors, loader):
        return None
    try:
        return yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        _syntax_error(exc, errors)
        return None
    except yaml.YAMLError as exc:  # libyaml's reader errors are not marked
        errors.add(1, "", f"YAML 无法解析:{exc}")
        return None


def _scan_events(text: str, errors: ErrorList, loader) -> bool:
    """Refuse aliases, foreign tags and deep nesting before anything is built."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            line = event.start_mark.line + 1
            if isinstance(event, AliasEvent):
                errors.add(line, "", f"不支持 YAML 别名 '*{event.anchor}';请把内容直接写出来(共用的设置可放在 plan.defaults)")
                return False
            if isinstance(event, NodeEvent):
                tag = getattr(event, "tag", None)
                if tag and tag != "!" and tag not in _PLAIN_TAGS:
                    shown = tag.replace(_STANDARD_TAG_PREFIX, "!!", 1)  # as the admin wrote it
                    errors.add(line, "", f"不允许 YAML 标签 '{shown}';日程只能包含普通文字、数字和日期,请删去该标签")
                    return False
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > defaults.MAX_YAML_DEPTH:
                    errors.add(line, "", f"嵌套超过 {defaults.MAX_YAML_DEPTH} 层,日程不需要这么深;请检查缩进")
                    return False
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        _syntax_error(exc, errors)
        return False
    except yaml.reader.ReaderError as exc:  # a control character (not a MarkedYAMLError)
        line = text.count("\n", 0, exc.position) + 1
        errors.add(line, "", f"含有不允许的控制字符(U+{exc.character:04X});请删去它(常见于从网页或文档复制的文字)")
        return False
    return True


def _syntax_error(exc: yaml.MarkedYAMLError, errors: ErrorList) -> None:
    context, problem = exc.context or "", exc.problem or ""
    # An unclosed quote or bracket, or a key without its colon, is only noticed lines later;
    # the line where it started is the one to fix.
    from_context = context.startswith(_STARTED_AT_CONTEXT) and exc.context_mark is not None
    mark = exc.context_mark if from_context else (exc.problem_mark or exc.context_mark)
    line = mark.line + 1 if mark else 1
    hint = next((h for c, p, h in _SYNTAX_HINTS if context.startswith(c) and problem.startswith(p)), None)
    if hint:
        errors.add(line, "", f"YAML 语法错误:{hint}")
    else:
        errors.add(line, "", f"YAML 语法错误({problem or '无法解析'});请检查这一行及上一行的缩进、冒号和引号")


_STARTED_AT_CONTEXT = ("while scanning a quoted scalar", "while scanning a simple key", "while parsing a flow")

# (context prefix, problem prefix, hint): the first match names the fix.
_SYNTAX_HINTS = (
    ("while scanning a quoted scalar", "", "这一行的引号没有闭合;请补上配对的引号"),
    ("while parsing a flow", "", "这一行的 [ 或 { 没有闭合,或其中的项之间缺少逗号"),
    ("while scanning a simple key", "", "这一行缺少 '键: 值' 里的冒号(冒号后面要有空格)"),
    ("", "found character '\\t'", "不能用 Tab 缩进,请改用空格"),
    ("", "mapping values are not allowed here", "值里含有 ': ' 时请给整个值加引号;也请检查这一行的缩进"),
    ("", "expected <block end>", "这一行的缩进和上面同一级的项没有对齐;请检查缩进"),
    ("", "found unexpected end of stream", "引号或括号没有闭合"),
    ("expected a single document", "", "一个文件只能写一份日程;请删去这一行的 '---' 及其后的内容,或另存为一个文件"),
)


_constructor = SafeConstructor()


def _convert(node: Any, errors: ErrorList, path: str) -> YNode:
    line = node.start_mark.line + 1
    if isinstance(node, MappingNode):
        out = YMap(line=line)
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                errors.add(key_line, path, "键必须是简单的文字")
                continue
            key = key_node.value
            if key == "<<":
                errors.add(key_line, path, "不支持 YAML 合并键 '<<';请把内容直接写出来")
                continue
            child_path = f"{path}.{key}" if path else key
            if key in out.entries:
                errors.add(key_line, child_path, f"重复的键 '{key}'(第 {out.key_lines[key]} 行已有);请删去其中一个")
                continue
            out.key_lines[key] = key_line
            child = _convert(value_node, errors, child_path)
            if isinstance(child, (YMap, YSeq)):
                child.line = key_line  # a block value starts below its key: point at the key
            out.entries[key] = child
        out.value = out.entries
        return out
    if isinstance(node, SequenceNode):
        seq = YSeq(line=line)
        seq.items = [_convert(v, errors, f"{path}[{i}]") for i, v in enumerate(node.value)]
        seq.value = seq.items
        return seq
    try:
        value = _constructor.construct_object(node)
    except (ConstructorError, ValueError, OverflowError) as exc:
        value = InvalidScalar(node.value, str(exc))
    finally:
        # The shared constructor memoises every node it sees; forget it, or each reload leaks.
        _constructor.constructed_objects.pop(node, None)
        _constructor.recursive_objects.pop(node, None)
    return YNode(line=line, value=value, raw=node.value)


@dataclass(frozen=True)
class InvalidScalar:
    """A scalar YAML recognised but could not build, e.g. the date 2026-02-30."""

    raw: str
    reason: str
