"""An async client of the mint's HTTP API (DESIGN §5): standard Cashu endpoints plus /v1/mining/*.

Every answer is parsed into a typed value here (the core models for outputs, signatures and proofs,
the core EPOCH schema for epochs, the small frozen dataclasses below for keysets and quotes), so a malformed answer is a
`BadMintAnswer` naming the field, not a crash further up. Every refusal of the mint (HTTP 400
`{"detail", "code"}`) becomes a `MintRefused` carrying the Cashu code and its DESIGN §5 name; a
mint that cannot be reached is `MintUnreachable`, whose message says what to start or which flag to
pass. The JSON on the wire is the protocol's, unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self, TypeVar

import httpx

from nutx_cli.core.bdhke import CryptoError
from nutx_cli.core.claims import Claim, ClaimJsonError
from nutx_cli.core.epoch_json import Epoch, EpochJsonError
from nutx_cli.core.epoch_status import EpochStatus
from nutx_cli.core.keysets import keyset_from_public_json
from nutx_cli.core.models import BlindedMessage, BlindSignature, ModelError, Proof
from nutx_cli.core.vocabulary import MeltQuoteState, MintQuoteState, ProofState, Unit
from nutx_cli.errors import NutxError

TIMEOUT_S = 30.0
MELT_TIMEOUT_S = 300.0
"""A melt blocks until the Lightning payment settles (NUT-05): allow it much longer."""

_OPTIONAL_INT = (int, type(None))
_OPTIONAL_STR = (str, type(None))

S = TypeVar("S", bound=StrEnum)

_REFUSALS = (400, 413, 429)
"""HTTP statuses the mint answers with a Cashu error body: a refusal, a body over its cap, its rate limit."""


class MintUnreachable(NutxError):
    """No answer from the mint (not running, wrong URL, connection cut)."""


class MintRefused(NutxError):
    """The mint answered a request with a Cashu error; `name` is the DESIGN §5 name of `code`."""

    def __init__(self, code: int, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"the mint refused: {detail} (code {code})")

    @property
    def name(self) -> str:
        # imported here: the mint package loads its web framework, which a wallet command rarely needs
        from nutx_cli.mint.errors import CODES

        return next((name for name, code in CODES.items() if code == self.code), "unknown")


class BadMintAnswer(NutxError):
    """The mint's answer is not the JSON the protocol says."""


# -- what the mint answers ---------------------------------------------------------------------


@dataclass(frozen=True)
class KeysetInfo:
    """One entry of GET /v1/keysets (NUT-02): a keyset without its keys."""

    id: str
    unit: str
    active: bool
    input_fee_ppk: int


@dataclass(frozen=True)
class KeysetKeys:
    """GET /v1/keys/{id} (NUT-01): a keyset with its public keys, {amount: 33-byte point}."""

    id: str
    unit: str
    active: bool
    input_fee_ppk: int
    final_expiry: int | None
    keys: dict[int, bytes]


@dataclass(frozen=True)
class EpochKeyset:
    """One entry of GET /v1/mining/keysets: an epoch's ehash keyset with the epoch's status."""

    id: str
    epoch: int
    status: EpochStatus
    active: bool
    input_fee_ppk: int


@dataclass(frozen=True)
class MintQuote:
    """A NUT-04 bolt11 mint quote (POST and GET /v1/mint/quote/bolt11)."""

    quote: str
    request: str
    state: MintQuoteState


@dataclass(frozen=True)
class MeltQuote:
    """A NUT-05 bolt11 melt quote: the invoice's amount and the fee reserve on top."""

    quote: str
    amount: int
    fee_reserve: int


@dataclass(frozen=True)
class MeltAnswer:
    """POST /v1/melt/bolt11: the payment's state, its preimage and the NUT-08 change signatures."""

    state: MeltQuoteState
    payment_preimage: str | None
    change: list[BlindSignature]


def _shaped(obj: Any, what: str, **fields: type | tuple[type, ...]) -> dict[str, Any]:
    """`obj` as a dict whose `fields` have the given types, else BadMintAnswer naming what is wrong."""
    if not isinstance(obj, dict):
        raise BadMintAnswer(f"the mint's {what} is not a JSON object")
    for name, kind in fields.items():
        value = obj.get(name)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise BadMintAnswer(f"the mint's {what} has a bad {name!r}: {value!r}")
    return obj


def _state(kind: type[S], value: str, what: str) -> S:
    """`value` as a member of `kind`, else BadMintAnswer naming what it was for."""
    try:
        return kind(value)
    except ValueError:
        raise BadMintAnswer(f"the mint's {what} has a bad state {value!r}") from None


def _listed(
    answer: dict[str, Any], key: str, what: str, **fields: type | tuple[type, ...]
) -> list[dict[str, Any]]:
    items = answer.get(key)
    if not isinstance(items, list):
        raise BadMintAnswer(f"the mint's answer has no list of {what}s")
    return [_shaped(item, what, **fields) for item in items]


def _signatures(items: Any, expected: int | None = None) -> list[BlindSignature]:
    if not isinstance(items, list):
        raise BadMintAnswer("the mint's answer has no list of signatures")
    try:
        sigs = [BlindSignature.from_json(s) for s in items]
    except (ModelError, CryptoError) as exc:
        raise BadMintAnswer(f"the mint sent a malformed signature: {exc}") from None
    if expected is not None and len(sigs) != expected:
        raise BadMintAnswer(f"the mint sent {len(sigs)} signatures for {expected} outputs")
    return sigs


def _mint_quote(answer: Any) -> MintQuote:
    d = _shaped(answer, "mint quote", quote=str, request=str, state=str)
    return MintQuote(d["quote"], d["request"], _state(MintQuoteState, d["state"], "mint quote"))


# -- the client ----------------------------------------------------------------------------------


class MintClient:
    """One mint at `url`; open with `async with MintClient(url) as client` or call `aclose()`."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.url, timeout=TIMEOUT_S)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = TIMEOUT_S
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, json=body, timeout=timeout)
        except httpx.HTTPError as exc:
            raise MintUnreachable(
                f"cannot reach the mint at {self.url} ({type(exc).__name__}: {exc}); start the pool "
                f"(`nutx pool start`) or the mint, or pass --mint URL"
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code in _REFUSALS and isinstance(data, dict) and "detail" in data:
            code = data.get("code")
            raise MintRefused(code if isinstance(code, int) else 0, str(data["detail"]))
        if response.status_code != 200 or not isinstance(data, dict):
            raise BadMintAnswer(
                f"{method} {self.url}{path} answered HTTP {response.status_code}: "
                f"{response.text[:200]!r}; is {self.url} a nutx mint?"
            )
        return data

    # -- keys and keysets -----------------------------------------------------------------------

    async def keysets(self) -> list[KeysetInfo]:
        """GET /v1/keysets: the standard (sat) keysets, without keys."""
        answer = await self._request("GET", "/v1/keysets")
        listed = _listed(
            answer, "keysets", "keyset", id=str, unit=str, active=bool, input_fee_ppk=_OPTIONAL_INT
        )
        return [KeysetInfo(k["id"], k["unit"], k["active"], k.get("input_fee_ppk") or 0) for k in listed]

    async def keys(self, keyset_id: str) -> KeysetKeys:
        """GET /v1/keys/{id}: one keyset with its keys (any unit), their points checked."""
        keysets = (await self._request("GET", f"/v1/keys/{keyset_id}")).get("keysets")
        if not isinstance(keysets, list) or len(keysets) != 1:
            raise BadMintAnswer(f"the mint sent no keyset for {keyset_id}")
        d = _shaped(
            keysets[0],
            "keyset",
            id=str,
            unit=str,
            keys=dict,
            input_fee_ppk=_OPTIONAL_INT,
            final_expiry=_OPTIONAL_INT,
        )
        try:
            keys = keyset_from_public_json(d)
        except (ModelError, CryptoError) as exc:
            raise BadMintAnswer(f"the mint's keys for {keyset_id} are malformed: {exc}") from None
        return KeysetKeys(
            d["id"],
            d["unit"],
            bool(d.get("active", True)),
            d.get("input_fee_ppk") or 0,
            d.get("final_expiry"),
            keys,
        )

    async def mining_keysets(self) -> list[EpochKeyset]:
        """GET /v1/mining/keysets: every epoch's ehash keyset with the epoch's status."""
        answer = await self._request("GET", "/v1/mining/keysets")
        listed = _listed(
            answer,
            "keysets",
            "ehash keyset",
            id=str,
            epoch=int,
            status=str,
            active=bool,
            input_fee_ppk=_OPTIONAL_INT,
        )
        return [
            EpochKeyset(
                k["id"],
                k["epoch"],
                _state(EpochStatus, k["status"], "ehash keyset"),
                k["active"],
                k.get("input_fee_ppk") or 0,
            )
            for k in listed
        ]

    async def epoch(self, epoch: int) -> Epoch:
        """GET /v1/mining/epochs/{n}: the EPOCH JSON of DESIGN §5."""
        answer = await self._request("GET", f"/v1/mining/epochs/{epoch}")
        try:
            return Epoch.from_json(answer)
        except EpochJsonError as exc:
            raise BadMintAnswer(f"the mint's epoch {epoch} is malformed: {exc}") from None

    # -- moving ecash ---------------------------------------------------------------------------

    async def swap(self, inputs: Sequence[Proof], outputs: Sequence[BlindedMessage]) -> list[BlindSignature]:
        body = {"inputs": [p.to_json() for p in inputs], "outputs": [o.to_json() for o in outputs]}
        return _signatures((await self._request("POST", "/v1/swap", body)).get("signatures"), len(outputs))

    async def redeem(
        self, inputs: Sequence[Proof], outputs: Sequence[BlindedMessage]
    ) -> list[BlindSignature]:
        body = {"inputs": [p.to_json() for p in inputs], "outputs": [o.to_json() for o in outputs]}
        answer = await self._request("POST", "/v1/mining/redeem", body)
        return _signatures(answer.get("signatures"), len(outputs))

    async def claims(self, pubkey: str) -> list[Claim]:
        """GET /v1/mining/claims/{pubkey}: the claims of a key, newest epoch first (DESIGN §4 "Claimed ehash")."""
        answer = await self._request("GET", f"/v1/mining/claims/{pubkey}")
        items = answer.get("claims")
        if not isinstance(items, list):
            raise BadMintAnswer("the mint's claims answer has no list of claims")
        try:
            return [Claim.from_json(c) for c in items]
        except ClaimJsonError as exc:
            raise BadMintAnswer(f"the mint sent a malformed claim: {exc}") from None

    async def claim(
        self, pubkey: str, epoch: int, outputs: Sequence[BlindedMessage], signature: str
    ) -> list[BlindSignature]:
        """POST /v1/mining/claim: the claim of `pubkey` in `epoch` minted into `outputs` (signed request)."""
        body = {
            "pubkey": pubkey,
            "epoch": epoch,
            "outputs": [o.to_json() for o in outputs],
            "signature": signature,
        }
        answer = await self._request("POST", "/v1/mining/claim", body)
        return _signatures(answer.get("signatures"), len(outputs))

    async def checkstate(self, ys: Sequence[str]) -> list[ProofState]:
        """NUT-07 states, index-aligned with `ys`."""
        states = (await self._request("POST", "/v1/checkstate", {"Ys": list(ys)})).get("states")
        if not isinstance(states, list) or len(states) != len(ys):
            raise BadMintAnswer("the mint's checkstate answer does not match the request")
        out: list[ProofState] = []
        for y, s in zip(ys, states, strict=True):
            if not (isinstance(s, dict) and s.get("Y") == y and s.get("state") in tuple(ProofState)):
                raise BadMintAnswer(f"bad checkstate entry {s!r}")
            out.append(ProofState(s["state"]))
        return out

    async def restore(self, outputs: Sequence[BlindedMessage]) -> list[tuple[BlindedMessage, BlindSignature]]:
        """NUT-09: the (output, signature) pairs of `outputs` the mint has signed before."""
        answer = await self._request("POST", "/v1/restore", {"outputs": [o.to_json() for o in outputs]})
        try:
            outs = [BlindedMessage.from_json(o) for o in answer.get("outputs") or []]
        except (ModelError, CryptoError) as exc:
            raise BadMintAnswer(f"the mint sent a malformed restore output: {exc}") from None
        sigs = _signatures(answer.get("signatures") or [], len(outs))
        return list(zip(outs, sigs, strict=True))

    # -- Lightning (NUT-04/05 bolt11) -------------------------------------------------------------

    async def mint_quote(self, amount: int, unit: str = Unit.SAT) -> MintQuote:
        return _mint_quote(
            await self._request("POST", "/v1/mint/quote/bolt11", {"amount": amount, "unit": unit})
        )

    async def mint_quote_state(self, quote: str) -> MintQuote:
        return _mint_quote(await self._request("GET", f"/v1/mint/quote/bolt11/{quote}"))

    async def mint(self, quote: str, outputs: Sequence[BlindedMessage]) -> list[BlindSignature]:
        body = {"quote": quote, "outputs": [o.to_json() for o in outputs]}
        return _signatures(
            (await self._request("POST", "/v1/mint/bolt11", body)).get("signatures"), len(outputs)
        )

    async def melt_quote(self, request: str, unit: str = Unit.SAT) -> MeltQuote:
        answer = await self._request("POST", "/v1/melt/quote/bolt11", {"request": request, "unit": unit})
        d = _shaped(answer, "melt quote", quote=str, amount=int, fee_reserve=int)
        return MeltQuote(d["quote"], d["amount"], d["fee_reserve"])

    async def melt(
        self, quote: str, inputs: Sequence[Proof], outputs: Sequence[BlindedMessage]
    ) -> MeltAnswer:
        body = {
            "quote": quote,
            "inputs": [p.to_json() for p in inputs],
            "outputs": [o.to_json() for o in outputs],
        }
        answer = await self._request("POST", "/v1/melt/bolt11", body, timeout=MELT_TIMEOUT_S)
        d = _shaped(answer, "melt answer", state=str, payment_preimage=_OPTIONAL_STR)
        return MeltAnswer(
            _state(MeltQuoteState, d["state"], "melt answer"),
            d.get("payment_preimage"),
            _signatures(d.get("change") or []),
        )
