"""Real .docx and PDF files made from text, for the drafting tests: the readers under test
(zipfile + XML, pypdf) meet the same structures Word and PDF writers produce.

The PDF uses a Type0 font with Identity-H encoding and a ToUnicode map, as PDF writers do for
Chinese: the text layer is the ToUnicode map, which is what text extraction reads. No font
program is embedded, so the file needs no font on this machine."""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
</Types>"""
_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
</Relationships>"""


def write_docx(path: Path, text: str) -> Path:
    """One paragraph per line; each paragraph in two runs, as Word splits text by formatting."""
    paragraphs = []
    for line in text.splitlines():
        half = len(line) // 2
        runs = "".join(f'<w:r><w:t xml:space="preserve">{escape(part)}</w:t></w:r>' for part in (line[:half], line[half:]) if part)
        paragraphs.append(f"<w:p>{runs}</w:p>")
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                f'<w:document xmlns:w="{_W}"><w:body>{"".join(paragraphs)}</w:body></w:document>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("word/document.xml", document)
    return path


def write_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF whose pages show ``pages`` (lines each); an empty list of lines makes a page with
    no text at all, as a scanned page has."""
    chars = sorted({ch for page in pages for line in page for ch in line})
    code = {ch: i + 1 for i, ch in enumerate(chars)}
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(data: bytes) -> bytes:
        return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"

    catalog = add(b"")  # filled in once the pages object exists
    pages_ref = add(b"")
    bfchars = [f"<{code[ch]:04X}> <{ord(ch):04X}>" for ch in chars]
    chunks = [bfchars[i:i + 100] for i in range(0, len(bfchars), 100)]
    cmap = ("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
            "1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
            + "".join(f"{len(c)} beginbfchar\n" + "\n".join(c) + "\nendbfchar\n" for c in chunks)
            + "endcmap CMapName currentdict /CMap defineresource pop end end")
    to_unicode = add(stream(cmap.encode("ascii")))
    descriptor = add(b"<< /Type /FontDescriptor /FontName /PlanSong /Flags 4 /FontBBox [0 -120 1000 880] "
                     b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 700 /StemV 80 >>")
    cid_font = add(b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /PlanSong "
                   b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
                   b"/FontDescriptor %d 0 R /DW 1000 /CIDToGIDMap /Identity >>" % descriptor)
    font = add(b"<< /Type /Font /Subtype /Type0 /BaseFont /PlanSong /Encoding /Identity-H "
               b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (cid_font, to_unicode))
    page_refs = []
    for lines in pages:
        ops = ["BT /F1 12 Tf 16 TL 40 800 Td"]
        for line in lines:
            ops.append("<" + "".join(f"{code[ch]:04X}" for ch in line) + "> Tj T*")
        ops.append("ET")
        content = add(stream("\n".join(ops).encode("ascii")))
        page_refs.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
                             b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_ref, content, font)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_ref
    kids = b" ".join(b"%d 0 R" % ref for ref in page_refs)
    objects[pages_ref - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_refs))
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    path.write_bytes(bytes(out))
    return path
