"""The TSIG key the receiver signs its DNS updates with, read as an operator has it.

`tsig-keygen` prints a whole `key "name" { algorithm hmac-sha256; secret "..."; };` block, which is
what BIND's `named.conf` includes; an operator should be able to hand the receiver that same file,
or just the base64 secret. Both are accepted. A block's name and algorithm must then agree with
the config (or stand in for it when the config leaves them out).

The secret is unwrapped only into a `TsigKey`, whose repr never shows it: `dns.tsig.Key`'s repr
does (base64), so a `dns.tsig.Key` is built only at the moment a message is signed.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

import dns.name
import dns.tsig

DEFAULT_ALGORITHM = "hmac-sha256"
# The HMAC algorithms BIND 9 and dnspython share. hmac-md5 is left out on purpose (RFC 8945 §6:
# MD5 must not be used for new keys); the truncated variants are rarely configured.
ALGORITHMS: dict[str, dns.name.Name] = {
    "hmac-sha1": dns.tsig.HMAC_SHA1,
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
}

# named.conf's comments in a key block, or a quoted string (kept: a base64 secret may well
# contain "//"). A raw secret is unquoted, so there only "#" (never in base64) starts a comment.
_COMMENT = re.compile(r'"[^"]*"|(?:#|//)[^\n]*')
_RAW_COMMENT = re.compile(r"#[^\n]*")
_KEY_BLOCK = re.compile(r'^\s*key\s+(?:"([^"]*)"|([^\s{]+))\s*\{(.*)\}\s*;?\s*$', re.S)
_ALGORITHM = re.compile(r'\balgorithm\s+(?:"([^"]*)"|([^\s;]+))\s*;')
_SECRET = re.compile(r'\bsecret\s+"([^"]*)"\s*;')


class TsigKeyError(ValueError):
    """The key material is unusable; the message says why without quoting it."""


@dataclass(frozen=True)
class TsigMaterial:
    """What a secret (file) holds: the base64 secret, and the name and algorithm of a key block."""

    secret_b64: str = field(repr=False)
    name: str | None = None
    algorithm: str | None = None


def parse_tsig_material(text: str) -> TsigMaterial:
    """Read raw base64, or a `tsig-keygen` key block, into `TsigMaterial`.

    >>> parse_tsig_material('key "k." { algorithm hmac-sha256; secret "c2VjcmV0"; };').name
    'k.'
    >>> parse_tsig_material("c2VjcmV0").algorithm is None
    True
    """
    stripped = _COMMENT.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", text).strip()
    block = _KEY_BLOCK.match(stripped)
    if block is None:
        if stripped.startswith("key"):
            raise TsigKeyError("looks like a key block but is not one tsig-keygen writes")
        raw = _RAW_COMMENT.sub("", text).strip()
        if not raw:
            raise TsigKeyError("empty")
        _decode(raw)
        return TsigMaterial(secret_b64=raw)
    name = block.group(1) if block.group(1) is not None else block.group(2)
    body = block.group(3)
    secrets = _SECRET.findall(body)
    if len(secrets) != 1:
        raise TsigKeyError('a key block needs exactly one `secret "...";`')
    algorithm = _ALGORITHM.search(body)
    algo = None if algorithm is None else (algorithm.group(1) or algorithm.group(2))
    _decode(secrets[0])
    return TsigMaterial(secret_b64=secrets[0], name=name, algorithm=algo)


def _decode(text: str) -> bytes:
    compact = "".join(text.split())
    try:
        secret = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        # `from None`: the codec's message could quote part of the secret.
        raise TsigKeyError("not base64 (nor a tsig-keygen key block)") from None
    if not secret:
        raise TsigKeyError("the secret is empty")
    return secret


def same_name(a: str, b: str) -> bool:
    """DNS names compare case-insensitively and with or without the final dot."""
    return bool(dns.name.from_text(a) == dns.name.from_text(b))


@dataclass(frozen=True)
class TsigKey:
    """A TSIG key ready to sign with; its repr names the key, never the secret.

    >>> TsigKey.from_text("failover-watcher.", "hmac-sha256", "c2VjcmV0")
    TsigKey(name='failover-watcher.', algorithm='hmac-sha256')
    """

    name: dns.name.Name
    algorithm: str
    _secret: bytes = field(repr=False)

    @classmethod
    def from_text(cls, name: str, algorithm: str, secret_b64: str) -> TsigKey:
        if algorithm.lower() not in ALGORITHMS:
            raise TsigKeyError(f"unsupported algorithm {algorithm!r}")
        return cls(dns.name.from_text(name), algorithm.lower(), _decode(secret_b64))

    def __repr__(self) -> str:
        return f"TsigKey(name={self.name.to_text()!r}, algorithm={self.algorithm!r})"

    def dnspython_key(self) -> dns.tsig.Key:
        """The key as dnspython signs with it (do not log it: its repr shows the secret)."""
        return dns.tsig.Key(self.name, self._secret, ALGORITHMS[self.algorithm])
