"""The "easycls" logger: every message of the library, as plain lines, main process only.

Students see everything by default: a console handler prints each message as
it is, on standard output. To quieten easycls, raise the logger's level
(`logging.getLogger("easycls").setLevel(logging.WARNING)`) or pass
`verbose=False` to train(); to route messages elsewhere, remove or replace
`CONSOLE` like any logging handler.
"""
import contextlib
import logging
import sys

from .process import is_main_process

logger = logging.getLogger("easycls")


class ConsoleHandler(logging.Handler):
    """Writes to whatever sys.stdout is at the time (notebooks and tests replace it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stdout
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - logging must never break the caller
            self.handleError(record)


class MainProcessOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return is_main_process()


CONSOLE = ConsoleHandler()
CONSOLE.setFormatter(logging.Formatter("%(message)s"))
CONSOLE.addFilter(MainProcessOnly())
if not logger.handlers:  # a re-imported module must not print every line twice
    logger.addHandler(CONSOLE)
    logger.setLevel(logging.INFO)
    # The user's root logging configuration would print each message a second time.
    logger.propagate = False


@contextlib.contextmanager
def verbosity(verbose: bool):
    """Within the block, verbose=False shows only warnings and errors."""
    if verbose:
        yield
        return
    previous = logger.level
    logger.setLevel(max(logging.WARNING, previous))
    try:
        yield
    finally:
        logger.setLevel(previous)
