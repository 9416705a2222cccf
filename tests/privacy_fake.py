"""The fake ``python -m privacy`` (:mod:`tests.fake_privacy_node`) set up for one test."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hub.privacy.node import Node
from privacy.bundle import Bundle

FAKE = Path(__file__).resolve().parent / "fake_privacy_node.py"
CHECKOUT = FAKE.parent.parent


class FakeNode:
    """Its folder (what it answers) and the :class:`Node` that runs it."""

    def __init__(self, folder: Path, creds: Path, bundle: Bundle, other: Bundle | None = None):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        bundle.write(folder / "bundle.json")
        if other is not None:
            other.write(folder / "other.json")
        self.python = folder / "python"
        self.python.write_text(
            f"#!/bin/sh\nFAKE_PRIVACY_DIR='{folder}' PYTHONPATH='{CHECKOUT}' "
            f"exec '{sys.executable}' '{FAKE}' \"$@\"\n"
        )
        self.python.chmod(0o755)
        self.node = Node(listen="127.0.0.1:9470", netns="", python=str(self.python), creds=creds,
                         wait_approval=5)  # fmt: skip
        self.answer(tables={}, decision="approved", result={})

    def answer(self, *, tables=None, decision=None, result=None) -> None:
        if tables is not None:
            (self.folder / "tables.json").write_text(json.dumps(tables))
        if decision is not None:
            (self.folder / "decision").write_text(decision)
        if result is not None:
            (self.folder / "result.json").write_text(json.dumps(result))

    def calls(self) -> list[list[str]]:
        log = self.folder / "calls.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
