"""Evidence (佐证材料) kept with a check-off: 会议记录, 照片, 签到表.

A file's type is read from its bytes, never trusted from its name: a renamed executable is
refused. Bytes are stored once by SHA-256 in the database (every instance and every backup has
them); the name is made safe on the way in and again on the way out.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from daemon import defaults
from daemon.store.tables import BlobRow, EvidenceRow

# What offices attach, by extension: (MIME type, words for people).
KINDS = {
    "pdf": ("application/pdf", "PDF"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word 文档"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel 表格"),
    "jpg": ("image/jpeg", "JPEG 照片"),
    "png": ("image/png", "PNG 图片"),
}
ACCEPTED_WORDS = "PDF、Word(.docx)、Excel(.xlsx)、JPG、PNG"


class EvidenceRefused(Exception):
    """A file that is not kept; the message (Chinese) names the file and what to do."""


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def sniff(data: bytes) -> str | None:
    """The extension the bytes are, of the accepted kinds; None for anything else."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"PK\x03\x04"):
        # docx and xlsx are zip files; so are jar and apk. Tell them by the part that makes
        # each an Office document.
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return None
        if "[Content_Types].xml" in names:
            if "word/document.xml" in names:
                return "docx"
            if "xl/workbook.xml" in names:
                return "xlsx"
    return None


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


def safe_name(name: str, extension: str) -> str:
    """A file name that is only a name: no folders (``../``, ``C:\\``), no control characters,
    at most 80 characters, ending in the extension its content has."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem[:80].strip(" .") or "佐证材料"
    return f"{stem}.{extension}"


def check(uploads: list[Upload]) -> list[tuple[Upload, str]]:
    """Every upload with its sniffed extension, or EvidenceRefused for the first bad one (so
    nothing of a check-off is stored when one of its files is refused)."""
    uploads = [u for u in uploads if u.data or u.filename]
    if len(uploads) > defaults.EVIDENCE_MAX_FILES:
        raise EvidenceRefused(f"一次最多上传 {defaults.EVIDENCE_MAX_FILES} 个文件,本次选了 {len(uploads)} 个;请分次上传或合并成一个 PDF。")
    out = []
    limit_mb = defaults.EVIDENCE_MAX_BYTES // (1024 * 1024)
    for upload in uploads:
        shown = safe_name(upload.filename, "")[:-1] or "未命名文件"
        if not upload.data:
            raise EvidenceRefused(f"文件「{shown}」是空的;请重新选择文件。")
        if len(upload.data) > defaults.EVIDENCE_MAX_BYTES:
            raise EvidenceRefused(f"文件「{shown}」超过 {limit_mb} MB;请压缩后再上传(如把照片缩小,或扫描成黑白 PDF)。")
        extension = sniff(upload.data)
        if extension is None:
            raise EvidenceRefused(f"文件「{shown}」不是可接受的类型(按文件内容判断,不看扩展名);只接受 {ACCEPTED_WORDS}。")
        out.append((upload, extension))
    return out


def attach(session: Session, occurrence_id: str, checked: list[tuple[Upload, str]], person: str,
           now: datetime) -> list[EvidenceRow]:
    """Store the bytes once (by hash) and link each file to the occurrence; the same file
    attached twice to one occurrence is kept once."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    added = []
    for upload, extension in checked:
        digest = hashlib.sha256(upload.data).hexdigest()
        session.execute(insert(BlobRow).values(
            sha256=digest, size=len(upload.data), content_type=KINDS[extension][0], data=upload.data,
            created_at=now).on_conflict_do_nothing(index_elements=["sha256"]))
        exists = session.scalar(select(EvidenceRow.id).where(EvidenceRow.occurrence == occurrence_id,
                                                             EvidenceRow.sha256 == digest))
        if exists is None:
            row = EvidenceRow(occurrence=occurrence_id, sha256=digest,
                              filename=safe_name(upload.filename, extension), uploaded_by=person,
                              uploaded_at=now)
            session.add(row)
            added.append(row)
    if added:
        session.flush()
    return added


# What a list of evidence shows (the bytes stay in the database), read as plain rows: a web
# check-off reads its duty's files on the way out, and ORM objects cost a sixth of it.
_LISTED = select(EvidenceRow.id, EvidenceRow.occurrence, EvidenceRow.sha256, EvidenceRow.filename,
                 EvidenceRow.uploaded_by, EvidenceRow.uploaded_at).order_by(EvidenceRow.id)


def files_of(session: Session, occurrence_ids: list[str]) -> dict[str, list]:
    """The evidence of each occurrence, oldest first: rows with id, occurrence, sha256,
    filename, uploaded_by and uploaded_at (bytes not loaded)."""
    out: dict[str, list] = {}
    if len(occurrence_ids) == 1:
        found = list(session.execute(_LISTED.where(EvidenceRow.occurrence == occurrence_ids[0])))
        return {occurrence_ids[0]: found} if found else out
    for start in range(0, len(occurrence_ids), 500):
        chunk = occurrence_ids[start:start + 500]
        for row in session.execute(_LISTED.where(EvidenceRow.occurrence.in_(chunk))):
            out.setdefault(row.occurrence, []).append(row)
    return out


def blob(session: Session, evidence_id: int) -> tuple[EvidenceRow, BlobRow] | None:
    row = session.get(EvidenceRow, evidence_id)
    if row is None:
        return None
    return row, session.get(BlobRow, row.sha256)
