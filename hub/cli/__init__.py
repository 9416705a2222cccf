"""The ``shuyu`` administration command."""

from hub.cli.main import main

__all__ = ["main"]
