"""The error type for bad user input, and the one rule every command line applies to it: one line, exit 2."""

import sys
from collections.abc import Callable


class InputError(ValueError):
    """Raised for input a user can fix (a typo'd name, a missing file); the message names the fix."""


def exit_status(run: Callable[[], object]) -> int:
    """Runs `run`; returns 0, or 2 after printing an `InputError` as one `error: ...` line on stderr."""
    try:
        run()
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
