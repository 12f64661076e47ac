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
import time

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


def in_notebook() -> bool:
    """True inside a Jupyter notebook (a kernel with a web front end)."""
    shell = sys.modules.get("IPython")
    try:
        return shell is not None and type(shell.get_ipython()).__name__ == "ZMQInteractiveShell"
    except AttributeError:
        return False


def live_bar_class():
    """tqdm's bar where a bar can redraw itself (a terminal, or a notebook with ipywidgets);
    None where it cannot (output redirected to a file, a notebook without widgets)."""
    if in_notebook():
        try:
            import ipywidgets  # noqa: F401  (tqdm's notebook bar is a widget)
            from tqdm.notebook import tqdm
        except ImportError:
            return None
        return tqdm
    if getattr(sys.stderr, "isatty", lambda: False)():
        from tqdm.std import tqdm

        return tqdm
    return None


SHOW_PROGRESS_FROM = 5000  # images: below that, reading them is too quick to report


@contextlib.contextmanager
def progress(total: int, what: str):
    """Report a long job over `total` images: a bar where one can redraw, else a line at
    the start and one at the end. Yields advance(n)."""
    if total < SHOW_PROGRESS_FROM or not logger.isEnabledFor(logging.INFO) or not is_main_process():
        yield lambda done: None
        return
    bar_class, started = live_bar_class(), time.perf_counter()
    bar = bar_class(total=total, desc=what, unit="image", leave=False) if bar_class else None
    if bar is None:
        logger.info(f"{what}: {total} images ...")
    try:
        yield bar.update if bar else (lambda done: None)
    finally:
        if bar is not None:
            bar.close()
    logger.info(f"{what}: {total} images in {time.perf_counter() - started:.1f} s.")
