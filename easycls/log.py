"""The "easycls" logger: every message of the library, as plain lines, main process only.

Students see everything by default: a console handler prints each message as
it is, on standard output. To quieten easycls, raise the logger's level
(`logging.getLogger("easycls").setLevel(logging.WARNING)`) or pass
`verbose=False` to train(). To route the messages through your own logging
set-up instead, remove the console handler and let them propagate:

    log = logging.getLogger("easycls")
    log.removeHandler(easycls.log.CONSOLE)
    log.propagate = True
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
    """Lets records through on the main process only (on the logger: every handler obeys)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return is_main_process()


def _installed(kind: str):
    # By class name: a reloaded module (Jupyter's autoreload) defines new classes.
    return [item for item in logger.handlers + logger.filters if type(item).__name__ == kind]


if not _installed("ConsoleHandler"):
    console = ConsoleHandler()
    console.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(console)
    # The user's root logging configuration would print each message a second time.
    logger.propagate = False
if not _installed("MainProcessOnly"):
    logger.addFilter(MainProcessOnly())
if logger.level == logging.NOTSET:  # a level the user chose before importing easycls stays
    logger.setLevel(logging.INFO)
CONSOLE = _installed("ConsoleHandler")[0]


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
