"""What `nutx mint …` and `nutx pool …` share: the network, Lightning backend and restore flags (each
option declared once here and used in each command's signature), and the backup command's body."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from nutx_cli.cli.config import read_config
from nutx_cli.core.networks import NAMES
from nutx_cli.mint.lightning import DEFAULT_TIMEOUT_S
from nutx_cli.mint.lightning_config import LightningConfig

LNBITS_KEY_ENV = "NUTX_LNBITS_KEY"

NETWORK = typer.Option("regtest", "--network", help=f"The chain: {NAMES}.")
LIGHTNING = typer.Option(
    None, "--lightning", help="Lightning backend: lnbits, lnd, none, or fake (regtest only; its default)."
)
LNBITS_URL = typer.Option(None, "--lnbits-url", help="LNbits base URL, e.g. http://127.0.0.1:5000.")
LNBITS_KEY = typer.Option(
    None,
    "--lnbits-key",
    envvar=LNBITS_KEY_ENV,
    help=f"Admin key of the mint's LNbits wallet (or {LNBITS_KEY_ENV} / config.toml, off the process list).",
)
LND_URL = typer.Option(None, "--lnd-url", help="LND REST URL, e.g. https://127.0.0.1:8080.")
LND_MACAROON = typer.Option(
    None, "--lnd-macaroon", help="LND macaroon that may invoice and pay (admin.macaroon)."
)
LND_CERT = typer.Option(None, "--lnd-cert", help="LND's tls.cert (its REST certificate).")
LIGHTNING_TIMEOUT = typer.Option(
    DEFAULT_TIMEOUT_S, "--lightning-timeout", help="Seconds a payment may take before its melt stays PENDING."
)
RESTORE_FROM = typer.Option(
    None, "--restore-from", help="Bring an empty --data-dir back from a backup file (`backup`) first."
)

LIGHTNING_KEYS = {
    "lightning": "lightning",
    "lnbits-url": "lnbits_url",
    "lnbits-key": "lnbits_key",
    "lnd-url": "lnd_url",
    "lnd-macaroon": "lnd_macaroon",
    "lnd-cert": "lnd_cert",
}
"""config.toml keys of the backend → parameter names."""


def lightning_config(values: dict[str, Any]) -> LightningConfig:
    """The backend settings of a command's parameters (after `apply_config`)."""
    return LightningConfig(
        kind=values["lightning"],
        lnbits_url=values["lnbits_url"],
        lnbits_key=values["lnbits_key"],
        lnd_url=values["lnd_url"],
        lnd_macaroon=values["lnd_macaroon"],
        lnd_cert=values["lnd_cert"],
        timeout_s=values.get("lightning_timeout", DEFAULT_TIMEOUT_S),
    )


def with_config_backend(values: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """`values` with the backend keys the data dir's config.toml has and the command line left unset
    (for `nutx mint info`, which reads a serving mint's or pool's config for its backend alone)."""
    config = read_config(data_dir)
    out = dict(values)
    for key, name in LIGHTNING_KEYS.items():
        if out.get(name) is None and key in config:
            raw = config[key]
            out[name] = Path(raw) if name in ("lnd_macaroon", "lnd_cert") else raw
    return out


def backup(file: Path, data_dir: Path, role: str, key_files: Sequence[str] = ()) -> None:
    """`nutx mint backup` / `nutx pool backup`: write the file, say how to restore from it."""
    from nutx_cli.mint.backup import write_backup

    made = write_backup(data_dir, file, role, key_files)
    start = "pool start" if role == "pool" else "mint serve"
    typer.echo(f"backed up the {made.network} {role} in {data_dir} to {file}")
    typer.echo(
        f"restore with: nutx {start} --network {made.network} --data-dir NEW_DIR --restore-from {file}"
    )
