"""Standard Webhooks signatures (https://www.standardwebhooks.com) over the event body.

Every attempt is signed afresh (`webhook-timestamp` is the time of the attempt, so a receiver's
replay window holds for retries days later) while `webhook-id` stays the event id: the receiver's
idempotency key. During a secret rotation a sink is configured with several secrets and the
`webhook-signature` header carries one `v1,<base64>` per secret, space separated; a receiver that
knows either secret verifies.

Secrets are `whsec_` + base64 and arrive as `pydantic.SecretStr`. They are unwrapped only here,
turned into HMAC keys inside `standardwebhooks.Webhook` objects, and never appear in a repr or in
exception text: a bad secret is reported by sink name and position.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format prefix, not a secret


class SigningError(ValueError):
    """A secret is unusable; the message names its owner and position, never its value."""


def generate_secret(num_bytes: int = 32) -> SecretStr:
    """A fresh random secret in the `whsec_` format."""
    return SecretStr(SECRET_PREFIX + base64.b64encode(os.urandom(num_bytes)).decode("ascii"))


def _webhook(owner: str, position: int, secret: SecretStr | str) -> Webhook:
    raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    problem = f"{owner}: secret #{position} is not a Standard Webhooks secret"
    if not raw.startswith(SECRET_PREFIX):
        raise SigningError(f"{problem} (expected {SECRET_PREFIX!r} followed by base64)")
    body = raw[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        # `from None`: the codec's own message could quote part of the input.
        raise SigningError(f"{problem} (the part after {SECRET_PREFIX!r} is not base64)") from None
    if not key:
        raise SigningError(f"{problem} (empty key)")
    return Webhook(key)


class Signer:
    """Signs bodies for one sink with all of its current secrets.

    >>> signer = Signer("mesh", [generate_secret()])
    >>> sorted(signer.headers("evt-1", 1700000000.0, "{}"))
    ['webhook-id', 'webhook-signature', 'webhook-timestamp']
    >>> signer
    Signer(sink='mesh', secrets=1)
    """

    __slots__ = ("_sink", "_webhooks")

    def __init__(self, sink: str, secrets: Sequence[SecretStr | str]) -> None:
        if not secrets:
            raise SigningError(f"sink {sink!r}: no secret configured")
        self._sink = sink
        self._webhooks = tuple(
            _webhook(f"sink {sink!r}", i, secret) for i, secret in enumerate(secrets, start=1)
        )

    def __repr__(self) -> str:
        return f"Signer(sink={self._sink!r}, secrets={len(self._webhooks)})"

    def headers(self, msg_id: str, timestamp: float, body: str) -> dict[str, str]:
        """The three Standard Webhooks headers for one attempt at `timestamp` (unix seconds)."""
        moment = datetime.fromtimestamp(int(timestamp), tz=UTC)
        signatures = " ".join(w.sign(msg_id, moment, body) for w in self._webhooks)
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(timestamp)),
            "webhook-signature": signatures,
        }


class Verifier:
    """Checks a delivery against any of several secrets (a receiver mid-rotation knows both).

    The timestamp must be within five minutes of the receiver's clock (the library's tolerance),
    which is what defeats replays.
    """

    __slots__ = ("_webhooks",)

    def __init__(self, secrets: Sequence[SecretStr | str], owner: str = "receiver") -> None:
        if not secrets:
            raise SigningError(f"{owner}: no secret configured")
        self._webhooks = tuple(_webhook(owner, i, secret) for i, secret in enumerate(secrets, start=1))

    def __repr__(self) -> str:
        return f"Verifier(secrets={len(self._webhooks)})"

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """True when a `v1` signature in the headers matches the body under one of the secrets."""
        plain = {k.lower(): v for k, v in headers.items()}
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        for webhook in self._webhooks:
            try:
                webhook.verify(text, plain, json_parse=False)
            except (WebhookVerificationError, ValueError, binascii.Error):
                continue
            return True
        return False
