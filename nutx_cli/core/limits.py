"""Limits on a public listener as pure counters (no I/O; the caller passes the clock, in seconds).

A pool is a public server: without these one peer could hold every file descriptor, open channels
until memory runs out, or flood frames faster than the pool can hash them. The mechanisms are written
once here and used by the SV2 listener, the SV1 listeners and the mint's HTTP API:

- `TokenBucket`: `rate` tokens a second, at most `burst` saved up; each message or request spends one.
- `PerIpSlots`: the open connections of each peer address, against a cap.
- `PerIpBuckets`: one bucket per peer address; buckets that refilled are forgotten, so a scan from many
  addresses costs memory only while it lasts.
- `ConnectionLimiter`: one connection's deadlines (the handshake, then idle time between messages) and
  its message budget, from the operator's `ListenerLimits`; the deadline also bounds waiting for a peer to
  read what we sent, and `max_unread_bytes` caps what it may leave unread (a peer that stops reading
  would otherwise grow the pool's buffers with every job broadcast).

A cap or rate of 0 means "no limit"; so does a timeout of 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

DEFAULT_CONNECTIONS_PER_IP = 256
"""Enough for a farm behind one NAT address, or a proxy that opens one upstream connection per miner."""
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
DEFAULT_IDLE_TIMEOUT = 600.0
"""Vardiff aims at a share every 10 s, so ten minutes of silence is a dead peer, not a slow one."""
DEFAULT_CHANNELS_PER_CONNECTION = 128
DEFAULT_MESSAGES_PER_SECOND = 100.0
"""128 channels at 6 shares/min are 13 messages/s: the default leaves honest miners far below it."""
DEFAULT_MESSAGE_BURST = 1000
UNREAD_BYTES_MIN = 1 << 20
UNREAD_BYTES_PER_CHANNEL = 8 << 10
DEFAULT_MAX_BODY_BYTES = 1 << 20
"""1,000 inputs and 1,000 outputs with witnesses fit (CDK's mintd caps bodies at the same 1 MiB)."""
DEFAULT_REQUESTS_PER_MINUTE = 60.0
"""Nutshell's default global limit; here it applies to the requests that make the mint work."""
DEFAULT_REQUEST_BURST = 60


class TokenBucket:
    """`rate` tokens a second, at most `burst` of them saved; starts full."""

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = now

    def _refill(self, now: float) -> float:
        if now > self._stamp:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
        return self._tokens

    def take(self, now: float, n: int = 1) -> bool:
        """Spend `n` tokens if there are that many (then True); otherwise spend nothing (False)."""
        if self._refill(now) < n:
            return False
        self._tokens -= n
        return True

    def wait(self, now: float) -> float:
        """Seconds until one token is there (0 if one is there now)."""
        missing = 1 - self._refill(now)
        return max(0.0, missing / self.rate) if self.rate > 0 else math.inf

    def full(self, now: float) -> bool:
        return self._refill(now) >= self.burst


class PerIpSlots:
    """Open connections per peer address; `acquire` refuses one past `cap` (0: no cap)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._open: dict[str, int] = {}

    def acquire(self, ip: str) -> bool:
        count = self._open.get(ip, 0)
        if self.cap and count >= self.cap:
            return False
        self._open[ip] = count + 1
        return True

    def release(self, ip: str) -> None:
        count = self._open.get(ip, 0) - 1
        if count > 0:
            self._open[ip] = count
        else:
            self._open.pop(ip, None)

    def count(self, ip: str) -> int:
        return self._open.get(ip, 0)


class PerIpBuckets:
    """A `TokenBucket` per peer address (rate 0: no limit). Full buckets are dropped now and then."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}
        self._swept = -math.inf

    def take(self, ip: str, now: float) -> float | None:
        """None if `ip` may go ahead now; else the seconds until it may."""
        if self.rate <= 0:
            return None
        self._sweep(now)
        bucket = self._buckets.get(ip)
        if bucket is None:
            bucket = self._buckets[ip] = TokenBucket(self.rate, self.burst, now)
        return None if bucket.take(now) else bucket.wait(now)

    def _sweep(self, now: float) -> None:
        """Forget every bucket that is full again: an empty bucket refills within burst/rate seconds."""
        if now - self._swept < self.burst / self.rate:
            return
        self._swept = now
        for ip in [ip for ip, bucket in self._buckets.items() if bucket.full(now)]:
            del self._buckets[ip]

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass(frozen=True)
class ListenerLimits:
    """What an operator sets for an SV2 or SV1 listener (`nutx pool start`, `nutx proxy start`)."""

    connections_per_ip: int = DEFAULT_CONNECTIONS_PER_IP
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT
    """Seconds from accept to the first message (SV2: the Noise handshake and SetupConnection)."""
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    """Seconds without a complete message from the peer (what we send does not count)."""
    channels_per_connection: int = DEFAULT_CHANNELS_PER_CONNECTION
    """SV2: open channels. SV1 has one subscription per connection: there it caps authorized workers."""
    messages_per_second: float = DEFAULT_MESSAGES_PER_SECOND
    """Sustained frames (SV2) or lines (SV1) per connection; past it the connection is closed."""
    message_burst: int = DEFAULT_MESSAGE_BURST

    @property
    def max_unread_bytes(self) -> int:
        """Our output a peer may leave unread before it is disconnected: room for what a new block sends on
        every channel (a keyset, a prev hash and a job: about 3 KiB each), and at least 1 MiB."""
        return max(UNREAD_BYTES_MIN, UNREAD_BYTES_PER_CHANNEL * self.channels_per_connection)


@dataclass(frozen=True)
class HttpLimits:
    """What an operator sets for the mint's public HTTP API."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    requests_per_minute: float = DEFAULT_REQUESTS_PER_MINUTE
    """Per peer address, for the requests that make the mint work (quotes, swap, mint, melt, mining)."""
    request_burst: int = DEFAULT_REQUEST_BURST


@dataclass
class ConnectionLimiter:
    """One connection under `limits`, accepted at `opened` (seconds on the caller's clock)."""

    limits: ListenerLimits
    opened: float
    last_message: float | None = None
    _bucket: TokenBucket | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.limits.messages_per_second > 0:
            self._bucket = TokenBucket(
                self.limits.messages_per_second, self.limits.message_burst, self.opened
            )

    def deadline(self) -> float | None:
        """When to give up waiting for the next message: the handshake's end before the first, then the
        idle timeout after the last one (so bytes that never complete a message do not keep a peer)."""
        if self.last_message is None:
            timeout, since = self.limits.handshake_timeout, self.opened
        else:
            timeout, since = self.limits.idle_timeout, self.last_message
        return since + timeout if timeout > 0 else None

    def received(self, count: int, now: float) -> bool:
        """`count` messages arrived at `now`; False if they exceed the message rate."""
        if count <= 0:
            return True
        self.last_message = now
        return self._bucket is None or self._bucket.take(now, count)

    def waiting_for(self) -> str:
        """What a timeout at `deadline()` means, for the log line."""
        if self.last_message is None:
            return f"no first message within the handshake timeout of {self.limits.handshake_timeout:g} s"
        return f"no message for the idle timeout of {self.limits.idle_timeout:g} s"
