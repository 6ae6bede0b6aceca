"""Drafting a schedule from the text of a new plan (pure: files in, text out, no database).

    read_plan (reading) → read_layout (layout) → build (grammar, roles) → render (emit)
                                                         └── merge with last year (like)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from daemon.draft.build import Draft, build
from daemon.draft.emit import Head, fresh_entries, render
from daemon.draft.layout import read_layout
from daemon.draft.reading import DraftInputError, read_plan

if TYPE_CHECKING:
    from daemon.draft.like import Changes

__all__ = ["DraftInputError", "DraftResult", "draft_plan"]

SOURCE_FOLDER = "source"  # where a text read out of .docx/.pdf/GB18030 is written for `validate`


@dataclass
class DraftResult:
    yaml: str
    draft: Draft
    document_file: Path | None  # the plan's text to write beside the schedule, if not the file itself
    document_text: str
    changes: Changes | None


def draft_plan(plan_path: Path, out_path: Path | None = None, like: Path | None = None) -> DraftResult:
    """The schedule drafted from ``plan_path``, as it would be written to ``out_path`` (None:
    printed, the schedule read from the current directory)."""
    plan = read_plan(plan_path)
    draft = build(read_layout(plan.text, str(plan_path)))
    if not draft.duties:
        raise DraftInputError(
            f"{plan_path}:没有找到任何带周期的条款(每月、每季度、每半年、年底、在……前 等);"
            "请确认这是工作要点的正文,而不是通知或附件的封面"
        )
    base = (out_path.parent if out_path else Path.cwd()).resolve()
    if plan.is_file_itself:
        document_file = None
        document = PurePosixPath(Path(os.path.relpath(plan_path.resolve(), base))).as_posix()
    else:
        if out_path is None:
            raise DraftInputError(
                f"{plan_path}:原文不是 UTF-8 文本,起草时要在日程旁写出一份文本供 validate 核对原句;"
                "请加 --out 指定日程文件,如 --out drafts/2027/plan-2027.yaml"
            )
        document = f"{SOURCE_FOLDER}/{plan_path.stem}.txt"
        document_file = out_path.parent / SOURCE_FOLDER / f"{plan_path.stem}.txt"
    changes = None
    if like is None:
        entries, head = fresh_entries(draft), Head()
    else:
        from daemon.draft.like import merge  # loads the schedule loader: only for --like

        entries, head, changes = merge(draft, plan.text, like)
    origin = plan_path.name + (f",沿用 {like.name} 的设置" if like else "")
    return DraftResult(render(draft, document, entries, head, origin), draft, document_file, plan.text, changes)
