"""Errors that reach the user as one line, without a traceback."""


class PinnError(Exception):
    """Base class: the message is complete and is printed as is."""


class ConfigError(PinnError):
    """A configuration value is invalid; the message names the key, the value and what is allowed."""


class DivergenceError(PinnError):
    """Training produced a non-finite value; the message names the step and the term."""


class Interrupted(PinnError):
    """The user stopped the run (Ctrl-C); a checkpoint of the last completed step was written."""


class InternalError(PinnError):
    """An error of pinn itself, not of the input: reported in one line, its traceback kept in the run directory."""
