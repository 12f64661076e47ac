"""`model.app()` and `easycls app CKPT`: a local web page to try a model, made with Gradio.

Sits above inference and visualize: the page classifies with the model's Predictor, as
`fast_inference` does, and labels pictures with `visualize/annotate.py`. Gradio is an
optional extra (pip install easycls[app]); it is imported only here, when a page is
made, so `import easycls` stays light. The page phones nowhere: gradio's telemetry and
version check are off, and it listens on 127.0.0.1 unless asked otherwise.
"""
import os
import sys
from typing import Optional

from ..errors import AppError, AppUnavailableError
from ..inference import Predictor
from ..log import in_notebook, logger

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def _gradio():
    # Read by gradio when it is imported and when a page is made: no usage reports and
    # no version check sent out; an explicit value of the user's own is replaced too.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        import gradio
    except ImportError as error:
        raise AppUnavailableError(
            f"The web page needs the 'gradio' package, which is not installed ({error}). "
            f"Install it with: pip install easycls[app]  (or: pip install gradio)") from error
    return gradio


def build_app(predictor: Predictor, lang: str = "en"):
    """The page (a gradio Blocks, not yet serving) for a model's Predictor."""
    _gradio()
    from .page import build_page

    return build_page(predictor, lang)


def launch_app(predictor: Predictor, host: str = "127.0.0.1", port: Optional[int] = None,
               share: bool = False, lang: str = "en", block: Optional[bool] = None):
    """Serve the page on host:port (port None: 7860, or the next free one), say where, and
    return the gradio Blocks. block=None waits for Ctrl-C in a script and returns at once
    in a notebook or an interactive shell, where the page is shown inline."""
    _check_address(host, port)
    demo = build_app(predictor, lang)
    try:
        demo.launch(server_name=host, server_port=port, share=share, prevent_thread_lock=True,
                    quiet=True, footer_links=["api", "settings"])
    except OSError as error:  # gradio found no port it could bind
        demo.close()
        raise _unavailable(host, port) from error
    if block is None:
        block = not (in_notebook() or hasattr(sys, "ps1"))  # a notebook or a Python prompt goes on
    _say_where(demo, host, share, block)
    if block:
        demo.block_thread()
    return demo


def _unavailable(host: str, port: Optional[int]) -> AppError:
    where = f"port {port}" if port is not None else "any port from 7860 to 7959"
    other = port + 1 if port is not None and port < 65535 else 8000
    foreign = ("" if host in LOCAL_HOSTS + ("0.0.0.0",)
               else f", or {host} is not an address of this computer")
    return AppError(f"Cannot listen on {host} at {where}: taken by another program or an easycls "
                    f"app still running{foreign}. Pass another port (--port {other}, "
                    f"model.app(port={other})), or stop the other program.")


def _check_address(host, port) -> None:
    if not isinstance(host, str) or not host:
        raise AppError(f"host={host!r} is not valid: use '127.0.0.1' (this computer only, the "
                       f"default) or '0.0.0.0' (every network address of this computer).")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)
                             or not 1 <= port <= 65535):
        raise AppError(f"port={port!r} is not valid: use a whole number from 1 to 65535 "
                       f"(e.g. 7860), or leave it out to take the first free one from 7860.")


def _say_where(demo, host: str, share: bool, block: bool) -> None:
    url = demo.local_url.rstrip("/")
    if host in LOCAL_HOSTS:
        logger.info(f"The easycls app is at {url} and listens on {host} only: this computer "
                    f"can open it, others cannot (--host 0.0.0.0 or model.app(host='0.0.0.0') "
                    f"lets them in).")
    else:
        logger.info(f"The easycls app is at {url} and listens on {host}: other computers on "
                    f"your network can open it with this computer's address.")
    if share and demo.share_url:
        logger.info(f"Public link (through gradio's share servers; anyone with it can use the "
                    f"page): {demo.share_url}")
    logger.info("Stop it with Ctrl-C." if block else
                "It serves until demo.close() (demo: what app() returned) or the end of Python.")
