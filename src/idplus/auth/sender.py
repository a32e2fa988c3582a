"""Sending SMS and e-mail. The default sender appends to a local outbox file (INTERFACE.md).

Each message is one JSON line: {"to", "channel", "body", "code"?, "at"}. Appends take an
exclusive lock so that several workers never interleave lines.
"""

from __future__ import annotations

import fcntl
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from idplus.metrics import IdentityMetrics, SmsPurpose


@dataclass(frozen=True, slots=True)
class Message:
    to: str
    channel: str  # "sms" or "email"
    body: str
    at: datetime
    code: str | None = None
    # Which text an SMS is, for the metrics (never written to the outbox).
    purpose: SmsPurpose | None = None


class Sender(Protocol):
    def send(self, message: Message) -> None: ...


class CountingSender:
    """Counts every SMS that names its purpose as sent or failed (the sender raised), then
    passes the message on; the failure still reaches the caller."""

    def __init__(self, sender: Sender, metrics: IdentityMetrics) -> None:
        self.sender = sender
        self._metrics = metrics

    def send(self, message: Message) -> None:
        purpose = message.purpose if message.channel == "sms" else None
        try:
            self.sender.send(message)
        except Exception:
            if purpose is not None:
                self._metrics.sms(purpose, sent=False)
            raise
        if purpose is not None:
            self._metrics.sms(purpose, sent=True)


class OutboxSender:
    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, message: Message) -> None:
        record: dict[str, str] = {
            "to": message.to,
            "channel": message.channel,
            "body": message.body,
            "at": message.at.isoformat(),
        }
        if message.code is not None:
            record["code"] = message.code
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as outbox:
            fcntl.flock(outbox, fcntl.LOCK_EX)
            try:
                outbox.write(json.dumps(record, ensure_ascii=False) + "\n")
            finally:
                fcntl.flock(outbox, fcntl.LOCK_UN)
