"""Where a result came from: the command that produced it, the code's version and commit, the libraries.

Result files carry this record so a table built from them can say which command to rerun, on which code.
"""

import importlib.metadata
import platform
import shlex
import subprocess
from pathlib import Path

PACKAGE = "video-planner"


def source_commit() -> str | None:
    """The git commit of this checkout (with "+dirty" when files differ from it), or None outside a checkout."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True)
    except (OSError, subprocess.TimeoutExpired):  # no git on this machine
        return None
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def installed_version(distribution: str) -> str | None:
    """The installed version of `distribution`; None when the code runs from a checkout that was not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def run_record(command: list[str]) -> dict:
    """The provenance of a run started by `command` (argv, program name first)."""
    return {
        "command": shlex.join(command),
        "version": installed_version(PACKAGE),
        "commit": source_commit(),
        "python": platform.python_version(),
        "torch": installed_version("torch"),
    }
