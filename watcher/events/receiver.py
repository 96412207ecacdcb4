"""A small webhook receiver: verifies, dedups and prints what the watcher sends.

For tests and for users checking their wiring (`failover-watcher receive --port 9000 --secret ...`).
It checks the Standard Webhooks signature (401 otherwise), the CloudEvents 1.0 structure (400
otherwise), and deduplicates by `webhook-id`: delivery is at-least-once, so a duplicate is normal,
answered 200 and counted, never printed twice.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from watcher.events.cloudevent import structure_problems
from watcher.events.signing import SigningError, Verifier
from watcher.serving import base_url_of, bind_socket, serving

_DEDUP_MEMORY = 100_000


@dataclass
class ReceivedEvents:
    """What a receiver has seen. `events` holds each verified event once, in arrival order."""

    url: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    rejected: int = 0
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict, repr=False)

    def first_sighting(self, webhook_id: str) -> bool:
        """Remember `webhook_id`; False if it was seen already (bounded memory, oldest forgotten)."""
        if webhook_id in self._seen:
            return False
        self._seen[webhook_id] = None
        if len(self._seen) > _DEDUP_MEMORY:
            self._seen.popitem(last=False)
        return True


def event_line(event: dict[str, Any]) -> str:
    """`<time> <type> <subject> id=<id> verified`: one line per event, grep-friendly."""
    return (
        f"{event.get('time', '-')} {event.get('type')} {event.get('subject', '-')} "
        f"id={event.get('id')} verified"
    )


def build_app(
    secrets: Sequence[SecretStr | str],
    received: ReceivedEvents,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> Starlette:
    """The ASGI app; `on_event` is called once per new verified event (printing, in the CLI)."""
    verifier = Verifier(secrets)

    async def ingest(request: Request) -> Response:
        body = await request.body()
        if not verifier.verify(body, dict(request.headers)):
            received.rejected += 1
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        try:
            event = json.loads(body)
        except ValueError:
            event = None
        problems = structure_problems(event)
        if problems or not isinstance(event, dict):
            received.rejected += 1
            return JSONResponse({"error": "not a CloudEvent 1.0", "problems": problems}, 400)
        if not received.first_sighting(request.headers["webhook-id"]):
            received.duplicates += 1
            return JSONResponse({"status": "duplicate"})
        received.events.append(event)
        if on_event is not None:
            on_event(event)
        return JSONResponse({"status": "accepted"})

    return Starlette(routes=[Route("/{path:path}", ingest, methods=["POST"])])


@contextlib.asynccontextmanager
async def running_receiver(
    secrets: Sequence[SecretStr | str],
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> AsyncIterator[ReceivedEvents]:
    """A receiver serving in the current event loop until the block exits.

    >>> async with running_receiver([secret]) as rx:     # doctest: +SKIP
    ...     await dispatcher.publish(event, "strategy-1")
    ...     rx.url, rx.events, rx.duplicates, rx.rejected
    """
    received = ReceivedEvents()
    app = build_app(secrets, received, on_event)
    sock = bind_socket(host, port)
    received.url = base_url_of(sock)[0] + "/"
    async with serving(app, sock, name="event-receiver"):
        yield received


def _read_secret_file(path: Path) -> list[SecretStr]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [SecretStr(s.strip()) for s in lines if s.strip() and not s.lstrip().startswith("#")]


def _receive(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    secrets = [SecretStr(s) for s in args.secret or []]
    if args.secret_file is not None:
        try:
            secrets += _read_secret_file(Path(args.secret_file))
        except OSError as exc:
            print(f"receive: cannot read --secret-file: {exc.strerror}", file=sys.stderr)
            return 2
    if not secrets:
        print("receive: give at least one --secret or --secret-file", file=sys.stderr)
        return 2

    def show(event: dict[str, Any]) -> None:
        text = json.dumps(event, separators=(",", ":")) if args.json else event_line(event)
        print(text, file=out, flush=True)

    try:
        app = build_app(secrets, ReceivedEvents(), show)
    except SigningError as exc:
        print(f"receive: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def add_receive_parser(subparsers: Any) -> None:
    """Register `receive` on the CLI's subparsers (`func=` returns the exit code)."""
    parser = subparsers.add_parser(
        "receive",
        help="run a webhook receiver that verifies and prints the watcher's events",
        description=__doc__,
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--secret",
        action="append",
        help="Standard Webhooks secret (whsec_...); repeat during a rotation",
    )
    parser.add_argument("--secret-file", help="file with one secret per line")
    parser.add_argument("--json", action="store_true", help="print each event as one JSON line")
    parser.set_defaults(func=_receive)
