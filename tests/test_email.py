"""The email channel against a real SMTP server (aiosmtpd on 127.0.0.1), plain, STARTTLS and
implicit TLS; every received message is parsed back with the stdlib parser."""

from __future__ import annotations

import email
import email.policy
import socket
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from daemon.config import Settings
from notifiers.base import Attachment, Outgoing, TransportError
from notifiers.email import SmtpNotifier
from notifiers.factory import email_notifier
from notifiers.maildir import MaildirNotifier
from notifiers.mime import message_id
from tests.smtpserver import (
    ACCOUNTS,
    Server,
    authenticator,
    free_port,
    self_signed_certificate,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAIL_FROM = "计划铃 <planbell@example.gov.cn>"
# ~60 CJK characters with ASCII in between: long enough to need several encoded words.
SUBJECT = (
    "【提醒】关于开展二〇二六年第一季度安全生产大检查工作的通知:请各部门于三月三十一日前"
    "提交自查报告与整改台账 Q1 safety review (ref ABC-2026-001) 逾期将通报"
)
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:PUBLISH\r\nEND:VCALENDAR\r\n"


def outgoing(**changes) -> Outgoing:
    fields = dict(
        key="plan-2026/safety-q1/2026-03-31/remind-7d/zhangwei",
        kind="reminder",
        to_address="zhangwei@example.gov.cn",
        to_name="张伟",
        subject=SUBJECT,
        text="张伟,您好:\n\n请于 3 月 31 日前提交自查报告。\n",
        html="<p>张伟,您好:</p><p>请于 <b>3 月 31 日</b>前提交自查报告。</p>",
        occurrence_ids=("safety-q1@2026-03-31", "fire-drill@2026-03-31"),
        date=datetime(2026, 3, 24, 9, 0, tzinfo=SHANGHAI),
    )
    return Outgoing(**{**fields, **changes})


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server():
    with Server() as running:
        yield running


def plain_notifier(server: Server, **kwargs) -> SmtpNotifier:
    options = dict(security="none", timeout=5, mail_from=MAIL_FROM, local_hostname="test")
    return SmtpNotifier("127.0.0.1", server.port, **{**options, **kwargs})


# --- what arrives ---------------------------------------------------------------------------


def test_plain_smtp_delivers_text_and_html_alternatives_in_utf8(server):
    plain_notifier(server).send(outgoing())

    [received] = server.received
    assert received.mail_from == "planbell@example.gov.cn"
    assert received.rcpt_tos == ["zhangwei@example.gov.cn"]
    msg = received.message
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()
    assert (text.get_content_type(), text.get_content_charset()) == ("text/plain", "utf-8")
    assert (html.get_content_type(), html.get_content_charset()) == ("text/html", "utf-8")
    # Base64-encoded text carries MIME's canonical CRLF line ends; a reader shows lines.
    assert text.get_content().splitlines() == outgoing().text.splitlines()
    assert html.get_content().splitlines() == outgoing().html.splitlines()


def test_long_chinese_subject_and_name_decode_to_the_original(server):
    plain_notifier(server).send(outgoing())

    msg = server.received[0].message
    assert msg["Subject"] == SUBJECT
    [to] = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == ("张伟", "zhangwei@example.gov.cn")
    [sender] = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("计划铃", "planbell@example.gov.cn")


def test_raw_message_is_ascii_with_lines_of_at_most_78_characters(server):
    plain_notifier(server).send(outgoing(attachments=(calendar(),)))

    raw = server.received[0].raw
    raw.decode("ascii")  # raises if an 8-bit byte got through
    assert max(len(line) for line in raw.splitlines()) <= 78
    header_block = raw.split(b"\r\n\r\n")[0].decode("ascii")
    assert "=?utf-8?b?" in header_block  # the subject went out as encoded words


def test_planbell_headers_date_and_stable_message_id(server):
    notifier = plain_notifier(server)
    notifier.send(outgoing())
    notifier.send(outgoing(subject="重发", date=None))  # a re-send after a crash
    notifier.send(outgoing(key="another-key"))

    first, resent, other = (r.message for r in server.received)
    assert first["X-Planbell-Key"] == outgoing().key
    assert first["X-Planbell-Kind"] == "reminder"
    assert first["X-Planbell-Occurrences"] == "safety-q1@2026-03-31, fire-drill@2026-03-31"
    assert first["Date"].datetime == outgoing().date
    assert first["Message-ID"] == message_id(outgoing().key) == resent["Message-ID"]
    assert other["Message-ID"] != first["Message-ID"]
    assert first["Message-ID"].endswith("@planbell>")


def calendar() -> Attachment:
    return Attachment("提醒.ics", "text/calendar; method=PUBLISH", ICS)


def test_ics_attachment_wraps_the_alternatives_in_multipart_mixed(server):
    plain_notifier(server).send(outgoing(attachments=(calendar(),)))

    msg = server.received[0].message
    assert msg.get_content_type() == "multipart/mixed"
    body, attachment = msg.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in body.iter_parts()] == ["text/plain", "text/html"]
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "PUBLISH"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "提醒.ics"
    assert attachment.get_payload(decode=True) == ICS


# --- hostile input from the schedule --------------------------------------------------------


def test_line_breaks_in_subject_name_and_key_inject_no_header(server):
    hostile = outgoing(
        subject="Meeting\r\nBcc: evil@x.example",
        to_name="张伟\r\nBcc: evil@x.example",
        key="k\nBcc: evil@x.example",
        occurrence_ids=("a\r\nBcc: evil@x.example",),
    )
    plain_notifier(server).send(hostile)

    [received] = server.received
    msg = received.message
    assert received.rcpt_tos == ["zhangwei@example.gov.cn"]
    assert "Bcc" not in msg
    assert not any(line.startswith(b"Bcc") for line in received.raw.splitlines())
    assert msg["Subject"] == "Meeting Bcc: evil@x.example"
    assert msg["To"].addresses[0].display_name == "张伟 Bcc: evil@x.example"
    assert msg["X-Planbell-Key"] == "k Bcc: evil@x.example"


@pytest.mark.parametrize(
    "address", ["zhangwei@example.gov.cn\r\nBcc: evil@x.example", "a@b.cn\n", "no-at-sign"]
)
def test_unusable_recipient_address_is_refused_permanently_before_connecting(server, address):
    with pytest.raises(TransportError) as caught:
        plain_notifier(server).send(outgoing(to_address=address))

    assert caught.value.permanent
    assert repr(address) in caught.value.message
    assert server.received == []


def test_script_in_a_title_is_carried_as_given(server):
    # Escaping HTML is the template's job; the channel must deliver the text intact.
    title = '<script>alert("x")</script> & 通知'
    plain_notifier(server).send(outgoing(subject=title, text=title + "\n", html=None))

    msg = server.received[0].message
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().replace("\r\n", "\n") == title + "\n"
    assert msg["Subject"] == title


# --- TLS and AUTH ---------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["planbell", "zhangwei"])  # ASCII and Chinese password
def test_starttls_with_login_delivers(certificate, username):
    tls = dict(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    with Server(**tls) as server:
        notifier = plain_notifier(
            server,
            security="starttls",
            username=username,
            password=ACCOUNTS[username],
            ssl_context=certificate.client_context(),
        )
        notifier.send(outgoing())

    [received] = server.received
    assert received.session.authenticated
    assert received.session.auth_data.login == username.encode()
    assert received.message["Subject"] == SUBJECT


@pytest.mark.parametrize("username", ["planbell", "zhangwei"])
def test_wrong_password_is_permanent_and_never_repeated(certificate, username):
    tls = dict(
        tls_context=certificate.server_context(), authenticator=authenticator, auth_required=True
    )
    wrong = "wrong-" + ACCOUNTS[username]
    with Server(**tls) as server:
        notifier = plain_notifier(
            server,
            security="starttls",
            username=username,
            password=wrong,
            ssl_context=certificate.client_context(),
        )
        with pytest.raises(TransportError) as caught:
            notifier.send(outgoing())

    error = caught.value
    assert error.permanent
    assert f"127.0.0.1:{server.port} rejected the login of user '{username}': 535" in error.message
    assert ACCOUNTS[username] not in error.message
    assert server.received == []


def test_implicit_tls_delivers(certificate):
    with Server(
        ssl_context=certificate.server_context(),
        authenticator=authenticator,
        auth_require_tls=False,  # aiosmtpd counts only STARTTLS as TLS; this socket is TLS
    ) as server:
        notifier = plain_notifier(
            server,
            security="tls",
            username="planbell",
            password=ACCOUNTS["planbell"],
            ssl_context=certificate.client_context(),
        )
        notifier.send(outgoing())

    [received] = server.received
    assert received.session.authenticated
    assert received.message["Message-ID"] == message_id(outgoing().key)


def test_untrusted_certificate_is_a_transient_error_that_says_so(certificate):
    with Server(tls_context=certificate.server_context()) as server:
        # The default context does not trust a self-signed certificate.
        notifier = plain_notifier(server, security="starttls")
        with pytest.raises(TransportError) as caught:
            notifier.send(outgoing())

    assert not caught.value.permanent
    assert (
        f"TLS certificate of 127.0.0.1:{server.port} could not be verified" in caught.value.message
    )


def test_server_without_starttls_is_refused_rather_than_sending_in_clear(server):
    with pytest.raises(TransportError) as caught:
        plain_notifier(server, security="starttls").send(outgoing())

    assert caught.value.permanent
    assert "does not offer STARTTLS" in caught.value.message
    assert server.received == []


# --- connections ----------------------------------------------------------------------------


def test_a_batch_of_20_messages_uses_one_connection(server):
    with plain_notifier(server) as notifier:
        for n in range(20):
            notifier.send(outgoing(key=f"key-{n}"))

    assert len(server.received) == 20
    assert server.handler.connections == 1


def test_sends_outside_a_batch_each_use_their_own_connection(server):
    notifier = plain_notifier(server)
    notifier.send(outgoing(key="a"))
    notifier.send(outgoing(key="b"))

    assert server.handler.connections == 2


def test_reconnects_once_when_the_server_dropped_the_connection(server):
    with plain_notifier(server) as notifier:
        notifier.send(outgoing(key="before"))
        server.drop_connection()
        notifier.send(outgoing(key="after"))

    assert [r.message["X-Planbell-Key"] for r in server.received] == ["before", "after"]
    assert server.handler.connections == 2


def test_meanwhile_runs_while_the_server_answers_and_before_the_message_is_delivered(server):
    calls: list[int] = []  # how many messages the server held at each call
    delivered_after: list[int] = []  # calls made before each delivery
    server.handler.on_data = lambda received: delivered_after.append(len(calls))
    with plain_notifier(server) as notifier:
        for n in range(3):
            notifier.send_while(outgoing(key=f"key-{n}"), lambda: calls.append(len(server.received)))

    assert len(server.received) == 3
    # One call per reply awaited (MAIL, RCPT, DATA, end of data); the first three of each
    # message come before its data is even sent, so before the server can hold it.
    assert len(calls) == 12
    for n in range(3):
        assert calls[4 * n:4 * n + 3] == [n, n, n]
        assert delivered_after[n] >= 4 * n + 3


def test_an_error_of_meanwhile_is_the_callers_and_the_next_send_starts_clean(server):
    class Broken(Exception):
        pass

    def broken() -> None:
        raise Broken("the caller's database is down")

    with plain_notifier(server) as notifier:
        notifier.send(outgoing(key="before"))
        with pytest.raises(Broken):
            notifier.send_while(outgoing(key="lost"), broken)
        notifier.send(outgoing(key="after"))

    assert [r.message["X-Planbell-Key"] for r in server.received] == ["before", "after"]
    assert server.handler.connections == 2  # the half-done session was dropped


def test_closed_port_is_transient_and_names_host_and_port():
    port = free_port()
    notifier = SmtpNotifier("127.0.0.1", port, "none", timeout=5, mail_from=MAIL_FROM)

    with pytest.raises(TransportError) as caught:
        notifier.send(outgoing())

    assert not caught.value.permanent
    assert caught.value.message == (
        f"Connection to 127.0.0.1:{port} refused; is the SMTP server running?"
    )


def test_server_that_never_answers_times_out_transiently():
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never greets
        port = silent.getsockname()[1]
        notifier = SmtpNotifier("127.0.0.1", port, "none", timeout=0.2, mail_from=MAIL_FROM)
        with pytest.raises(TransportError) as caught:
            notifier.send(outgoing())

    assert not caught.value.permanent
    assert caught.value.message == f"Connection to 127.0.0.1:{port} timed out after 0.2 s"


def test_451_is_transient(server):
    server.handler.data_reply = "451 4.3.0 Mail server temporarily rejected message"
    with pytest.raises(TransportError) as caught:
        plain_notifier(server).send(outgoing())

    assert not caught.value.permanent
    assert caught.value.message == (
        f"SMTP server 127.0.0.1:{server.port} rejected the message: "
        "451 4.3.0 Mail server temporarily rejected message"
    )


def test_550_recipient_is_permanent_and_the_batch_goes_on(server):
    with plain_notifier(server) as notifier:
        server.handler.rcpt_reply = "550 5.1.1 Mailbox does not exist"
        with pytest.raises(TransportError) as caught:
            notifier.send(outgoing(to_address="gone@example.gov.cn"))
        server.handler.rcpt_reply = None
        notifier.send(outgoing())

    assert caught.value.permanent
    assert caught.value.message == (
        f"SMTP server 127.0.0.1:{server.port} refused recipient gone@example.gov.cn: "
        "550 5.1.1 Mailbox does not exist"
    )
    assert len(server.received) == 1
    assert server.handler.connections == 1


# --- Maildir and the choice between them ----------------------------------------------------


def test_maildir_message_lands_in_new_and_parses_back_like_the_smtp_one(tmp_path, server):
    message = outgoing(attachments=(calendar(),))
    maildir = tmp_path / "var" / "mail"
    MaildirNotifier(maildir, MAIL_FROM).send(message)
    plain_notifier(server).send(message)

    [path] = (maildir / "new").iterdir()
    stored = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert b"\r\n" not in path.read_bytes()
    assert summary(stored) == summary(server.received[0].message)
    assert stored["Subject"] == SUBJECT


def summary(msg) -> list:
    """Everything a reader sees, without the random MIME boundaries."""
    headers = [(k, str(v)) for k, v in msg.items() if k != "Content-Type"]
    parts = [
        (
            p.get_content_type(),
            dict(p["Content-Type"].params) if not p.is_multipart() else None,
            None if p.is_multipart() else p.get_payload(decode=True),
        )
        for p in msg.walk()
    ]
    return [headers, parts]


def test_maildir_that_cannot_be_written_is_a_transport_error(tmp_path):
    blocker = tmp_path / "var"
    blocker.write_text("a file where the folder should be")

    with pytest.raises(TransportError) as caught:
        MaildirNotifier(blocker / "mail", MAIL_FROM).send(outgoing())

    assert caught.value.message.startswith(f"Cannot write to Maildir {blocker / 'mail'}:")


@pytest.mark.parametrize(("security", "port"), [("none", 25), ("starttls", 587), ("tls", 465)])
def test_factory_picks_smtp_with_the_usual_port_when_a_host_is_set(security, port):
    settings = Settings(smtp_host="smtp.example.gov.cn", smtp_port=None, smtp_security=security)

    notifier = email_notifier(settings)

    assert isinstance(notifier, SmtpNotifier)
    assert (notifier.host, notifier.port, notifier.security) == (
        "smtp.example.gov.cn",
        port,
        security,
    )


def test_factory_falls_back_to_the_maildir_without_a_host(tmp_path):
    settings = Settings(smtp_host=None, maildir=tmp_path / "mail")

    notifier = email_notifier(settings)

    assert isinstance(notifier, MaildirNotifier)
    assert notifier.path == str(tmp_path / "mail")
