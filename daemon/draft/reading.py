"""Reading a plan's text out of the file as it arrived: .txt, .docx or a PDF with a text layer.

Every way a file can be unreadable ends in DraftInputError, a Chinese sentence that names
the file and what to do about it; no library exception leaves this module.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

# A plan is a few dozen pages; anything larger is the wrong file (or a zip bomb).
MAX_BYTES = 50 << 20
MAX_DOCX_XML_BYTES = 20 << 20

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_CJK = re.compile(r"[\u4e00-\u9fff]")
# A PDF page number on a line of its own: "3", "- 3 -", "—3—", "第3页".
PAGE_NUMBER = re.compile(r"^\s*(?:[-—–]\s*)?(?:第\s*)?\d{1,3}(?:\s*页)?(?:\s*[-—–])?(?:\s*/\s*\d{1,3})?\s*$")


class DraftInputError(Exception):
    """The plan file cannot be drafted from; the message says why and what to do."""


@dataclass(frozen=True)
class PlanText:
    text: str
    # Whether ``text`` is the file's own bytes read as UTF-8, so the schedule can point at the
    # file itself; otherwise the text is written beside the schedule for `validate` to read.
    is_file_itself: bool


def read_plan(path: Path) -> PlanText:
    name = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DraftInputError(f"{name}:找不到这个文件;请检查路径") from None
    except OSError as exc:
        raise DraftInputError(f"{name}:无法读取({exc.strerror or exc});请检查文件权限") from None
    if len(data) > MAX_BYTES:
        raise DraftInputError(f"{name}:文件超过 {MAX_BYTES >> 20} MiB,不像一份工作要点;请确认选对了文件")
    if not data.strip():
        raise DraftInputError(f"{name}:文件是空的;请确认下发的要点已完整保存")
    if data.startswith(b"%PDF-"):
        plan = PlanText(_pdf_text(path, name), is_file_itself=False)
    elif data.startswith(b"PK\x03\x04") or path.suffix.lower() == ".docx":
        plan = PlanText(_docx_text(path, name), is_file_itself=False)
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise DraftInputError(f"{name}:这是旧版 Word(.doc)或 WPS 文件;请用 Word/WPS“另存为”.docx 或纯文本(.txt)后重试")
    else:
        text, utf8 = _decode(data, name)
        plan = PlanText(text, is_file_itself=utf8)
    if not _CJK.search(plan.text):
        raise DraftInputError(f"{name}:读出的文字里没有汉字,不像一份工作要点;请确认选对了文件")
    return plan


def _decode(data: bytes, name: str) -> tuple[str, bool]:
    """The text and whether it was UTF-8 (GB18030, what Windows Notepad long wrote, is the
    other encoding offices send; UTF-16 is Notepad's "Unicode")."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), False
        except UnicodeDecodeError:
            pass
    elif b"\x00" in data or _control_share(data) > 0.01:
        raise DraftInputError(f"{name}:这不是文本文件(含有二进制内容);请提供 .txt、.docx 或带文字层的 PDF")
    else:
        try:
            return data.decode("utf-8-sig"), True
        except UnicodeDecodeError:
            pass
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            text = None
        if text is not None and _reads_as_chinese(text):
            return text, False
    raise DraftInputError(
        f"{name}:无法识别文字编码(既不是 UTF-8,也不是 GB18030/GBK);"
        "请用记事本或 WPS 打开后“另存为”UTF-8 编码的 .txt 再试"
    )


def _control_share(data: bytes) -> float:
    controls = sum(1 for b in data[:65536] if b < 32 and b not in (9, 10, 12, 13))
    return controls / min(len(data), 65536)


def _reads_as_chinese(text: str) -> bool:
    """Bytes of another encoding (Big5, Shift-JIS, Latin-1) mostly decode as GB18030 too,
    but into rare characters; a plan is written almost wholly in the GB2312 set."""
    hanzi = _CJK.findall(text)
    if len(hanzi) < 4:
        return False
    common = 0
    for ch in hanzi:
        try:
            ch.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common / len(hanzi) >= 0.95


def _docx_text(path: Path, name: str) -> str:
    """Paragraph texts, one a line; tables read row by row. (python-docx would bring lxml for
    what is one XML part and three tags.)"""
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo("word/document.xml")
            except KeyError:
                raise DraftInputError(f"{name}:这个压缩包里没有 Word 正文(word/document.xml),不是 .docx 文档;请确认选对了文件") from None
            if info.file_size > MAX_DOCX_XML_BYTES:
                raise DraftInputError(f"{name}:Word 正文大得异常({info.file_size >> 20} MiB);请另存为 .txt 后重试")
            xml = archive.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError):
        raise DraftInputError(f"{name}:.docx 文件已损坏,打不开;请重新下载或用 Word/WPS 打开后另存一份再试") from None
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        raise DraftInputError(f"{name}:.docx 文件已损坏(正文 XML 无法解析);请用 Word/WPS 打开后另存一份再试") from None
    lines = []
    for paragraph in root.iter(f"{_W}p"):
        parts = []
        for node in paragraph.iter():
            if node.tag == f"{_W}t" and node.text:
                parts.append(node.text)
            elif node.tag == f"{_W}tab":
                parts.append("\t")
            elif node.tag in (f"{_W}br", f"{_W}cr"):
                parts.append("\n")
        lines.append("".join(parts))
    text = "\n".join(lines).strip()
    if not text:
        raise DraftInputError(f"{name}:.docx 里没有文字(可能只有图片);请向发文单位要文字版")
    return text + "\n"


def _pdf_text(path: Path, name: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            raise DraftInputError(f"{name}:PDF 有密码保护;请向发文单位要不加密的版本,或另存为 .txt 后重试")
        pages = [page.extract_text() or "" for page in reader.pages]
    except DraftInputError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AttributeError, IndexError):
        raise DraftInputError(f"{name}:PDF 文件已损坏,读不出内容;请重新下载,或另存为 .txt 后重试") from None
    lines = [line for page in pages for line in page.splitlines() if not PAGE_NUMBER.match(line)]
    text = "\n".join(lines).strip()
    if len(_CJK.findall(text)) < 20:
        raise DraftInputError(
            f"{name}:这个 PDF 没有文字层(多半是扫描件),读不出文字;"
            "请向发文单位要电子版(.docx/.txt),或先做文字识别(OCR)并核对后另存为 .txt"
        )
    return text + "\n"
