"""The Genesys Cloud API surface (SPEC §2): one async client, its models and its typed errors."""

from watcher.genesys.auth import TokenSource, TokenThrottled
from watcher.genesys.budget import Priority, RequestBudget, request_priority
from watcher.genesys.client import ClientState, GenesysClient, ProbeAnswer, make_transport
from watcher.genesys.copies import Copies
from watcher.genesys.errors import (
    AuthenticationError,
    BadRequest,
    ClientClosed,
    GenesysError,
    MalformedResponse,
    NotFound,
    PermissionDenied,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportFailure,
    VersionConflict,
)
from watcher.genesys.models import (
    HEALTHY,
    AuditEntry,
    Region,
    RegionHealthReport,
    RoutingConfig,
    RoutingRule,
    Strategy,
    StrategyRegion,
    Target,
    Webhook,
    WebhookRequest,
)
from watcher.genesys.retry import MAX_RETRY_AFTER, RETRY_BACKOFF, retry_delay

__all__ = [
    "HEALTHY",
    "MAX_RETRY_AFTER",
    "RETRY_BACKOFF",
    "AuditEntry",
    "AuthenticationError",
    "BadRequest",
    "ClientClosed",
    "ClientState",
    "Copies",
    "GenesysClient",
    "GenesysError",
    "MalformedResponse",
    "NotFound",
    "PermissionDenied",
    "Priority",
    "ProbeAnswer",
    "RateLimited",
    "Region",
    "RegionHealthReport",
    "RequestBudget",
    "RequestTimeout",
    "RoutingConfig",
    "RoutingRule",
    "ServerError",
    "Strategy",
    "StrategyRegion",
    "Target",
    "TokenSource",
    "TokenThrottled",
    "TransportFailure",
    "VersionConflict",
    "Webhook",
    "WebhookRequest",
    "make_transport",
    "request_priority",
    "retry_delay",
]
