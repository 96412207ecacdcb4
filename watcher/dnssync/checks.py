"""What types cannot say about a dns-sync config, one line per problem naming the key; and the
resolved objects the receiver runs on, built only from a config that passed.

Records are checked against the zone (inside it, no CNAME at the apex or beside other data) and
against their values (IP literals of the right family, one CNAME target, a value list per region).
The receiver does not know the daemon's strategies, so coverage is checked against what the
operator declares: a record's own `regions`, or a `[[strategies]]` table with the strategy's
regions; with neither, an event naming a region the record has no values for is answered 422 at
run time (and the watcher retries it) instead of being refused here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path

import dns.exception
import dns.name
from pydantic import SecretStr

from watcher.dnssync.config import DnsSyncConfig, expand_path
from watcher.dnssync.records import RecordSpec
from watcher.dnssync.tsigkey import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    TsigKey,
    TsigKeyError,
    TsigMaterial,
    parse_tsig_material,
    same_name,
)
from watcher.events import SigningError, Verifier

DEFAULT_DNS_PORT = 53


# Host-name labels (RFC 1123, plus the underscore of service labels such as _sip._tcp).
_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")


def _name(text: str, *, wildcard: bool = False) -> dns.name.Name | None:
    """`text` as an absolute DNS name of host-name labels; None if it is not one.

    dnspython takes any bytes in a label (`"not a name!"` parses); a typo in a record should not.
    """
    labels = text.removesuffix(".").split(".")
    if wildcard and labels[0] == "*":
        labels = labels[1:]
    if text not in (".",) and not all(_LABEL.match(label) for label in labels):
        return None
    try:
        return dns.name.from_text(text)
    except dns.exception.DNSException:
        return None


def dns_server(text: str) -> tuple[str, int] | None:
    """`IP`, `IP:port`, `[IPv6]:port` or a bare IPv6 address; None if it is none of those."""
    candidates: list[tuple[str, int]] = [(text, DEFAULT_DNS_PORT)]
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and (":" not in host or host.startswith("[")):
        candidates.insert(0, (host.removeprefix("[").removesuffix("]"), int(port)))
    for candidate, number in candidates:
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        if 0 < number <= 65535:
            return str(address), number
    return None


def _check_secret_source(key: str, inline: SecretStr | None, file: Path | None, problems: list[str]) -> bool:
    """True when exactly one source is given and the file (if any) is readable text."""
    short = key.rsplit(".", 1)[-1]
    if inline is not None and file is not None:
        problems.append(f"{key}: give {short} or {short}_file, not both")
        return False
    if inline is None and file is None:
        problems.append(f"{key}: missing (set it, or {short}_file)")
        return False
    if file is not None:
        path = expand_path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{key}_file: {path} is not a readable file ({type(exc).__name__})")
            return False
        if not text.strip():
            problems.append(f"{key}_file: {path} is empty")
            return False
    return True


def _tsig_material(cfg: DnsSyncConfig, problems: list[str]) -> TsigMaterial | None:
    d = cfg.dns
    if not _check_secret_source("dns.tsig_secret", d.tsig_secret, d.tsig_secret_file, problems):
        return None
    key = "dns.tsig_secret" if d.tsig_secret is not None else "dns.tsig_secret_file"
    try:
        return parse_tsig_material(cfg.tsig_text())
    except TsigKeyError as exc:
        problems.append(f"{key}: {exc}")
        return None


def tsig_identity(cfg: DnsSyncConfig, material: TsigMaterial | None) -> tuple[str | None, str]:
    """The key's name and algorithm: the config's, else the key block's, else the default algorithm."""
    name = cfg.dns.tsig_key_name or (material.name if material else None)
    algorithm = cfg.dns.tsig_algorithm or (material.algorithm if material else None) or DEFAULT_ALGORITHM
    return name, algorithm.lower()


def _check_tsig(cfg: DnsSyncConfig, problems: list[str]) -> None:
    material = _tsig_material(cfg, problems)
    name, algorithm = tsig_identity(cfg, material)
    if algorithm not in ALGORITHMS:
        problems.append(f"dns.tsig_algorithm: {algorithm!r} is not one of {', '.join(sorted(ALGORITHMS))}")
    if name is None:
        problems.append(
            "dns.tsig_key_name: missing (set it, or give the tsig-keygen key block as the secret)"
        )
    elif _name(name) is None:
        problems.append(f"dns.tsig_key_name: {name!r} is not a DNS name")
    if material is None:
        return
    if material.name is not None and name is not None and _name(name) and not same_name(material.name, name):
        problems.append(f"dns.tsig_key_name: {name!r} differs from the key block's name {material.name!r}")
    if material.algorithm is not None and material.algorithm.lower() != algorithm:
        problems.append(
            f"dns.tsig_algorithm: {algorithm!r} differs from the key block's {material.algorithm!r}"
        )


def _check_receiver(cfg: DnsSyncConfig, problems: list[str]) -> None:
    r = cfg.receiver
    if not _check_secret_source("receiver.secret", r.secret, r.secret_file, problems):
        return
    key = "receiver.secret" if r.secret is not None else "receiver.secret_file"
    try:
        Verifier(cfg.webhook_secrets(), owner=key)
    except SigningError as exc:
        problems.append(str(exc))


def _value_checker(rdtype: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if rdtype == "A":
            try:
                ipaddress.IPv4Address(value)
            except ValueError:
                return f"{value!r} is not an IPv4 address"
        elif rdtype == "AAAA":
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                return f"{value!r} is not an IPv6 address"
        elif _name(value) is None or value in ("", "."):
            return f"{value!r} is not a domain name"
        return None

    return check


def _check_records(cfg: DnsSyncConfig, zone: dns.name.Name | None, problems: list[str]) -> None:
    if not cfg.records:
        problems.append("records: at least one [[records]] table is needed")
    strategy_regions: dict[str, list[str]] = {}
    for i, s in enumerate(cfg.strategies):
        if s.id in strategy_regions:
            problems.append(f"strategies[{i}].id: duplicate strategy id {s.id!r}")
        strategy_regions[s.id] = s.regions
    seen: dict[tuple[dns.name.Name, str], int] = {}
    by_name: dict[dns.name.Name, list[tuple[int, str]]] = {}
    for i, rec in enumerate(cfg.records):
        key = f"records[{i}]"
        name = _name(rec.name, wildcard=True)
        if name is None:
            problems.append(f"{key}.name: {rec.name!r} is not a DNS name")
        elif zone is not None and not name.is_subdomain(zone):
            problems.append(f"{key}.name: {rec.name!r} is outside the zone {zone.to_text()!r}")
        elif zone is not None and name == zone and rec.type == "CNAME":
            problems.append(f"{key}.type: a CNAME cannot be at the zone apex {zone.to_text()!r}")
        if name is not None:
            if (name, rec.type) in seen:
                problems.append(f"{key}: same name and type as records[{seen[name, rec.type]}]")
            seen.setdefault((name, rec.type), i)
            by_name.setdefault(name, []).append((i, rec.type))
        check = _value_checker(rec.type)
        if not rec.values:
            problems.append(f"{key}.values: no region has values")
        for region, values in rec.values.items():
            where = f"{key}.values.{region}"
            if not values:
                problems.append(f"{where}: empty (a region needs at least one value)")
            if rec.type == "CNAME" and len(values) > 1:
                problems.append(f"{where}: a CNAME takes exactly one value (got {len(values)})")
            if len(set(values)) != len(values):
                problems.append(f"{where}: a value is listed twice")
            problems.extend(f"{where}: {p}" for v in values if (p := check(v)) is not None)
        if rec.regions is not None:
            required, source = rec.regions, f"{key}.regions"
        elif rec.strategy in strategy_regions:
            required, source = strategy_regions[rec.strategy], f"strategy {rec.strategy!r}"
        else:
            if strategy_regions:
                problems.append(
                    f"{key}.strategy: {rec.strategy!r} is not under [[strategies]] "
                    f"(declared: {', '.join(sorted(strategy_regions))})"
                )
            continue
        missing = [r for r in required if r not in rec.values]
        if missing:
            problems.append(f"{key}.values: no values for region(s) {', '.join(missing)} of {source}")
    for entries in by_name.values():
        for i, rdtype in entries:
            others = [f"records[{j}] ({t})" for j, t in entries if j != i]
            if rdtype == "CNAME" and others:
                problems.append(f"records[{i}].name: a CNAME cannot share its name with {', '.join(others)}")


def config_problems(cfg: DnsSyncConfig) -> list[str]:
    """Every problem of the config, one line each, naming the key."""
    problems: list[str] = []
    _check_receiver(cfg, problems)
    if dns_server(cfg.dns.server) is None:
        problems.append(
            f"dns.server: {cfg.dns.server!r} is not IP[:port] (an address, not a host name: the "
            "receiver talks to the primary, not to a resolver)"
        )
    zone = _name(cfg.dns.zone)
    if zone is None or zone == dns.name.root:
        problems.append(f"dns.zone: {cfg.dns.zone!r} is not a zone name")
        zone = None
    _check_tsig(cfg, problems)
    _check_records(cfg, zone, problems)
    state = expand_path(cfg.state.dir)
    if state.exists() and not state.is_dir():
        problems.append(f"state.dir: {state} exists and is not a directory")
    return problems


def resolve_tsig_key(cfg: DnsSyncConfig) -> TsigKey:
    """The signing key of a checked config."""
    material = parse_tsig_material(cfg.tsig_text())
    name, algorithm = tsig_identity(cfg, material)
    assert name is not None  # checked
    return TsigKey.from_text(name, algorithm, material.secret_b64)


def resolve_records(cfg: DnsSyncConfig) -> list[RecordSpec]:
    """The records of a checked config, names absolute."""
    return [
        RecordSpec(
            name=dns.name.from_text(rec.name),
            rdtype=rec.type,
            strategy=rec.strategy,
            values={region: tuple(values) for region, values in rec.values.items()},
        )
        for rec in cfg.records
    ]
