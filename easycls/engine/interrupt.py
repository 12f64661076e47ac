"""Ctrl-C during training stops at the next step boundary, so the saved state is exact."""
import contextlib
import signal
import threading

from ..log import logger


class StopRequest:
    """Set by the first Ctrl-C; the training loop checks it after every step."""

    def __init__(self):
        self.requested = False


@contextlib.contextmanager
def stop_at_step_boundaries():
    """Catch the first Ctrl-C as a request to stop; a second one interrupts at once."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request  # signal handlers can only be set from the main thread
        return
    # None means a handler installed outside Python (embedded interpreters): restore the default.
    previous = signal.getsignal(signal.SIGINT) or signal.SIG_DFL

    def handler(signum, frame):
        if request.requested:
            raise KeyboardInterrupt
        request.requested = True
        logger.warning("\nStopping after this step (press Ctrl-C again to stop at once) ...")

    signal.signal(signal.SIGINT, handler)
    try:
        yield request
    finally:
        signal.signal(signal.SIGINT, previous)
