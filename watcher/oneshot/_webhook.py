"""`register-webhook`: the DNS-sync webhook, registered once."""

from __future__ import annotations

import argparse

import anyio
from pydantic import SecretStr

from watcher.config import WatcherConfig
from watcher.genesys import GenesysClient, WebhookRequest
from watcher.oneshot._run import EXIT_OK, InputError


async def _register_webhook(args: argparse.Namespace, cfg: WatcherConfig, client: GenesysClient) -> int:
    secret: SecretStr | None = None
    if args.secret_file:
        secret = SecretStr((await anyio.Path(args.secret_file).read_text(encoding="utf-8")).strip())
    elif args.secret:
        secret = SecretStr(args.secret)
    else:
        secret = cfg.webhook_secret()
    url = args.url or (cfg.webhook.target_url if cfg.webhook else None)
    if not url:
        raise InputError("give --url, or [webhook] target_url in the config")
    name = args.name or (cfg.webhook.name if cfg.webhook else "External-DNS-Failover-Sync")
    events = cfg.webhook.events if cfg.webhook else ["routing:strategy:updated"]
    request = WebhookRequest(name=name, targetUrl=url, secret=secret, events=events)
    hook_id, created = await client.register_webhook_once(request)
    print(f"webhook {hook_id}: {'registered' if created else 'already registered, reused'} -> {url}")
    return EXIT_OK
