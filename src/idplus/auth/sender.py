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


@dataclass(frozen=True, slots=True)
class Message:
    to: str
    channel: str  # "sms" or "email"
    body: str
    at: datetime
    code: str | None = None


class Sender(Protocol):
    def send(self, message: Message) -> None: ...


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
