"""The outbox sender writes one JSON object a line, as INTERFACE.md describes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from idplus.auth.sender import Message, OutboxSender


def test_messages_are_appended_as_json_lines(tmp_path: Path) -> None:
    outbox = tmp_path / "var" / "outbox.jsonl"
    sender = OutboxSender(outbox)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    sender.send(Message("+4790000001", "sms", "123456 er koden", at, code="123456"))
    sender.send(Message("kari@example.no", "email", "Hei", at))

    first, second = (json.loads(line) for line in outbox.read_text().splitlines())
    assert first == {
        "to": "+4790000001",
        "channel": "sms",
        "body": "123456 er koden",
        "code": "123456",
        "at": "2026-01-01T00:00:00+00:00",
    }
    assert "code" not in second
