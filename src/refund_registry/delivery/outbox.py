"""The zero-setup stand-in for a mail server or SMS gateway: a local outbox file.

On a laptop with no SMTP server and no SMS contract, codes are appended to
``outbox.jsonl`` in the data folder (mode 0600), one JSON object a line, and
``refund-registry outbox`` shows them. The file holds the address a code was
sent to, as a phone would: it exists only in zero-setup mode, never in
production, where the settings require a real mailer and gateway.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import msgspec


class OutboxEntry(msgspec.Struct, frozen=True):
    at: str
    channel: str
    to: str
    subject: str
    body: str


class Outbox:
    def __init__(self, path: Path, channel: str) -> None:
        self.path = path
        self.channel = channel

    async def send(self, to: str, subject: str, body: str) -> None:
        entry = OutboxEntry(
            at=datetime.now(UTC).isoformat(),
            channel=self.channel,
            to=to,
            subject=subject,
            body=body,
        )
        line = msgspec.json.encode(entry) + b"\n"
        await asyncio.to_thread(self._append, line)

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def read(path: Path) -> list[OutboxEntry]:
    """Every entry in the outbox, oldest first; none when it does not exist yet."""
    if not path.exists():
        return []
    decoder = msgspec.json.Decoder(OutboxEntry)
    return [decoder.decode(line) for line in path.read_bytes().splitlines() if line.strip()]
