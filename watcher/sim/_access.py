"""Who may call the API and how often: issued tokens and the per-token request budget."""

from __future__ import annotations

import math
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0


@dataclass
class IssuedToken:
    """A token's holder and life; the token string itself is only the dict key."""

    client_id: str
    expires_at: float
    revoked: bool = False


class TokenBook:
    """Tokens issued by ``POST /oauth/token``, checked on every API call.

    Time comes from an injected clock so expiry is testable without waiting.
    """

    def __init__(self, lifetime_seconds: int, clock: Callable[[], float]) -> None:
        self.lifetime_seconds = lifetime_seconds
        self._clock = clock
        self._tokens: dict[str, IssuedToken] = {}

    def __repr__(self) -> str:
        return f"TokenBook(issued={len(self._tokens)}, lifetime={self.lifetime_seconds})"

    def issue(self, client_id: str) -> str:
        now = self._clock()
        self._tokens = {
            token: issued
            for token, issued in self._tokens.items()
            if issued.expires_at > now and not issued.revoked
        }
        token = secrets.token_urlsafe(32)
        self._tokens[token] = IssuedToken(client_id, now + self.lifetime_seconds)
        return token

    def holder(self, token: str | None) -> tuple[str | None, str]:
        """``(client_id, "")`` for a valid token, else ``(None, why)``."""
        if not token:
            return None, "missing bearer token"
        issued = self._tokens.get(token)
        if issued is None:
            return None, "invalid access token"
        if issued.revoked or self._clock() >= issued.expires_at:
            return None, "access token expired"
        return issued.client_id, ""

    def expire_all(self) -> int:
        """Make every token issued so far answer 401 from now on; return how many."""
        for issued in self._tokens.values():
            issued.revoked = True
        return len(self._tokens)


class RateWindow:
    """At most ``per_minute`` admitted requests per token in any rolling 60 s window.

    Only admitted requests count, so a client that backs off as told by ``Retry-After``
    gets back in; lowering the budget at run time applies to the current window at once.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._windows: dict[str, deque[float]] = {}

    def admit(self, key: str) -> int | None:
        """``None`` if the request may go on, else the ``Retry-After`` in whole seconds."""
        now = self._clock()
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = deque()
        horizon = now - WINDOW_SECONDS
        while window and window[0] <= horizon:
            window.popleft()
        if len(window) >= self.per_minute:
            if not window:
                return math.ceil(WINDOW_SECONDS)
            oldest = window[len(window) - self.per_minute]
            return max(1, math.ceil(oldest + WINDOW_SECONDS - now))
        window.append(now)
        return None

    def usage(self, key: str) -> tuple[int, int]:
        """What the ``inin-ratelimit-*`` headers say for ``key``: the requests counted in the
        rolling window, and whole seconds until the oldest of them leaves it (the window's end
        for the client: the count drops then). A key with nothing counted gets a full window.
        """
        now = self._clock()
        window = self._windows.get(key)
        if window is None:
            return 0, math.ceil(WINDOW_SECONDS)
        horizon = now - WINDOW_SECONDS
        while window and window[0] <= horizon:  # O(1) per call: the benchmark sends thousands
            window.popleft()
        if not window:
            return 0, math.ceil(WINDOW_SECONDS)
        return len(window), max(1, math.ceil(window[0] + WINDOW_SECONDS - now))
