"""The error type for bad user input, and the one rule every command line applies to it: one line, exit 2."""

import errno
import sys
from collections.abc import Callable

# File-system faults a user fixes (permissions, a read-only mount, a full disk or a file-size limit, a file
# where a folder belongs).
FILE_SYSTEM_FAULTS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
    | {errno.ENOTDIR, errno.EISDIR, errno.EEXIST}
)


class InputError(ValueError):
    """Raised for input a user can fix (a typo'd name, a missing file); the message names the fix."""


def exit_status(run: Callable[[], object]) -> int:
    """Runs `run`; returns 0, or 2 after printing an `InputError`, or a file-system fault, as one
    `error: ...` line on stderr."""
    try:
        run()
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        if err.errno not in FILE_SYSTEM_FAULTS:
            raise
        where = f" {err.filename}" if err.filename else ""
        print(
            f"error: cannot write or read{where}: {err.strerror}; check the path, its permissions and free space",
            file=sys.stderr,
        )
        return 2
    return 0
