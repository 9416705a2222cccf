"""The audit chain's head, anchored outside the database.

The hash chain proves that no stored event was changed, removed from the middle or reordered,
but someone who can drop the append-only triggers can cut the chain's *tail*: what remains still
verifies. So every transaction that appends events also writes a checkpoint — the id and hash of
the newest event, signed with a key from the home's secrets folder (never in the database) — to
a file beside it. Verification then requires the chain to reach the checkpoint with the same
hash; the audit export auditors take carries the checkpoint, so they hold a copy of the head too.

The file only ever moves forward: concurrent writers take a file lock and keep the larger id.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from hub import home

TRUNCATED = "events missing after the last one: the trail ends before its signed checkpoint"
REWRITTEN = "the event at the signed checkpoint does not match it"
FORGED = "the checkpoint's signature does not hold"


@dataclass(frozen=True)
class Checkpoint:
    """The newest event's id and hash when it was written, signed."""

    id: int
    hash: str
    ts: str
    mac: str

    def as_dict(self) -> dict:
        return asdict(self)


class Anchor:
    """A signed checkpoint file: :meth:`record` after each commit, :meth:`read` to verify."""

    def __init__(self, path: Path, key: bytes):
        self.path = path
        self.key = key

    @classmethod
    def for_home(cls, folder: Path) -> Anchor:
        """The anchor of the platform whose state lives in ``folder`` (``$SHUYU_HOME``)."""
        return cls(folder / "audit" / "checkpoint.json", home.secret("audit_anchor", folder))

    def _mac(self, event_id: int, head: str, ts: str) -> str:
        return hmac.new(self.key, f"{event_id}:{head}:{ts}".encode(), hashlib.sha256).hexdigest()

    def _load(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except ValueError:  # a damaged file is a forged one: read() says so
            return {}

    def record(self, event_id: int, head: str) -> None:
        """Move the checkpoint to (``event_id``, ``head``) unless it is already further on."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = self._load()
            if current and int(current.get("id", 0)) >= event_id:
                return
            ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            point = Checkpoint(event_id, head, ts, self._mac(event_id, head, ts))
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(point.as_dict()))
            os.replace(tmp, self.path)

    def read(self) -> tuple[Checkpoint | None, bool]:
        """``(checkpoint, signature holds)``; ``(None, True)`` when none was written yet."""
        data = self._load()
        if data is None:
            return None, True
        try:
            point = Checkpoint(
                int(data["id"]), str(data["hash"]), str(data["ts"]), str(data["mac"])
            )
        except (KeyError, TypeError, ValueError):
            return None, False
        return point, self.signed(point)

    def signed(self, point: Checkpoint) -> bool:
        """Whether ``point`` was signed with this platform's key."""
        return hmac.compare_digest(point.mac, self._mac(point.id, point.hash, point.ts))

    # --- the chain's base: where the trail left in the database starts once old events were
    # archived and pruned (hub.audit_archive.prune). Signed like the checkpoint, in its own file
    # and with its own domain in the MAC, so a checkpoint cannot be passed off as a base.
    @property
    def base_path(self) -> Path:
        return self.path.with_name("base.json")

    def _base_mac(self, event_id: int, head: str, ts: str) -> str:
        return self._mac(event_id, f"base:{head}", ts)

    def record_base(self, event_id: int, head: str) -> Checkpoint:
        """Add a base (the last pruned event's id and hash). Earlier bases stay: a prune whose
        transaction did not commit leaves the trail starting at an earlier one, which must
        still verify."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            bases, signed = self.read_bases()
            if not signed:
                raise ValueError("the audit chain's base file is not signed by this platform")
            ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            point = Checkpoint(event_id, head, ts, self._base_mac(event_id, head, ts))
            tmp = self.base_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"bases": [b.as_dict() for b in [*bases, point]]}))
            os.replace(tmp, self.base_path)
            return point

    def read_bases(self) -> tuple[list[Checkpoint], bool]:
        """``(bases, every signature holds)``; ``([], True)`` when nothing was ever pruned."""
        try:
            data = json.loads(self.base_path.read_text())
            bases = [
                Checkpoint(int(b["id"]), str(b["hash"]), str(b["ts"]), str(b["mac"]))
                for b in data["bases"]
            ]
        except FileNotFoundError:
            return [], True
        except (ValueError, KeyError, TypeError):
            return [], False
        ok = all(hmac.compare_digest(b.mac, self._base_mac(b.id, b.hash, b.ts)) for b in bases)
        return bases, ok
