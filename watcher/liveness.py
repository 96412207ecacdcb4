"""`failover-watcher healthcheck`: probe a running watcher's `/healthz` and exit 0 or 1.

The container image runs this as its HEALTHCHECK so it needs neither curl nor wget, only the
standard library. Proxies from the environment are ignored: the probe targets the watcher itself,
usually on loopback, and an `HTTP_PROXY` meant for the Genesys API must not intercept it.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:9464/healthz"


def add_healthcheck_parser(subparsers: Any) -> None:
    """Register `healthcheck [--url URL] [--timeout SECONDS]` on an argparse subparsers object.

    >>> parser = argparse.ArgumentParser(prog="failover-watcher")
    >>> add_healthcheck_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["healthcheck", "--timeout", "0.5"])
    >>> (args.url, args.timeout, args.func is run_healthcheck)
    ('http://127.0.0.1:9464/healthz', 0.5, True)
    """
    parser = subparsers.add_parser(
        "healthcheck",
        help="probe a running watcher's /healthz (exit 0 if it answers 200, else 1)",
        description="Probe a running watcher's /healthz; used by the container HEALTHCHECK.",
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"URL to probe (default {DEFAULT_URL})")
    parser.add_argument(
        "--timeout", type=float, default=2.0, help="seconds to wait for the answer (default 2)"
    )
    parser.set_defaults(func=run_healthcheck)


def run_healthcheck(args: argparse.Namespace) -> int:
    """Exit status for `args.url` probed within `args.timeout` seconds: 0 on HTTP 200, else 1."""
    ok, detail = probe(str(args.url), float(args.timeout))
    if not ok:
        print(f"unhealthy: {detail}", file=sys.stderr)
    return 0 if ok else 1


def probe(url: str, timeout: float) -> tuple[bool, str]:
    """GET `url`; (True, "200") when it answers 200, else (False, what went wrong)."""
    if urlsplit(url).scheme not in ("http", "https"):
        return False, f"{url!r} is not an http(s) URL"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return False, f"{url} answered {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return False, f"{url} unreachable: {reason}"
    if status != 200:
        return False, f"{url} answered {status}"
    return True, str(status)
