"""Real alert receivers on 127.0.0.1: an HTTP server taking apprise's json:// webhook and a Slack-format
incoming webhook (apprise's mmost://, Mattermost's Slack-compatible {"text": …} payload: apprise's slack://
always posts to hooks.slack.com), and an SMTP server (aiosmtpd) with login, for mailto://."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from pytest_httpserver import HTTPServer

SMTP_PASSWORD = "Sm7p-pa55word-never-shown"
WEBHOOK_TOKEN = "tok3n-of-the-webhook-never-shown"


@dataclass
class Mailbox:
    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"


def _accept_any_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Receivers:
    http: HTTPServer
    mailbox: Mailbox
    smtp_port: int

    @property
    def urls(self) -> list[str]:
        host = f"127.0.0.1:{self.http.port}"
        return [
            f"json://{host}/webhook",
            f"mmost://{host}/{WEBHOOK_TOKEN}",
            f"mailto://alerts:{SMTP_PASSWORD}@127.0.0.1:{self.smtp_port}"
            "?to=ops@example.com&from=lakehouse@example.com",
        ]

    def webhook(self) -> list[dict[str, Any]]:
        return [json.loads(r.get_data()) for r, _ in self.http.log if r.path == "/webhook"]

    def slack(self) -> list[dict[str, Any]]:
        return [json.loads(r.get_data()) for r, _ in self.http.log if r.path == f"/hooks/{WEBHOOK_TOKEN}"]

    def received(self) -> tuple[int, int, int]:
        return len(self.webhook()), len(self.slack()), len(self.mailbox.messages)


@pytest.fixture
def receivers(httpserver: HTTPServer) -> Iterator[Receivers]:
    httpserver.expect_request("/webhook", method="POST").respond_with_data("ok")
    httpserver.expect_request(f"/hooks/{WEBHOOK_TOKEN}", method="POST").respond_with_data("ok")
    mailbox = Mailbox()
    port = _free_port()
    smtp = Controller(
        mailbox, hostname="127.0.0.1", port=port, authenticator=_accept_any_login, auth_require_tls=False
    )
    smtp.start()
    try:
        yield Receivers(httpserver, mailbox, port)
    finally:
        smtp.stop()
