"""The errors a user can act on, in one leaf module (no mmcontrast imports, so every layer may raise them).

The command line prints any ``MmcontrastError`` as one line (``mmcontrast: error: ...``, exit 2; the traceback
only under ``--debug``), so each message names what to change: the config key, the file and line, the row, or the
folder and the flag that forces the action.
"""

from __future__ import annotations


class MmcontrastError(Exception):
    """Base of the errors the CLI reports as one line."""


class ConfigError(MmcontrastError, ValueError):
    """A config problem, naming the key (and the file or override) involved."""


class DataError(MmcontrastError, ValueError):
    """Bad training or evaluation data; the message names the file and line, or the row and column."""


class RunError(MmcontrastError, RuntimeError):
    """A run cannot go on safely (folder locked or in use by another run, changed config on resume, an export
    that would replace a trained model, no space left); the message names the folder and what to do."""


class NonFiniteError(RunError):
    """The loss or the gradients became NaN or infinite: training stopped before the weights were saved."""


class ComponentRuleError(ValueError):
    """A component's rule about the rest of the run's config is broken (raised by a component's ``check_config``):
    ``key`` is the dotted config key to change. The config adds where that key was set and raises a ConfigError."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return type(self), (self.key, str(self))
