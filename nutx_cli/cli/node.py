"""`nutx node start` (the embedded regtest node) and the `nutx regtest …` levers (DESIGN.md §1, §6)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from nutx_cli.cli.config import apply_config, default_data_dir
from nutx_cli.local import DEFAULT_RPC_PORT
from nutx_cli.node.client import connect
from nutx_cli.service import run_until_signalled

NODE_RPC_HELP = "Node RPC URL http://user:pass@host:port, or http://host:port with --node-cookie."
NODE_COOKIE_HELP = (
    "The node's cookie file (default: ~/.nutx/node/.cookie when no --node-rpc has credentials)."
)


def register(app: typer.Typer) -> None:
    node_app = typer.Typer(
        help="The embedded regtest node (Bitcoin Core's consensus engine).", no_args_is_help=True
    )
    regtest_app = typer.Typer(help="Regtest levers: blocks by another miner, reorgs.", no_args_is_help=True)

    @node_app.command("start")
    def start(
        ctx: typer.Context,
        data_dir: Path = typer.Option(default_data_dir("node"), "--data-dir", help="Chain data and .cookie."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address the RPC listens on."),
        rpc_port: int = typer.Option(DEFAULT_RPC_PORT, "--rpc-port", help="JSON-RPC port."),
        rpc_user: str = typer.Option(None, "--rpc-user", help="RPC user instead of the cookie file."),
        rpc_password: str = typer.Option(None, "--rpc-password", help="RPC password (with --rpc-user)."),
    ) -> None:
        """Run the regtest node with a bitcoind-compatible JSON-RPC until Ctrl-C."""
        from nutx_cli.node.server import NodeConfig, serve_node

        values = apply_config(ctx, data_dir)
        config = NodeConfig(
            data_dir=data_dir,
            host=values["host"],
            rpc_port=values["rpc_port"],
            rpc_user=values["rpc_user"],
            rpc_password=values["rpc_password"],
        )

        async def serve(stop: asyncio.Event) -> None:
            await serve_node(config, stop)

        run_until_signalled(serve)

    @regtest_app.command("generate")
    def generate(
        count: int = typer.Argument(..., min=1, help="Number of blocks to mine."),
        address: str = typer.Option(
            None, "--address", help="Pay the coinbases here (default: another miner)."
        ),
        node_rpc: str = typer.Option(None, "--node-rpc", help=NODE_RPC_HELP),
        node_cookie: Path = typer.Option(None, "--node-cookie", help=NODE_COOKIE_HELP),
    ) -> None:
        """Mine N blocks as "another miner" (through the node's validation)."""
        from nutx_cli.node.rpc import ANOTHER_MINER_ADDRESS

        client = connect(node_rpc, node_cookie=node_cookie)
        hashes = client.generatetoaddress(count, address or ANOTHER_MINER_ADDRESS)
        for block_hash in hashes:
            typer.echo(block_hash)
        typer.echo(f"height {client.getblockcount()}", err=True)

    @regtest_app.command("reorg")
    def reorg(
        depth: int = typer.Option(1, "--depth", min=1, help="How many blocks at the tip to replace."),
        address: str = typer.Option(None, "--address", help="Pay the new branch's coinbases here."),
        node_rpc: str = typer.Option(None, "--node-rpc", help=NODE_RPC_HELP),
        node_cookie: Path = typer.Option(None, "--node-cookie", help=NODE_COOKIE_HELP),
    ) -> None:
        """Replace the last N blocks with a longer competing branch (a real reorg)."""
        result = connect(node_rpc, node_cookie=node_cookie).reorg(depth, address)
        typer.echo(
            f"reorg at height {result['fork_height']}: {len(result['disconnected'])} blocks out, "
            f"{len(result['connected'])} in; tip {result['new_tip']} (was {result['old_tip']})"
        )

    app.add_typer(node_app, name="node")
    app.add_typer(regtest_app, name="regtest")
