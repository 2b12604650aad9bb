"""SMS through an HTTP gateway, signed as Standard Webhooks are.

The request the registry sends (``REGISTRY_SMS_GATEWAY_URL``, secret
``REGISTRY_SMS_GATEWAY_SECRET`` as ``whsec_…``)::

    POST <gateway URL>
    Content-Type: application/json
    webhook-id: msg_<random>
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">

    {"to": "+8613812345678", "text": "…"}

Any 2xx answer means the gateway took the message. The signature lets the
gateway (or the small relay a deployment puts in front of its SMS provider)
refuse anything the registry did not send, with any Standard Webhooks library.

Failure policy: no answer within the timeout, a connection error or a non-2xx
answer raises :class:`Unavailable`; nothing is queued (see ``delivery.mail``).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import httpx
import msgspec
from standardwebhooks import Webhook

from refund_registry.errors import Unavailable


class SmsGateway:
    def __init__(self, url: str, secret: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self._signer = Webhook(secret)
        self.timeout = timeout

    def signed_request(self, to: str, text: str, *, now: datetime | None = None) -> httpx.Request:
        """The exact request for one message (its headers carry the signature)."""
        at = now or datetime.now(UTC)
        body = msgspec.json.encode({"to": to, "text": text})
        message_id = "msg_" + secrets.token_urlsafe(16)
        signature = self._signer.sign(message_id, at, body.decode())
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature,
        }
        return httpx.Request("POST", self.url, content=body, headers=headers)

    async def send(self, to: str, subject: str, body: str) -> None:
        """Send ``body`` as the SMS text; an SMS has no subject."""
        request = self.signed_request(to, body)
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                answer = await client.send(request)
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"the SMS gateway did not answer ({type(exc).__name__})",
                code="delivery.sms_unavailable",
            ) from None
        if not answer.is_success:
            raise Unavailable(
                f"the SMS gateway refused the message (HTTP {answer.status_code})",
                code="delivery.sms_unavailable",
            )
