"""Backups of a mint's (or a pool's) data dir to one offline file, and bringing a data dir back from it.

The file (JSON, mode 0600) holds what can never be made again: the mint's master seed, from which every
keyset derives, and the role's key files (the pool's SV2 authority key, Noise static key and payout key);
and a consistent snapshot of the mint's ledger (SQLite's online backup, taken while the mint runs): its
epochs with their work and prices, its issued signatures and its spent proofs. Restored, the mint has
the same keysets, so every sat and ehash proof stays redeemable, and refuses the proofs spent before the
backup. What happened after the backup is not in it: proofs spent since could be spent again, and epochs
opened since are unknown (the pool skips their numbers, `skip_epochs`, so no keyset is handed out twice).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nutx_cli.errors import NutxError
from nutx_cli.mint.store import DB_NAME, MintStore
from nutx_cli.private_files import private_dir, read_private, write_private

FORMAT = 1


class BackupError(NutxError):
    """A backup that cannot be written, read, or restored here."""


@dataclass(frozen=True)
class Backup:
    role: str
    """"pool" or "mint": which command restores it."""
    network: str
    seed: str
    files: dict[str, str]
    ledger: bytes
    created_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "nutx_backup": FORMAT,
            "role": self.role,
            "network": self.network,
            "created_at": self.created_at,
            "mint_seed": self.seed,
            "files": self.files,
            "ledger": base64.b64encode(zlib.compress(self.ledger, 9)).decode(),
            "ledger_sha256": hashlib.sha256(self.ledger).hexdigest(),
        }

    @classmethod
    def from_json(cls, data: Any, source: Path) -> Backup:
        try:
            if data["nutx_backup"] != FORMAT:
                raise BackupError(f"{source} is a nutx backup of format {data['nutx_backup']}; upgrade nutx")
            ledger = zlib.decompress(base64.b64decode(data["ledger"], validate=True))
            if hashlib.sha256(ledger).hexdigest() != data["ledger_sha256"]:
                raise BackupError(f"{source} is damaged: its ledger does not match its checksum")
            files = data["files"]
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
                raise TypeError("files")
            return cls(
                role=str(data["role"]),
                network=str(data["network"]),
                seed=str(data["mint_seed"]),
                files=dict(files),
                ledger=ledger,
                created_at=int(data["created_at"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError, zlib.error) as exc:
            raise BackupError(f"{source} is not a nutx backup ({exc!r})") from None


def write_backup(data_dir: Path, out: Path, role: str, key_files: Sequence[str] = ()) -> Backup:
    """Back up `data_dir` (its mint and the named key files) to `out`, a new 0600 file."""
    if out.exists():
        raise BackupError(f"{out} exists; choose a new file for the backup")
    if not (data_dir / DB_NAME).exists():
        raise BackupError(f"no mint database in {data_dir}; pass the --data-dir of a {role}")
    files = {}
    for name in key_files:
        try:
            files[name] = read_private(data_dir / name)
        except FileNotFoundError:
            raise BackupError(f"{data_dir / name} is missing; start the {role} once to create it") from None
    store = MintStore.in_dir(data_dir)
    try:
        network, seed = store.meta("network"), store.meta("seed")
        if not network or not seed:
            raise BackupError(f"{data_dir} holds no mint yet; start the {role} once first")
        ledger = _snapshot(store)
    finally:
        store.close()
    backup = Backup(role, network, seed, files, ledger, int(time.time()))
    try:
        write_private(out, json.dumps(backup.to_json()) + "\n")
    except OSError as exc:
        raise BackupError(f"cannot write the backup {out} ({exc.strerror})") from None
    return backup


def _snapshot(store: MintStore) -> bytes:
    """The whole database as one consistent SQLite file (the online backup API: the mint may keep running)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / DB_NAME
        target = sqlite3.connect(copy)
        try:
            store.backup_to(target)
        finally:
            target.close()
        return copy.read_bytes()


def read_backup(path: Path) -> Backup:
    try:
        return Backup.from_json(json.loads(read_private(path)), path)
    except FileNotFoundError:
        raise BackupError(f"no backup at {path}; check --restore-from") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"cannot read the backup {path} ({exc})") from None


def restore_backup(path: Path, data_dir: Path, role: str, network: str) -> Backup:
    """Bring `data_dir` (which must hold no mint yet) back from the backup at `path`."""
    backup = read_backup(path)
    if backup.role != role:
        raise BackupError(f"{path} is a backup of a {backup.role}; restore it with `nutx {backup.role}`")
    if backup.network != network:
        raise BackupError(f"{path} is a backup of a {backup.network} {role}; pass --network {backup.network}")
    if (data_dir / DB_NAME).exists():
        raise BackupError(
            f"--restore-from: {data_dir} already holds a mint; drop the flag to run it, or restore into a new "
            "--data-dir"
        )
    private_dir(data_dir)
    for name, text in backup.files.items():
        if Path(name).name != name:
            raise BackupError(f"{path} names a key file outside the data dir ({name!r})")
        target = data_dir / name
        if target.exists() and read_private(target) != text:
            raise BackupError(f"{target} exists and differs from the backup's; move it away first")
    write_private(data_dir / DB_NAME, backup.ledger)
    for name, text in backup.files.items():
        write_private(data_dir / name, text)
    store = MintStore.in_dir(data_dir)
    try:
        if store.meta("seed") != backup.seed or store.meta("network") != backup.network:
            raise BackupError(f"{path} is damaged: its ledger is not the mint its seed names")
    finally:
        store.close()
    return backup
