"""The error type for bad user input: the CLI prints its message as one line, without a traceback."""


class InputError(ValueError):
    """Raised for input a user can fix (a typo'd name, a missing file); the message names the fix."""
