"""E-mail over SMTP (``aiosmtplib``).

``REGISTRY_SMTP_URL`` names the server: ``smtp://host:port`` (plain, upgraded
with STARTTLS when ``starttls`` is set), ``smtps://host:port`` (TLS from the
first byte); a user name and password in the URL are used to log in.

Failure policy: a server that cannot be reached, refuses the login or refuses
the message raises :class:`Unavailable`; the caller answers 503 and the buyer
asks for a new code. Nothing is queued, because a code is worth nothing ten
minutes later.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

from refund_registry.errors import Unavailable


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    ca_file: str | None = None

    @classmethod
    def from_url(
        cls, url: str, *, sender: str, starttls: bool = False, ca_file: str | None = None
    ) -> SmtpSettings:
        """Parse ``smtp://[user:pass@]host:port`` or ``smtps://…``; a bad URL is a ValueError."""
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError("the SMTP URL must look like smtp://host:port or smtps://host:port")
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            sender=sender,
            implicit_tls=implicit,
            starttls=starttls and not implicit,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            ca_file=ca_file,
        )


class SmtpMailer:
    """Sends one plain-text UTF-8 message per call over a fresh connection."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _tls_context(self) -> ssl.SSLContext | None:
        s = self.settings
        if not (s.implicit_tls or s.starttls):
            return None
        return ssl.create_default_context(cafile=s.ca_file)

    async def send(self, to: str, subject: str, body: str) -> None:
        s = self.settings
        message = EmailMessage()
        message["From"] = s.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        try:
            await aiosmtplib.send(
                message,
                hostname=s.host,
                port=s.port,
                use_tls=s.implicit_tls,
                start_tls=s.starttls,
                tls_context=self._tls_context(),
                username=s.username,
                password=s.password,
                timeout=s.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            # The exception text may quote the recipient: keep only its class.
            raise Unavailable(
                f"the mail server did not take the message ({type(exc).__name__})",
                code="delivery.mail_unavailable",
            ) from None
