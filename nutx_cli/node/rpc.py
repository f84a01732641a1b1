"""bitcoind's JSON-RPC methods over the embedded chain: result shapes and error codes as bitcoind has them.

Methods receive already-decoded params (a list or a dict of named params) and return JSON values
or raise `RpcError(code, message)` with bitcoind's codes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nutx_cli import __version__
from nutx_cli.chain.address import AddressError, address_to_script, script_to_address
from nutx_cli.chain.block import Block, find_witness_commitment
from nutx_cli.chain.hashes import from_display_hex, to_display_hex
from nutx_cli.chain.tx import DecodeError, Tx, TxIn
from nutx_cli.core.targets import nbits_to_target, target_to_sv1_difficulty
from nutx_cli.node.chainstate import ChainService, LeverError, generate, reorg, template_on
from nutx_cli.node.kernel import Entry, Kernel

NETWORK = "regtest"
COIN = 100_000_000
LONGPOLL_TIMEOUT = 20.0
"""A long-poll returns a fresh template after this long even without a new tip (below
python-bitcoinrpc's 30 s HTTP timeout)."""
ANOTHER_MINER_ADDRESS = "bcrt1qw49pau7kzqzzgspve4rs4nv5s4s3ta5chnrmke"
"""Where `generatetoaddress`-less levers pay: the P2WPKH of private key sha256(b"nutx another miner")."""

# bitcoind's error codes (src/rpc/protocol.h)
RPC_MISC_ERROR = -1
RPC_TYPE_ERROR = -3
RPC_INVALID_ADDRESS_OR_KEY = -5
RPC_INVALID_PARAMETER = -8
RPC_DESERIALIZATION_ERROR = -22
RPC_INVALID_REQUEST = -32600
RPC_METHOD_NOT_FOUND = -32601
RPC_PARSE_ERROR = -32700


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


_JSON_TYPE = {
    bool: "bool",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def _expect(value: Any, kind: type | tuple[type, ...], name: str) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    else:
        ok = isinstance(value, kinds)
    if not ok:
        want = _JSON_TYPE.get(kinds[0], "value")
        raise RpcError(
            RPC_TYPE_ERROR,
            f"JSON value of type {_JSON_TYPE.get(type(value), 'value')} for "
            f"{name} is not of expected type {want}",
        )
    return value


def _hash_param(value: Any, name: str) -> bytes:
    _expect(value, str, name)
    if len(value) != 64:
        raise RpcError(
            RPC_INVALID_PARAMETER, f"{name} must be of length 64 (not {len(value)}, for '{value}')"
        )
    try:
        return from_display_hex(value)
    except ValueError:
        raise RpcError(RPC_INVALID_PARAMETER, f"{name} must be hexadecimal string (not '{value}')") from None


def _script_param(address: Any) -> bytes:
    _expect(address, str, "address")
    try:
        return address_to_script(address, NETWORK)
    except AddressError:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Error: Invalid address") from None


def difficulty(bits: int) -> float:
    """bitcoind's getdifficulty: difficulty 1 is 0xFFFF·2^208 (a display value, never used for money)."""
    return float(target_to_sv1_difficulty(nbits_to_target(bits)))


def chainwork(entry: Entry) -> str:
    """Cumulative work up to the entry; regtest never retargets, so every block has the same work."""
    target = nbits_to_target(entry.header.bits)
    return f"{(entry.height + 1) * ((1 << 256) // (target + 1)):064x}"


def header_json(kernel: Kernel, entry: Entry, n_tx: int | None) -> dict[str, Any]:
    tip = kernel.tip()
    result: dict[str, Any] = {
        "hash": to_display_hex(entry.hash),
        "confirmations": tip.height - entry.height + 1 if entry.in_best_chain else -1,
        "height": entry.height,
        "version": entry.header.version,
        "versionHex": f"{entry.header.version:08x}",
        "merkleroot": to_display_hex(entry.header.merkle_root),
        "time": entry.header.time,
        "mediantime": kernel.median_time_past(entry.hash),
        "nonce": entry.header.nonce,
        "bits": f"{entry.header.bits:08x}",
        "target": f"{nbits_to_target(entry.header.bits):064x}",
        "difficulty": difficulty(entry.header.bits),
        "chainwork": chainwork(entry),
        "nTx": n_tx if n_tx is not None else 0,
    }
    if entry.height > 0:
        result["previousblockhash"] = to_display_hex(entry.header.prev_hash)
    if entry.in_best_chain and (following := kernel.at_height(entry.height + 1)) is not None:
        result["nextblockhash"] = to_display_hex(following.hash)
    return result


def tx_json(tx: Tx) -> dict[str, Any]:
    stripped, full = len(tx.serialize(witness=False)), len(tx.serialize())
    vin: list[dict[str, Any]] = []
    for txin in tx.inputs:
        item: dict[str, Any] = (
            {"coinbase": txin.script_sig.hex()}
            if tx.is_coinbase()
            else {
                "txid": to_display_hex(txin.prev_txid),
                "vout": txin.prev_vout,
                "scriptSig": {"hex": txin.script_sig.hex()},
            }
        )
        if txin.witness:
            item["txinwitness"] = [w.hex() for w in txin.witness]
        item["sequence"] = txin.sequence
        vin.append(item)
    vout = []
    for n, out in enumerate(tx.outputs):
        spk: dict[str, Any] = {"hex": out.script_pubkey.hex()}
        if (address := script_to_address(out.script_pubkey, NETWORK)) is not None:
            spk["address"] = address
        vout.append({"value": out.value / COIN, "n": n, "scriptPubKey": spk})
    return {
        "txid": to_display_hex(tx.txid()),
        "hash": to_display_hex(tx.wtxid()),
        "version": tx.version,
        "size": full,
        "vsize": (3 * stripped + full + 3) // 4,
        "weight": 3 * stripped + full,
        "locktime": tx.locktime,
        "vin": vin,
        "vout": vout,
    }


def block_json(kernel: Kernel, entry: Entry, raw: bytes, verbosity: int) -> dict[str, Any]:
    block = Block.parse(raw)
    result = header_json(kernel, entry, len(block.txs))
    stripped = len(block.serialize(witness=False))
    result.update(size=len(raw), strippedsize=stripped, weight=3 * stripped + len(raw))
    result["tx"] = (
        [to_display_hex(tx.txid()) for tx in block.txs]
        if verbosity == 1
        else [tx_json(tx) for tx in block.txs]
    )
    return result


def _fill_witness_reserved_value(block: Block, raw: bytes) -> bytes:
    """bitcoind's UpdateUncommittedBlockStructures: add the coinbase's reserved value if it is missing."""
    coinbase = block.txs[0]
    if find_witness_commitment(coinbase) is None or coinbase.has_witness():
        return raw
    first = coinbase.inputs[0]
    filled = Tx(
        coinbase.version,
        (TxIn(first.prev_txid, first.prev_vout, first.script_sig, first.sequence, (bytes(32),)),),
        coinbase.outputs,
        coinbase.locktime,
    )
    return Block(block.header, (filled, *block.txs[1:])).serialize()


Method = Callable[..., Awaitable[Any]]


class NodeRpc:
    """The method table of the node's RPC server."""

    def __init__(
        self, chain: ChainService, stop: asyncio.Event, longpoll_timeout: float = LONGPOLL_TIMEOUT
    ) -> None:
        self._chain = chain
        self._stop = stop
        self._started = time.monotonic()
        self._longpoll_timeout = longpoll_timeout
        self._methods: dict[str, tuple[Method, list[str], int]] = {
            # name: (handler, parameter names, number required)
            "getblockchaininfo": (self.getblockchaininfo, [], 0),
            "getblockcount": (self.getblockcount, [], 0),
            "getbestblockhash": (self.getbestblockhash, [], 0),
            "getblockhash": (self.getblockhash, ["height"], 1),
            "getblockheader": (self.getblockheader, ["blockhash", "verbose"], 1),
            "getblock": (self.getblock, ["blockhash", "verbosity"], 1),
            "getblocktemplate": (self.getblocktemplate, ["template_request"], 0),
            "submitblock": (self.submitblock, ["hexdata", "dummy"], 1),
            "generatetoaddress": (self.generatetoaddress, ["nblocks", "address", "maxtries"], 2),
            "reorg": (self.reorg, ["depth", "address"], 1),
            "waitfornewblock": (self.waitfornewblock, ["timeout", "current_tip"], 0),
            "getdifficulty": (self.getdifficulty, [], 0),
            "getmininginfo": (self.getmininginfo, [], 0),
            "getnetworkinfo": (self.getnetworkinfo, [], 0),
            "uptime": (self.uptime, [], 0),
            "help": (self.help, ["command"], 0),
            "stop": (self.stop, [], 0),
        }

    async def dispatch(self, method: str, params: list[Any] | dict[str, Any]) -> Any:
        if method not in self._methods:
            raise RpcError(RPC_METHOD_NOT_FOUND, "Method not found")
        handler, names, required = self._methods[method]
        usage = f"{method} {' '.join(f'<{n}>' if i < required else f'( {n} )' for i, n in enumerate(names))}"
        if isinstance(params, dict):
            unknown = set(params) - set(names)
            if unknown:
                raise RpcError(RPC_INVALID_PARAMETER, f"Unknown named parameter {min(unknown)}")
            args = [params.get(n) for n in names]
            while args and args[-1] is None:
                args.pop()
        else:
            args = list(params)
        if not required <= len(args) <= len(names) or any(a is None for a in args[:required]):
            raise RpcError(RPC_MISC_ERROR, usage.strip())
        return await handler(*args)

    # -- chain ------------------------------------------------------------------------------------

    async def getblockchaininfo(self) -> dict[str, Any]:
        def info(k: Kernel) -> dict[str, Any]:
            tip = k.tip()
            return {
                "chain": NETWORK,
                "blocks": tip.height,
                "headers": tip.height,
                "bestblockhash": to_display_hex(tip.hash),
                "bits": f"{tip.header.bits:08x}",
                "target": f"{nbits_to_target(tip.header.bits):064x}",
                "difficulty": difficulty(tip.header.bits),
                "time": tip.header.time,
                "mediantime": k.median_time_past(tip.hash),
                "verificationprogress": 1,
                "initialblockdownload": False,
                "chainwork": chainwork(tip),
                "size_on_disk": 0,
                "pruned": False,
                "warnings": [],
            }

        return await self._chain.call(info)

    async def getblockcount(self) -> int:
        return await self._chain.call(lambda k: k.height())

    async def getbestblockhash(self) -> str:
        return await self._chain.call(lambda k: to_display_hex(k.tip().hash))

    async def getblockhash(self, height: Any) -> str:
        _expect(height, int, "height")
        entry = await self._chain.call(lambda k: k.at_height(height))
        if entry is None:
            raise RpcError(RPC_INVALID_PARAMETER, "Block height out of range")
        return to_display_hex(entry.hash)

    async def _entry(self, blockhash: Any) -> Entry:
        block_hash = _hash_param(blockhash, "blockhash")
        entry = await self._chain.call(lambda k: k.entry(block_hash))
        if entry is None:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
        return entry

    async def getblockheader(self, blockhash: Any, verbose: Any = True) -> Any:
        _expect(verbose, bool, "verbose")
        entry = await self._entry(blockhash)
        if not verbose:
            return entry.header.serialize().hex()

        def view(k: Kernel) -> dict[str, Any]:
            raw = k.block_bytes(entry.hash)
            return header_json(
                k, k.entry(entry.hash) or entry, None if raw is None else len(Block.parse(raw).txs)
            )

        return await self._chain.call(view)

    async def getblock(self, blockhash: Any, verbosity: Any = 1) -> Any:
        _expect(verbosity, (int, bool), "verbosity")
        level = int(verbosity)
        entry = await self._entry(blockhash)

        def view(k: Kernel) -> Any:
            raw = k.block_bytes(entry.hash)
            if raw is None:
                raise RpcError(RPC_MISC_ERROR, "Block not available (not fully downloaded)")
            if level <= 0:
                return raw.hex()
            return block_json(k, k.entry(entry.hash) or entry, raw, 1 if level == 1 else 2)

        return await self._chain.call(view)

    async def getdifficulty(self) -> float:
        return await self._chain.call(lambda k: difficulty(k.tip().header.bits))

    # -- mining -----------------------------------------------------------------------------------

    async def getblocktemplate(self, template_request: Any = None) -> dict[str, Any]:
        request = _expect({} if template_request is None else template_request, dict, "template_request")
        mode = request.get("mode", "template")
        if mode != "template":
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid mode")
        rules = request.get("rules", [])
        if not isinstance(rules, list) or "segwit" not in rules:
            raise RpcError(
                RPC_INVALID_PARAMETER,
                'getblocktemplate must be called with the segwit rule set (call with {"rules": ["segwit"]})',
            )
        longpollid = request.get("longpollid")
        if longpollid is not None:
            _expect(longpollid, str, "longpollid")
            try:
                known = from_display_hex(longpollid[:64])
            except ValueError:
                known = b""
            await self._chain.wait_for_tip_change(known, self._longpoll_timeout)

        def make(k: Kernel) -> dict[str, Any]:
            return template_on(k, k.tip(), int(time.time())).to_gbt()

        return await self._chain.call(make)

    async def submitblock(self, hexdata: Any, dummy: Any = None) -> str | None:
        _expect(hexdata, str, "hexdata")
        try:
            raw = bytes.fromhex(hexdata)
            block = Block.parse(raw)
        except (ValueError, DecodeError):
            raise RpcError(RPC_DESERIALIZATION_ERROR, "Block decode failed") from None
        if not block.txs or not block.txs[0].is_coinbase():
            raise RpcError(RPC_DESERIALIZATION_ERROR, "Block does not start with a coinbase")
        raw = _fill_witness_reserved_value(block, raw)
        try:
            return await self._chain.call(lambda k: k.process_block(raw))
        except DecodeError:
            raise RpcError(RPC_DESERIALIZATION_ERROR, "Block decode failed") from None

    async def generatetoaddress(self, nblocks: Any, address: Any, maxtries: Any = None) -> list[str]:
        _expect(nblocks, int, "nblocks")
        if nblocks < 0:
            raise RpcError(RPC_INVALID_PARAMETER, "nblocks must not be negative")
        script = _script_param(address)
        hashes = await self._chain.call(lambda k: generate(k, nblocks, script))
        return [to_display_hex(h) for h in hashes]

    async def reorg(self, depth: Any, address: Any = None) -> dict[str, Any]:
        """nutx's lever: replace the last `depth` blocks by a longer branch (depth + 1 blocks)."""
        _expect(depth, int, "depth")
        script = _script_param(ANOTHER_MINER_ADDRESS if address is None else address)
        try:
            done = await self._chain.call(lambda k: reorg(k, depth, script))
        except LeverError as exc:
            raise RpcError(RPC_INVALID_PARAMETER, str(exc)) from None
        return {
            "old_tip": to_display_hex(done.old_tip),
            "new_tip": to_display_hex(done.new_tip),
            "fork_height": done.fork_height,
            "disconnected": [to_display_hex(h) for h in done.disconnected],
            "connected": [to_display_hex(h) for h in done.connected],
        }

    async def waitfornewblock(self, timeout: Any = 0, current_tip: Any = None) -> dict[str, Any]:
        _expect(timeout, int, "timeout")
        assert self._chain.tip is not None
        known = self._chain.tip.hash if current_tip is None else _hash_param(current_tip, "current_tip")
        tip = await self._chain.wait_for_tip_change(known, timeout / 1000 if timeout > 0 else None)
        return {"hash": to_display_hex(tip.hash), "height": tip.height}

    async def getmininginfo(self) -> dict[str, Any]:
        def info(k: Kernel) -> dict[str, Any]:
            tip = k.tip()
            return {
                "blocks": tip.height,
                "bits": f"{tip.header.bits:08x}",
                "difficulty": difficulty(tip.header.bits),
                "target": f"{nbits_to_target(tip.header.bits):064x}",
                "networkhashps": 0,
                "pooledtx": 0,
                "chain": NETWORK,
                "warnings": [],
            }

        return await self._chain.call(info)

    # -- control ----------------------------------------------------------------------------------

    async def getnetworkinfo(self) -> dict[str, Any]:
        return {
            "version": 290000,
            "subversion": f"/nutx:{__version__}/",
            "protocolversion": 70016,
            "localservices": "0000000000000409",
            "localservicesnames": ["NETWORK", "WITNESS", "NETWORK_LIMITED"],
            "localrelay": False,
            "timeoffset": 0,
            "networkactive": False,
            "connections": 0,
            "connections_in": 0,
            "connections_out": 0,
            "networks": [],
            "relayfee": 0.00001,
            "incrementalfee": 0.00001,
            "localaddresses": [],
            "warnings": [],
        }

    async def uptime(self) -> int:
        return int(time.monotonic() - self._started)

    async def help(self, command: Any = None) -> str:
        return "\n".join(sorted(self._methods))

    async def stop(self) -> str:
        asyncio.get_running_loop().call_later(0.05, self._stop.set)
        return "Bitcoin server stopping"
