"""One exception type for problems the user can fix; entry points print it without a traceback."""


class ParasimError(RuntimeError):
    """A user-facing error: the message says what is wrong and what to do."""
