"""RFC 2136 dynamic updates, signed with TSIG, to the zone's primary: the one DNS seam.

Every event becomes ONE update message: for each record, delete its rrset and add the region's
values with the configured TTL. The server applies a message as a whole or not at all, so the
records of a strategy never disagree with each other. dnspython builds, signs and sends the message
and checks the TSIG of the answer; nothing of the wire format is written here.

`apply` returns only when the server answered NOERROR to a correctly signed answer; anything else
(no answer, a timeout, an rcode such as REFUSED or NOTAUTH, a TSIG error such as BADSIG or BADKEY)
raises `DnsUpdateFailed`, which the HTTP side answers 5xx so the watcher's outbox retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import anyio
import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.tsig
import dns.update

from watcher.dnssync.records import RecordChange
from watcher.dnssync.tsigkey import TsigKey

FailureKind = Literal["rcode", "tsig", "timeout", "connection", "protocol"]

_PEER_TSIG_ERRORS: tuple[tuple[type[dns.tsig.PeerError], str], ...] = (
    (dns.tsig.PeerBadSignature, "BADSIG"),
    (dns.tsig.PeerBadKey, "BADKEY"),
    (dns.tsig.PeerBadTime, "BADTIME"),
    (dns.tsig.PeerBadTruncation, "BADTRUNC"),
)


class DnsUpdateFailed(Exception):
    """The server did not confirm the update. `kind` and `code` are the metric labels:
    `rcode`/REFUSED, `tsig`/BADSIG, `timeout`/none, `connection`/none, `protocol`/none."""

    def __init__(self, kind: FailureKind, code: str, detail: str) -> None:
        self.kind = kind
        self.code = code
        super().__init__(detail)

    @property
    def answered(self) -> bool:
        """True when the server answered (and said no): 502 rather than 503."""
        return self.kind in ("rcode", "tsig")


class DnsUpdater:
    """Sends the rrset replacements of one event to the primary, as one signed update.

    >>> updater = DnsUpdater(("127.0.0.1", 53), "example.com.", key, ttl=30, timeout=2.0)  # doctest: +SKIP
    >>> await updater.apply([RecordChange(name, "A", ("192.0.2.10",))])                   # doctest: +SKIP
    """

    def __init__(
        self,
        server: tuple[str, int],
        zone: str,
        key: TsigKey,
        *,
        ttl: int,
        timeout: float,
        transport: Literal["tcp", "udp"] = "tcp",
    ) -> None:
        self._host, self._port = server
        self._zone = dns.name.from_text(zone)
        self._key = key
        self._ttl = ttl
        self._timeout = timeout
        self._transport = transport

    def __repr__(self) -> str:
        return (
            f"DnsUpdater(server={self.server!r}, zone={self._zone.to_text()!r}, key={self._key!r}, "
            f"transport={self._transport!r})"
        )

    @property
    def server(self) -> str:
        return f"[{self._host}]:{self._port}" if ":" in self._host else f"{self._host}:{self._port}"

    def message(self, changes: Sequence[RecordChange]) -> dns.update.UpdateMessage:
        """The signed update replacing every rrset of `changes`."""
        update = dns.update.UpdateMessage(self._zone)
        for change in changes:
            update.replace(change.name, self._ttl, change.rdtype, *change.values)
        update.use_tsig(self._key.dnspython_key())
        return update

    async def apply(self, changes: Sequence[RecordChange]) -> None:
        """Send one update; return once the server answered NOERROR, raise `DnsUpdateFailed` otherwise."""
        update = self.message(changes)
        try:
            # dnspython's own timeout bounds each socket operation; the scope bounds the whole.
            with anyio.fail_after(self._timeout):
                response = await self._send(update)
        except TimeoutError:
            raise DnsUpdateFailed(
                "timeout", "none", f"no answer from {self.server} in {self._timeout}s"
            ) from None
        except dns.exception.Timeout:
            raise DnsUpdateFailed(
                "timeout", "none", f"no answer from {self.server} in {self._timeout}s"
            ) from None
        except dns.tsig.PeerError as exc:
            code = next((name for cls, name in _PEER_TSIG_ERRORS if isinstance(exc, cls)), "PEERERROR")
            raise DnsUpdateFailed(
                "tsig", code, f"{self.server} rejected the TSIG signature of key {self._key.name} ({code})"
            ) from None
        except (dns.tsig.BadSignature, dns.tsig.BadKey, dns.tsig.BadAlgorithm, dns.tsig.BadTime) as exc:
            raise DnsUpdateFailed(
                "tsig",
                "UNVERIFIED",
                f"the answer of {self.server} failed TSIG verification ({type(exc).__name__})",
            ) from None
        except dns.message.UnknownTSIGKey:
            raise DnsUpdateFailed(
                "tsig", "UNVERIFIED", f"the answer of {self.server} is signed with an unknown key"
            ) from None
        except (OSError, EOFError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise DnsUpdateFailed("connection", "none", f"cannot reach {self.server}: {reason}") from None
        except dns.exception.DNSException as exc:
            raise DnsUpdateFailed(
                "protocol", "none", f"unusable answer from {self.server} ({type(exc).__name__})"
            ) from None
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            name = dns.rcode.to_text(rcode)
            raise DnsUpdateFailed("rcode", name, f"{self.server} answered {name} for zone {self._zone}")

    async def _send(self, update: dns.update.UpdateMessage) -> dns.message.Message:
        if self._transport == "udp":
            return await dns.asyncquery.udp(update, self._host, timeout=self._timeout, port=self._port)
        return await dns.asyncquery.tcp(update, self._host, timeout=self._timeout, port=self._port)
