"""Building the MIME message: headers any relay accepts and any parser reads back exactly,
whatever a schedule puts in a title or a name."""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import hashlib
import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifiers.base import Outgoing, TransportError
from notifiers.mime import (
    MAX_LINE,
    MAX_WORD,
    _encoded_words,
    _fill,
    _unstructured,
    build_email,
    clean,
    clean_name,
    message_id,
    to_bytes,
)

DATE = datetime(2026, 3, 24, 1, 0, tzinfo=UTC)
# UTF-8 bytes that fit in one RFC 2047 encoded word of 75 characters: 15 Chinese characters.
ONE_ENCODED_WORD = 45


def outgoing(**changes) -> Outgoing:
    fields = dict(
        key="k",
        kind="reminder",
        to_address="zhangwei@example.gov.cn",
        to_name="张伟",
        subject="通知",
        text="正文\n",
        date=DATE,
    )
    return Outgoing(**{**fields, **changes})


def round_trip(message: Outgoing, mail_from: str = "planbell <p@example.gov.cn>"):
    raw = to_bytes(build_email(message, mail_from))
    return raw, email.message_from_bytes(raw, policy=email.policy.default)


def header_lines(raw: bytes) -> list[str]:
    return raw.split(b"\r\n\r\n")[0].decode("ascii").split("\r\n")


@settings(max_examples=300, deadline=None)
@given(subject=st.text(max_size=200), name=st.text(max_size=80), key=st.text(max_size=100))
def test_any_text_folds_to_short_ascii_header_lines_and_decodes_back(subject, name, key):
    raw, msg = round_trip(outgoing(subject=subject, to_name=name, key=key))

    assert all(len(line) <= 78 for line in header_lines(raw))
    assert msg["Subject"] == clean(subject)
    assert msg["X-Planbell-Key"] == clean(key)
    [to] = msg["To"].addresses
    assert to.addr_spec == "zhangwei@example.gov.cn"
    if len(clean_name(name).encode()) <= ONE_ENCODED_WORD:
        assert to.display_name == clean_name(name)
    else:  # see test_long_name_is_split_into_encoded_words
        assert to.display_name.replace(" ", "") == clean_name(name).replace(" ", "")
    assert not msg.defects and not msg["Subject"].defects and not msg["To"].defects


def test_mixed_chinese_and_ascii_keeps_the_space_the_stdlib_folder_drops():
    # email.policy.default turns this into "...jigead的..." when it folds the subject.
    subject = '?"eB 的:的度=e产安年cje通\';第:jigead 的;:(生第d😀安-检)";Cd安,于B工g;检h作度的dd'
    assert round_trip(outgoing(subject=subject))[1]["Subject"] == subject


def test_long_name_is_split_into_encoded_words():
    # RFC 2047 caps an encoded word at 75 characters, so a long name needs several; readers
    # join them, ignoring the space between (the stdlib address parser alone keeps it).
    name = "安全生产检查工作领导小组办公室全体成员"
    raw, msg = round_trip(outgoing(to_name=name))
    lines = header_lines(raw)
    to = next(i for i, line in enumerate(lines) if line.startswith("To:"))
    assert lines[to].startswith("To: =?utf-8?b?") and lines[to + 1].startswith(" =?utf-8?b?")
    assert msg["To"].addresses[0].display_name.replace(" ", "") == name


def test_short_ascii_subject_stays_readable():
    raw, _ = round_trip(outgoing(subject="Quarterly report due"))
    assert "Subject: Quarterly report due" in header_lines(raw)


def test_control_characters_become_single_spaces():
    assert clean("a\r\n\tb\x00c\u2028d\x85") == "a b c d"
    assert clean_name("  张\u3000伟 \r\n ") == "张 伟"


def test_message_id_depends_only_on_the_key():
    first = build_email(outgoing(subject="a"), "p@example.gov.cn")
    again = build_email(outgoing(subject="b", date=None), "p@example.gov.cn")
    assert first["Message-ID"] == again["Message-ID"] == message_id("k")
    assert message_id("k") != message_id("k2")
    # The same key gives the same id in every release: a re-send after an upgrade is recognisably the same.
    assert message_id("k") == f"<{hashlib.sha256(b'k').hexdigest()[:24]}@planbell>"
    # A str can hold a lone surrogate (no UTF-8 file can): it still has an id, its own.
    assert message_id("k\udc80") != message_id("k") and message_id("k\udc80").endswith("@planbell>")


def test_the_built_messages_header_values_read_as_an_email_messages_do():
    msg = build_email(outgoing(), "planbell <p@example.gov.cn>")
    assert (msg["From"], msg["To"], msg["Subject"]) == ("planbell <p@example.gov.cn>", "张伟 <zhangwei@example.gov.cn>", "通知")
    nameless = build_email(outgoing(to_name=""), "p@example.gov.cn")
    assert (nameless["From"], nameless["To"]) == ("p@example.gov.cn", "zhangwei@example.gov.cn")


@pytest.mark.parametrize(
    "address",
    ["a@b.cn\r\nBcc: evil@x.example", "a@b.cn\x00", "a b@c.cn", "张伟@例子.cn", "nobody", "@b.cn"],
)
def test_unusable_recipient_is_a_permanent_transport_error(address):
    with pytest.raises(TransportError) as caught:
        build_email(outgoing(to_address=address), "p@example.gov.cn")
    assert caught.value.permanent
    assert caught.value.message.startswith(f"Recipient address {address!r} ")  # whose address, in the log
    assert "\n" not in caught.value.message  # the refusal is one log line


def test_sender_with_a_line_break_is_refused():
    with pytest.raises(TransportError) as caught:
        build_email(outgoing(), "planbell <p@example.gov.cn>\r\nBcc: evil@x.example")
    assert caught.value.permanent
    assert "PLANBELL_MAIL_FROM" in caught.value.message


def test_text_only_message_is_a_single_text_part():
    _, msg = round_trip(outgoing(html=None))
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert "X-Planbell-Occurrences" not in msg


# Characters on each side of UTF-8's length steps (1, 2, 3 and 4 bytes), ASCII and Chinese.
EDGES = "\x7f\x80\u07ff\u0800\uffff\U00010000a的"


@pytest.mark.parametrize("text", [
    EDGES * 6, "\x80" * 40, "\u0800" * 40, "\U00010000" * 30, "a" * 100, "的a" * 40, "\x7f\x80" * 30,
    "\u07ff\u0800" * 30, "\uffff\U00010000" * 20,
])
def test_encoded_words_are_filled_as_far_as_their_room_allows_and_never_split_a_character(text):
    """Each word holds as many whole characters as fit in its room (the first word's room is
    what is left of the header's first line, the others' 75), and decodes to its share. The
    rooms are counted in UTF-8 bytes before encoding: every length step is tried."""
    prefix, suffix = "=?utf-8?b?", "?="
    for first_room in range(16, MAX_WORD + 1):
        words = _encoded_words(text, first_room)
        shares = [base64.b64decode(w[len(prefix):-len(suffix)]).decode("utf-8") for w in words]
        assert all(w.startswith(prefix) and w.endswith(suffix) for w in words)
        assert "".join(shares) == text
        rooms = [first_room] + [MAX_WORD] * (len(words) - 1)
        # (a room too small for even one character still gets that one)
        assert all(len(w) <= room or len(share) == 1 for w, share, room in zip(words, shares, rooms, strict=True))
        for share, following, room in zip(shares, shares[1:], rooms, strict=False):
            fuller = prefix + base64.b64encode((share + following[0]).encode()).decode() + suffix
            assert len(fuller) > room, (first_room, share, following[0])  # the next would not fit


@pytest.mark.parametrize("sizes", [[69, 75, 75, 75], [38, 38, 38], [37, 38, 1, 76], [10] * 20, [1] * 100, [69, 5, 1, 1, 70]])
def test_header_lines_are_filled_with_whole_tokens_as_far_as_78_characters_allow(sizes):
    """(A first token longer than the first line's room, 78 less "Subject: ", is the caller's to split.)"""
    tokens = ["x" * n for n in sizes]
    lines, fits = _fill("Subject", tokens)
    assert fits and all(len(line) <= MAX_LINE for line in lines)
    assert " ".join(line.strip() for line in lines) == "Subject: " + " ".join(tokens)
    assert lines[0].startswith("Subject: ") and all(line.startswith(" ") for line in lines[1:])
    for line, following in zip(lines, lines[1:], strict=False):
        assert len(line) + len(following.split()[0]) + 1 > MAX_LINE  # the next token would not fit


def text_body(text: str) -> tuple[str, bytes]:
    """The plain-text part of a message with ``text`` as sent: its transfer encoding and its
    bytes once decoded."""
    _, msg = round_trip(outgoing(text=text))
    body = msg.get_body(preferencelist=("plain",))
    return str(body["Content-Transfer-Encoding"]), body.get_payload(decode=True)


@pytest.mark.parametrize(("text", "cte"), [
    ("", "7bit"),
    ("Hello\nWorld", "7bit"),  # ASCII in short lines stays readable as it is
    ("x" * 78 + "\nend\n", "7bit"),  # 78 characters is short enough
    ("x" * 79 + "\nend\n", "quoted-printable"),  # one longer line: encoded, ASCII reads best as QP
    ("本月专题学习\n请按时参加\n", "base64"),  # Chinese: base64 is shorter
    ("Agenda 的 items\n" + "plain ascii line\n" * 5, "quoted-printable"),  # mostly ASCII
    # The choice is made over the first ten lines: an eleventh of Chinese does not change it.
    (("a" * 30 + "\n") * 10 + "的" * 60 + "\n", "quoted-printable"),
])
def test_a_text_body_is_encoded_as_the_stdlib_would_and_decodes_to_the_same_lines(text, cte):
    encoding, payload = text_body(text)
    assert encoding == cte
    # Every line as written, each ended by CRLF as on the wire (base64 carries them encoded);
    # an empty text is one empty line.
    assert payload == (b"".join(line + b"\r\n" for line in text.encode().splitlines()) or b"\r\n")


def test_quoted_printable_wins_a_tie_with_base64():
    """Over the first ten lines, as the stdlib decides: base64 only when it is shorter."""
    for ascii_part, chinese in itertools.product(range(40), range(1, 12)):
        sample = ("a" * ascii_part + "的" * chinese).encode()
        if len(binascii.b2a_qp(sample + b"\n", istext=True)) == len(binascii.b2a_base64(sample + b"\r\n")):
            break
    else:
        pytest.fail("no tie found")
    assert text_body(sample.decode())[0] == "quoted-printable"


def test_a_long_or_spaceless_ascii_subject_is_folded_or_encoded_within_78_characters():
    for subject in ("word " * 30, "x" * 70, "x" * 69, "a b " * 18 + "abc", "two  spaces " * 8):
        raw, msg = round_trip(outgoing(subject=subject.strip()))
        assert all(len(line) <= MAX_LINE for line in header_lines(raw)), subject
        assert msg["Subject"] == subject.strip()


def test_the_from_name_is_the_senders_own_else_the_messages():
    """PLANBELL_MAIL_FROM's display name wins; without one, the message's (the office's name)."""
    def sender(mail_from, from_name):
        return round_trip(outgoing(from_name=from_name), mail_from)[1]["From"].addresses[0]

    assert (sender("p@example.gov.cn", "市委政研室").display_name, sender("p@example.gov.cn", "市委政研室").addr_spec) == \
        ("市委政研室", "p@example.gov.cn")
    assert sender("planbell <p@example.gov.cn>", "市委政研室").display_name == "planbell"
    assert sender("p@example.gov.cn", None).display_name == ""


def test_each_header_is_written_once():
    raw, msg = round_trip(outgoing(reply_to="office@example.gov.cn", occurrence_ids=("a/1",)))
    # RFC 3834: vacation responders and ticket systems do not answer a reminder.
    assert msg["Auto-Submitted"] == "auto-generated"
    names = [line.split(":", 1)[0].lower() for line in header_lines(raw) if not line.startswith(" ")]
    assert len(names) == len(set(names)), names
    assert {"from", "to", "reply-to", "subject", "date", "message-id", "x-planbell-key"} <= set(names)


@pytest.mark.parametrize("subject", ["本月专题学习请按时参加并提交心得体会" * 3, "a的" * 40, "😀" * 30])
def test_an_encoded_subjects_first_line_is_filled_as_far_as_78_characters_allow(subject):
    raw, msg = round_trip(outgoing(subject=subject))
    lines = [line for line in header_lines(raw) if line.startswith("Subject:")]
    first = lines[0]
    word = first.removeprefix("Subject: ")
    share = base64.b64decode(word[len("=?utf-8?b?"):-2]).decode()
    following = subject[len(share)]
    fuller = "Subject: =?utf-8?b?" + base64.b64encode((share + following).encode()).decode() + "?="
    assert len(first) <= MAX_LINE < len(fuller)
    assert msg["Subject"] == subject


def test_a_headers_first_encoded_word_takes_all_the_room_its_line_has():
    """"X-Ab: " leaves 72 characters: exactly one word of 15 Chinese characters (45 bytes)."""
    lines = _unstructured("X-Ab", "的" * 40)
    assert len(lines[0]) == MAX_LINE
    assert base64.b64decode(lines[0].removeprefix("X-Ab: =?utf-8?b?")[:-2]).decode() == "的" * 15


def test_reply_to_is_a_bare_address_and_a_bad_one_is_refused_naming_the_setting():
    raw, msg = round_trip(outgoing(reply_to="office@example.gov.cn"))
    assert "Reply-To: office@example.gov.cn" in header_lines(raw)
    with pytest.raises(TransportError) as caught:
        build_email(outgoing(reply_to="office at example"), "p@example.gov.cn")
    assert caught.value.message.startswith("Reply-To (PLANBELL_REPLY_TO) address 'office at example' ")


def test_a_long_ascii_subject_is_folded_at_its_spaces_and_stays_readable():
    raw, _ = round_trip(outgoing(subject="Quarterly report " * 8))
    subject = [line for line in header_lines(raw) if line.startswith(("Subject:", " Quarterly", " report"))]
    assert len(subject) > 1 and not any("=?" in line for line in subject)
