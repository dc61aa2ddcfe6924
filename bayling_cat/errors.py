"""Errors a user can cause and fix: shown as one line, never as a traceback."""


class UserError(Exception):
    """A mistake in the input or the set-up that the user can correct.

    The message is a complete sentence naming the file and the place when there is one.
    """


class ModelError(UserError):
    """A model folder that cannot be used (missing, not converted, incomplete)."""


class ConversionError(UserError):
    """A checkpoint that cannot be converted."""
