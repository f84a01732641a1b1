"""The Stratum V1 state machine of one miner (spec/stratum.md §7.2, §7.4, §7.6, §7.9), sans-IO.

`receive(request)` returns events: lines to send (`Send`) and things the service must act on (open
the channel behind the miner, start sending jobs, forward or credit a share, note a suggested
difficulty). The service is the proxy (an upstream SV2 channel per miner) or the pool's own SV1 port.
It knows nothing of SV2: jobs arrive as `Sv1Job`s through `push_job`, which puts `set_difficulty`
before every `notify` whose level differs from the last one announced (§7.9), and each share is
checked against the target of *its* job, so a difficulty change never rejects in-flight work.

Difficulties are powers of two: level k is sent as 2^(224−k), whose target 0xFFFF·2^(208−(224−k))
lies inside level k (just below T_k), so every share a miner sends is valid at its job's level.
Shares are checked locally (job known, extranonce2 size, version bits within the negotiated mask,
ntime, proof of work, duplicates by header hash); the proxy has them answered at once, as SRI's
translator does (`answer_shares_at_once`), the pool only once their work is durable. A miner that
subscribed to extranonce changes gets `mining.set_extranonce` with its extranonce before its first job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nutx_cli.core.targets import TargetError, level_of_target
from nutx_cli.sv1.difficulty import difficulty_of_level, max_target_for_suggestion, target_of_suggestion
from nutx_cli.sv1.job import Sv1Job
from nutx_cli.sv1.protocol import (
    ERR_DUPLICATE,
    ERR_INVALID_PARAMS,
    ERR_JOB_NOT_FOUND,
    ERR_LOW_DIFFICULTY,
    ERR_METHOD_NOT_FOUND,
    ERR_NOT_SUBSCRIBED,
    ERR_OTHER,
    ERR_UNAUTHORIZED,
    Notification,
    Request,
    RequestId,
    Response,
    Sv1Error,
    error_response,
    result_response,
)
from nutx_cli.sv2.jobs import BIP320_VERSION_ROLLING_MASK, roll_version

SERVER_VERSION_MASK = BIP320_VERSION_ROLLING_MASK
"""What SV1 miners roll (§7.6); inside the BIP323 mask SV2 jobs allow."""

MAX_JOBS = 64
"""Jobs kept per miner; refreshes on a quiet chain must not grow memory without bound."""

MAX_USERS = 16
"""Workers one connection may authorize by default (each gets statistics on the proxy)."""

MAX_NTIME_AHEAD = 7200
"""How far past its job's ntime a share's ntime may roll (MAX_FUTURE_BLOCK_TIME)."""


@dataclass(frozen=True, slots=True)
class Send:
    """A line for the miner."""

    message: Response | Notification


@dataclass(frozen=True, slots=True)
class SubscribeRequested:
    """The miner subscribed: open its upstream channel, then call `subscribed()` or `subscribe_failed()`."""


@dataclass(frozen=True, slots=True)
class Ready:
    """Subscribed and authorized: push the current job (`push_job`)."""


@dataclass(frozen=True, slots=True)
class DifficultySuggested:
    """The miner asked for at least this difficulty: the easiest target it wants, as an SV2 max_target."""

    max_target: int


@dataclass(frozen=True, slots=True)
class ShareAccepted:
    """A share that met its job's target locally: forward or credit it; answer `request_id` unless the
    session already did (`answer_shares_at_once`)."""

    request_id: int | str
    worker: str
    job: Sv1Job
    extranonce2: bytes
    ntime: int
    nonce: int
    version: int
    header_hash: bytes


@dataclass(frozen=True, slots=True)
class ShareRejected:
    """A share answered with an error; `reason` is a short stable name for statistics."""

    worker: str
    reason: str


REJECT_REASONS = {
    ERR_JOB_NOT_FOUND: "stale-share",
    ERR_DUPLICATE: "duplicate-share",
    ERR_LOW_DIFFICULTY: "difficulty-too-low",
    ERR_UNAUTHORIZED: "unauthorized",
    ERR_NOT_SUBSCRIBED: "not-subscribed",
}
"""Local rejects use the SV2 error names where one exists (spec §5.9), so upstream and local reasons line up."""


Event = Send | SubscribeRequested | Ready | DifficultySuggested | ShareAccepted | ShareRejected


def any_user(user: str) -> str | None:
    """Every user name is welcome (the proxy keeps worker names to itself)."""
    return None


@dataclass
class MinerSession:
    """One miner's connection. `subscription_id` names its subscriptions in the subscribe result;
    `check_user` returns why a user name is refused at authorize (None: accepted)."""

    subscription_id: str
    check_user: Callable[[str], str | None] = any_user
    answer_shares_at_once: bool = True
    max_users: int = MAX_USERS
    """Workers this connection may authorize (0: no cap)."""
    server_version_mask: int = SERVER_VERSION_MASK
    extranonce1: bytes | None = None
    extranonce2_size: int = 0
    users: set[str] = field(default_factory=set)
    version_mask: int | None = None
    """The negotiated BIP310 mask; None until `mining.configure` with version-rolling."""
    extranonce_subscribed: bool = False
    suggested_target: int | None = None
    _pending_subscribe: RequestId = None
    _subscribe_requested: bool = False
    _jobs: dict[str, Sv1Job] = field(default_factory=dict)
    _announced_target: int | None = None
    _seen: set[bytes] = field(default_factory=set)

    @property
    def ready(self) -> bool:
        return self.extranonce1 is not None and bool(self.users)

    # --- requests from the miner ------------------------------------------------------------------

    def receive(self, request: Request) -> list[Event]:
        handler = _HANDLERS.get(request.method)
        if handler is None:
            return [
                Send(error_response(request.id, ERR_METHOD_NOT_FOUND, f"unknown method {request.method!r}"))
            ]
        try:
            return handler(self, request)
        except Sv1Error as exc:
            events: list[Event] = [Send(error_response(request.id, exc.code, exc.message))]
            if request.method == "mining.submit":
                worker = request.params[0] if request.params and isinstance(request.params[0], str) else ""
                events.append(ShareRejected(worker, REJECT_REASONS.get(exc.code, "invalid-share")))
            return events

    def _configure(self, request: Request) -> list[Event]:
        params = request.params
        if (
            len(params) < 1
            or not isinstance(params[0], list)
            or (len(params) > 1 and not isinstance(params[1], dict))
        ):
            raise Sv1Error(ERR_INVALID_PARAMS, "mining.configure takes [[extensions], {parameters}]")
        options = params[1] if len(params) > 1 else {}
        result: dict[str, object] = {}
        events: list[Event] = []
        for ext in params[0]:
            if ext == "version-rolling":
                miner_mask = _hex_u32(options.get("version-rolling.mask", "ffffffff"), "version-rolling.mask")
                mask = self.server_version_mask & miner_mask
                self.version_mask = mask or None
                result["version-rolling"] = bool(mask)
                if mask:
                    result["version-rolling.mask"] = f"{mask:08x}"
            elif ext == "minimum-difficulty":
                try:
                    max_target = target_of_suggestion(options.get("minimum-difficulty.value"))
                except TargetError:
                    result["minimum-difficulty"] = False
                else:
                    result["minimum-difficulty"] = True
                    events.extend(self._suggest(max_target))
            elif ext == "subscribe-extranonce":
                result["subscribe-extranonce"] = True
                events.extend(self._subscribe_extranonce())
            elif isinstance(ext, str):
                result[ext] = False
        return [Send(result_response(request.id, result)), *events]

    def _subscribe(self, request: Request) -> list[Event]:
        if self.extranonce1 is not None:
            return [Send(self._subscribe_result(request.id))]
        if self._pending_subscribe is not None:
            raise Sv1Error(ERR_OTHER, "a mining.subscribe is already in progress")
        self._pending_subscribe = request.id
        if self._subscribe_requested:
            return []
        self._subscribe_requested = True
        return [SubscribeRequested()]

    def _authorize(self, request: Request) -> list[Event]:
        if not request.params or not isinstance(request.params[0], str) or not request.params[0].strip():
            raise Sv1Error(ERR_UNAUTHORIZED, "mining.authorize needs a user name")
        user = request.params[0]
        if len(user.encode()) > 255:
            raise Sv1Error(ERR_UNAUTHORIZED, "user names are at most 255 bytes")
        if user not in self.users and self.max_users and len(self.users) >= self.max_users:
            raise Sv1Error(ERR_UNAUTHORIZED, f"at most {self.max_users} workers per connection")
        refused = self.check_user(user)
        if refused is not None:
            raise Sv1Error(ERR_UNAUTHORIZED, refused)
        was_ready = self.ready
        self.users.add(user)
        events: list[Event] = [Send(result_response(request.id, True))]
        if self.ready and not was_ready:
            events.append(Ready())
        return events

    def _extranonce_subscribe(self, request: Request) -> list[Event]:
        return [Send(result_response(request.id, True)), *self._subscribe_extranonce()]

    def _subscribe_extranonce(self) -> list[Event]:
        """The miner takes `mining.set_extranonce`: it gets its extranonce now if it has one, else at subscribe."""
        was = self.extranonce_subscribed
        self.extranonce_subscribed = True
        return [] if was else self._set_extranonce()

    def _set_extranonce(self) -> list[Event]:
        if not self.extranonce_subscribed or self.extranonce1 is None:
            return []
        return [Send(Notification("mining.set_extranonce", [self.extranonce1.hex(), self.extranonce2_size]))]

    def _suggest_difficulty(self, request: Request) -> list[Event]:
        if len(request.params) != 1:
            raise Sv1Error(ERR_INVALID_PARAMS, "mining.suggest_difficulty takes [difficulty]")
        try:
            max_target = target_of_suggestion(request.params[0])
        except TargetError as exc:
            raise Sv1Error(ERR_INVALID_PARAMS, str(exc)) from None
        return [Send(result_response(request.id, True)), *self._suggest(max_target)]

    def _suggest(self, target: int) -> list[Event]:
        self.suggested_target = max_target_for_suggestion(target)
        return [DifficultySuggested(self.suggested_target)]

    def _submit(self, request: Request) -> list[Event]:
        params = request.params
        if self.extranonce1 is None:
            raise Sv1Error(ERR_NOT_SUBSCRIBED, "not subscribed")
        if not 5 <= len(params) <= 6 or not all(isinstance(p, str) for p in params):
            raise Sv1Error(
                ERR_INVALID_PARAMS,
                "mining.submit takes [worker, job_id, extranonce2, ntime, nonce(, version_bits)]",
            )
        worker, job_id, en2_hex, ntime_hex, nonce_hex = params[:5]
        if worker not in self.users:
            raise Sv1Error(ERR_UNAUTHORIZED, f"unauthorized worker {worker!r}")
        job = self._jobs.get(job_id)
        if job is None:
            raise Sv1Error(ERR_JOB_NOT_FOUND, f"job {job_id!r} not found (stale)")
        try:
            extranonce2 = bytes.fromhex(en2_hex)
        except ValueError:
            raise Sv1Error(ERR_OTHER, "extranonce2 is not hex") from None
        if len(extranonce2) != self.extranonce2_size:
            raise Sv1Error(ERR_OTHER, f"extranonce2 must be {self.extranonce2_size} bytes")
        ntime = _hex_u32(ntime_hex, "ntime")
        nonce = _hex_u32(nonce_hex, "nonce")
        version = self._rolled_version(job, params[5] if len(params) == 6 else None)
        if ntime < job.ntime:
            raise Sv1Error(ERR_OTHER, "ntime is older than the job's")
        if ntime > job.ntime + MAX_NTIME_AHEAD:
            raise Sv1Error(ERR_OTHER, "ntime too far in the future")
        header_hash = job.header(self.extranonce1, extranonce2, ntime, nonce, version).hash()
        if int.from_bytes(header_hash, "little") > job.target:
            raise Sv1Error(ERR_LOW_DIFFICULTY, "low difficulty share")
        if header_hash in self._seen:
            raise Sv1Error(ERR_DUPLICATE, "duplicate share")
        self._seen.add(header_hash)
        accepted = ShareAccepted(request.id, worker, job, extranonce2, ntime, nonce, version, header_hash)
        if self.answer_shares_at_once:
            return [Send(result_response(request.id, True)), accepted]
        return [accepted]

    def _rolled_version(self, job: Sv1Job, version_bits_hex: str | None) -> int:
        """BIP310: `(job.version & ~mask) | (bits & mask)`; a full rolled version is accepted too."""
        if version_bits_hex is None:
            return job.version
        if self.version_mask is None:
            raise Sv1Error(
                ERR_OTHER, "version bits sent without negotiating version rolling (mining.configure)"
            )
        bits = _hex_u32(version_bits_hex, "version_bits")
        mask = self.version_mask
        outside = bits & ~mask & 0xFFFFFFFF
        if outside and outside != job.version & ~mask & 0xFFFFFFFF:
            raise Sv1Error(ERR_OTHER, "version bits outside the negotiated mask")
        version = roll_version(job.version, bits, mask)
        if version != job.version and not job.version_rolling_allowed:
            raise Sv1Error(ERR_OTHER, "this job does not allow version rolling")
        return version

    # --- calls from the proxy service -------------------------------------------------------------

    def subscribed(self, extranonce1: bytes, extranonce2_size: int) -> list[Event]:
        """The upstream channel is open: answer the waiting subscribe with its extranonce."""
        self.extranonce1 = extranonce1
        self.extranonce2_size = extranonce2_size
        events: list[Event] = []
        if self._pending_subscribe is not None:
            events.append(Send(self._subscribe_result(self._pending_subscribe)))
            self._pending_subscribe = None
        events.extend(self._set_extranonce())
        if self.ready:
            events.append(Ready())
        return events

    def subscribe_failed(self, reason: str) -> list[Event]:
        request_id, self._pending_subscribe = self._pending_subscribe, None
        self._subscribe_requested = False
        return [Send(error_response(request_id, ERR_OTHER, reason))]

    def push_job(self, job: Sv1Job) -> list[Event]:
        """`set_difficulty` (if the level changed) then `notify`; a clean job drops all older ones."""
        events: list[Event] = []
        if job.target != self._announced_target:
            self._announced_target = job.target
            difficulty = difficulty_of_level(level_of_target(job.target))
            events.append(Send(Notification("mining.set_difficulty", [difficulty])))
        if job.clean:
            self._jobs.clear()
            self._seen.clear()
        self._jobs[job.job_id] = job
        while len(self._jobs) > MAX_JOBS:
            del self._jobs[next(iter(self._jobs))]
        events.append(Send(Notification("mining.notify", job.notify_params())))
        return events

    def _subscribe_result(self, request_id: RequestId) -> Response:
        assert self.extranonce1 is not None
        subscriptions = [
            ["mining.set_difficulty", self.subscription_id],
            ["mining.notify", self.subscription_id],
        ]
        return result_response(request_id, [subscriptions, self.extranonce1.hex(), self.extranonce2_size])


def _hex_u32(value: object, name: str) -> int:
    if not isinstance(value, str) or not 1 <= len(value) <= 8:
        raise Sv1Error(ERR_OTHER, f"{name} must be up to 8 hex digits")
    try:
        return int(value, 16)
    except ValueError:
        raise Sv1Error(ERR_OTHER, f"{name} must be up to 8 hex digits") from None


_HANDLERS = {
    "mining.configure": MinerSession._configure,
    "mining.subscribe": MinerSession._subscribe,
    "mining.authorize": MinerSession._authorize,
    "mining.extranonce.subscribe": MinerSession._extranonce_subscribe,
    "mining.suggest_difficulty": MinerSession._suggest_difficulty,
    "mining.submit": MinerSession._submit,
}
