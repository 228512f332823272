"""Replacing a whole directory so that readers only ever see the old or the new version.

A writer fills `staging_path(target)`, then `commit_directory(target)` swaps it in: on Linux with one
atomic exchange of the two directories (renameat2), elsewhere with two renames; if a crash falls
between those, `recover_directory(target)` puts the old version back. Used for datasets and checkpoints.
"""

import ctypes
import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def staging_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.staging")


def _old_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def exchange_directories(a: Path, b: Path) -> bool:
    """Atomically swaps two directories with Linux's renameat2; False where the system has no such call."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.ENOSYS, errno.EINVAL):  # kernel or file system without RENAME_EXCHANGE
        return False
    raise OSError(error, os.strerror(error), str(a))


def recover_directory(target: Path) -> None:
    """Finishes or undoes a commit interrupted by a crash and drops an unfinished staging copy."""
    old, staging = _old_path(target), staging_path(target)
    if old.exists():
        if target.exists():
            shutil.rmtree(old)
        else:
            os.rename(old, target)
    if staging.exists():
        shutil.rmtree(staging)


def commit_directory(target: Path) -> None:
    """Puts the finished `staging_path(target)` in place of `target`."""
    staging, old = staging_path(target), _old_path(target)
    if not target.exists():
        os.rename(staging, target)
    elif exchange_directories(staging, target):
        shutil.rmtree(staging)  # it now holds the previous version
    else:
        os.rename(target, old)
        os.rename(staging, target)
        shutil.rmtree(old)


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yields an empty staging directory that replaces `target` only if the block finishes."""
    target = Path(target)
    recover_directory(target)
    staging = staging_path(target)
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    commit_directory(target)


def write_text_atomic(path: Path, text: str) -> None:
    """Writes a small file so that readers see the old or the whole new content, never a part."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
