"""A real BIND 9 `named` on a free loopback port, serving one zone that takes TSIG-signed updates.

The tests prove the receiver against the server operators run, not against a stand-in: `named`
parses our update, checks our TSIG signature, applies the change as one transaction and answers
NOERROR, NOTAUTH, REFUSED or BADSIG as it would in production.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update

from tests.support import until_sync

ZONE = "example.com."
KEY_NAME = "failover-watcher."
# Known to named but not granted updates: its updates are REFUSED.
READ_ONLY_KEY_NAME = "read-only."
START_TIMEOUT = 15.0


def named_binary() -> str | None:
    return shutil.which("named") or next(
        (p for p in ("/usr/sbin/named", "/usr/local/sbin/named") if os.access(p, os.X_OK)), None
    )


def free_port() -> int:
    """A loopback port free for both TCP and UDP (named listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise OSError("no free loopback port for TCP and UDP")


def tsig_keygen(name: str, algorithm: str = "hmac-sha256") -> str:
    """The key block `tsig-keygen` prints (the tool itself when installed)."""
    tool = shutil.which("tsig-keygen") or shutil.which("tsig-keygen", path="/usr/sbin:/sbin")
    if tool is not None:
        done = subprocess.run([tool, "-a", algorithm, name], capture_output=True, text=True, check=True)
        return done.stdout
    secret = base64.b64encode(os.urandom(32)).decode()
    return f'key "{name}" {{\n\talgorithm {algorithm};\n\tsecret "{secret}";\n}};\n'


def secret_of(key_block: str) -> str:
    return key_block.split('secret "', 1)[1].split('"', 1)[0]


ZONE_FILE = """$TTL 300
@ IN SOA ns1.example.com. hostmaster.example.com. ( 1 3600 600 86400 60 )
@ IN NS ns1.example.com.
ns1 IN A 127.0.0.1
voice IN A 192.0.2.10
voice IN AAAA 2001:db8:1::10
sip IN CNAME sip-use1.example.net.
chat IN A 192.0.2.20
"""


@dataclass
class BindServer:
    """One `named -g` in `directory`, on 127.0.0.1:`port`, primary for example.com."""

    directory: Path
    port: int = field(default_factory=free_port)
    key_block: str = field(default_factory=lambda: tsig_keygen(KEY_NAME))
    read_only_block: str = field(default_factory=lambda: tsig_keygen(READ_ONLY_KEY_NAME))
    update_policy: str | None = None
    """An `update-policy { ... };` body instead of `allow-update { key ...; };`."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def key_secret(self) -> str:
        return secret_of(self.key_block)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        (d / "keys.conf").write_text(self.key_block + self.read_only_block)
        zone = d / "example.com.db"
        if not zone.exists():
            zone.write_text(ZONE_FILE)
        rights = (
            f'allow-update {{ key "{KEY_NAME}"; }};'
            if self.update_policy is None
            else f"update-policy {{ {self.update_policy} }};"
        )
        conf = d / "named.conf"
        conf.write_text(
            f"""include "{d}/keys.conf";
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {self.port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-query {{ 127.0.0.1; }};
}};
controls {{ }};
zone "{ZONE}" {{
    type primary;
    file "example.com.db";
    {rights}
}};
"""
        )
        return conf

    def start(self) -> None:
        """Start `named` in the foreground and wait until it answers the zone's SOA."""
        binary = named_binary()
        assert binary is not None
        conf = self.write_config()
        log = (self.directory / "named.log").open("ab")
        # -g: foreground, log to stderr; -4: IPv4 only; -n 1: one worker thread (a shared machine).
        # No -u: as root named keeps running as root, as non-root it runs as the caller.
        self.process = subprocess.Popen(
            [binary, "-g", "-4", "-n", "1", "-c", str(conf), "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        process = self.process

        def answering() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"named exited with {process.returncode}:\n{self.log_tail()}")
            return self.answers()

        try:
            until_sync(answering, "named to answer", START_TIMEOUT, interval=0.05, detail=self.log_tail)
        except AssertionError:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        path = self.directory / "named.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def answers(self) -> bool:
        try:
            response = dns.query.udp(
                dns.message.make_query(ZONE, "SOA"), "127.0.0.1", port=self.port, timeout=0.5
            )
        except (OSError, dns.exception.DNSException):
            return False
        return response.rcode() == dns.rcode.NOERROR and bool(response.answer)

    def query(self, name: str, rdtype: str) -> list[str]:
        """The rrset's values as text, sorted; [] when the name has none of that type."""
        response = dns.query.tcp(dns.message.make_query(name, rdtype), "127.0.0.1", port=self.port, timeout=2)
        values: list[str] = []
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.from_text(rdtype):
                values.extend(r.to_text() for r in rrset)
        return sorted(values)

    def serial(self) -> int:
        """The zone's SOA serial: named bumps it once per applied update message."""
        (soa,) = self.query(ZONE, "SOA")
        return int(soa.split()[2])

    def ttl(self, name: str, rdtype: str) -> int:
        response = dns.query.tcp(dns.message.make_query(name, rdtype), "127.0.0.1", port=self.port, timeout=2)
        return int(response.answer[0].ttl)

    def change_behind_our_back(self, name: str, rdtype: str, *values: str) -> None:
        """An operator's manual change, signed with the same key (e.g. nsupdate by hand)."""
        update = dns.update.UpdateMessage(ZONE)
        update.replace(name, 300, rdtype, *values)
        update.use_tsig(dns.tsig.Key(KEY_NAME, self.key_secret, "hmac-sha256"))
        response = dns.query.tcp(update, "127.0.0.1", port=self.port, timeout=2)
        assert response.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(response.rcode())
