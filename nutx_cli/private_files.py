"""Owner-only files: every role's data dir is 0700, its databases and key files 0600.

They hold what mints and spends money (the mint's seed, the wallet's phrase, the pool's keys, the
node's cookie), so other local users must not read them. Each is created with its mode (mkdir/open
with the mode, so there is no moment when it is readable); one found with wider modes (an older
nutx, a copy, a restore) is tightened at start with a warning.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from nutx_cli.errors import NutxError

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def tighten(mode: int, *paths: Path) -> None:
    """Take away from each existing path the permission bits `mode` lacks; one warning line if any changed."""
    changed = []
    for path in paths:
        try:
            old = path.stat().st_mode & 0o777
            if old & ~mode:
                path.chmod(old & mode)
                changed.append(f"{path} {old:04o} → {old & mode:04o}")
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise NutxError(f"cannot make {path} private ({exc.strerror}); run `chmod go= {path}`") from None
    if changed:
        log.warning("tightened permissions of files that hold secrets: %s", ", ".join(changed))


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents) as a 0700 dir, or tighten the existing one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        if not path.is_dir():
            raise NutxError(f"{path} is not a directory; pass another data dir") from None
        tighten(DIR_MODE, path)
    except OSError as exc:
        raise NutxError(f"cannot create the data dir {path} ({exc.strerror}); pass another one") from None
    return path


def private_database(path: Path) -> None:
    """Before SQLite opens `path`: the file exists with mode 0600, and so do the -wal/-shm files left behind.

    SQLite creates -wal and -shm with the database file's mode, so they come out 0600 too.
    """
    tighten(FILE_MODE, path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    except OSError as exc:
        raise NutxError(f"cannot create the database {path} ({exc.strerror}); check the data dir") from None


def read_private(path: Path) -> str:
    """A key file's text, after tightening its mode."""
    tighten(FILE_MODE, path)
    return path.read_text()


def write_private(path: Path, content: str | bytes) -> None:
    """Replace `path` atomically with a 0600 file holding `content`, on disk before this returns."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as f:
        f.write(content.encode() if isinstance(content, str) else content)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
