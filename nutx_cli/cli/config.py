"""Per-role TOML config: `<data-dir>/config.toml`, whose keys are the role's long flag names.

A flag given on the command line wins over the config file, which wins over the built-in default.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import typer

from nutx_cli.errors import NutxError

CONFIG_NAME = "config.toml"

ADMIN_HOST_HELP = "Address the admin listener binds to; off loopback it needs --admin-token."
ADMIN_TOKEN_HELP = "Bearer token every admin request must carry (put it in config.toml to keep it off ps)."
DATABASE_HELP = (
    "The mint's PostgreSQL database, postgresql://user@host:port/db, which several pool front ends can "
    "share (a password goes in ~/.pgpass or PGPASSWORD, not here); default: SQLite in the data dir."
)


class ConfigError(NutxError):
    """A config file that cannot be read, or a key or value the role does not know."""


def default_data_dir(role: str) -> Path:
    """~/.nutx/<role> (DESIGN §1)."""
    return Path.home() / ".nutx" / role


def read_config(data_dir: Path) -> dict[str, Any]:
    path = data_dir / CONFIG_NAME
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix or remove the file") from exc


def apply_config(ctx: typer.Context, data_dir: Path) -> dict[str, Any]:
    """The command's parameters with defaults replaced by `<data-dir>/config.toml` values.

    Returns a dict keyed by parameter name (underscores). Unknown keys and values of the wrong
    type are refused with a message naming the file and key.
    """
    values = dict(ctx.params)
    config = read_config(data_dir)
    by_flag = {
        opt.lstrip("-"): param
        for param in ctx.command.params
        if not getattr(param, "is_argument", False) and param.param_type_name == "option"
        for opt in param.opts
        if opt.startswith("--")
    }
    for key, raw in config.items():
        param = by_flag.get(key)
        if param is None or param.name is None:
            known = ", ".join(sorted(k for k in by_flag if k not in ("help", "data-dir")))
            raise ConfigError(f"{data_dir / CONFIG_NAME}: unknown key {key!r}; known keys: {known}")
        source = ctx.get_parameter_source(param.name)
        if source is not None and source.name != "DEFAULT":
            continue
        try:
            values[param.name] = param.process_value(ctx, raw)
        except typer.BadParameter as exc:
            raise ConfigError(f"{data_dir / CONFIG_NAME}: bad value for {key!r}: {exc.message}") from exc
    return values
