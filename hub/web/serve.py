"""Run a service's Tornado loop until SIGTERM or SIGINT (as JupyterHub stops managed services)."""

from __future__ import annotations

import signal

from tornado import ioloop


def until_stopped() -> None:
    loop = ioloop.IOLoop.current()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: loop.add_callback_from_signal(loop.stop))
    loop.start()
