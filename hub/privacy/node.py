"""The platform node's commands, as the production zone and the checks run them.

Each is ``[ip netns exec NS] PRIVACY_PYTHON -m privacy hello|propose|run …`` (see the issue's
contract): the hub never talks to a party itself. A command's exit code says what happened
(:data:`EXITS`); its stdout (``hello``, ``propose``) or ``result.json`` (``run``) says the rest.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.i18n import Msg
from hub.settings import PrivacyRules
from privacy.environment import spu_python

EXITS = {
    2: Msg("计算描述或输入有误", "the computation or its input is malformed"),
    3: Msg("参与方尚未批准该计算", "the party has not approved the computation"),
    4: Msg("参与方拒绝了该计算", "the party rejected the computation"),
    5: Msg(
        "无法连接参与方节点或身份认证失败",
        "the party's node is unreachable or failed authentication",
    ),
}
OTHER = Msg("隐私计算节点出错", "the privacy-computing node failed")
UNREADABLE_ANSWER = Msg("节点的回答无法解析", "the node's answer is unreadable")
NO_RESULT = Msg("节点未写出可读的结果", "the node wrote no readable result")
MAX_STDERR = 400  # characters of a node's own (bilingual) error kept with a failure


class NodeError(Exception):
    """A node command that did not succeed: its exit code and a bilingual reason."""

    def __init__(self, code: int, msg: Msg, detail: str = ""):
        super().__init__(str(msg))
        self.code = code
        self.msg = msg
        self.detail = detail


def default_python() -> str:
    """The SPU environment's Python (``privacy.environment.spu_python()``)."""
    return str(spu_python())


@dataclass(frozen=True)
class Node:
    """The platform node as configured: its address, namespace, Python and credentials."""

    listen: str
    netns: str
    python: str
    creds: Path
    wait_approval: int = 600
    max_features: int = 50
    timeout: float = 60.0  # seconds a hello or a proposal may take

    @classmethod
    def configured(cls, rules: PrivacyRules, creds: Path) -> Node:
        return cls(
            listen=rules.privacy_listen,
            netns=rules.privacy_netns,
            python=rules.privacy_python or default_python(),
            creds=creds,
            wait_approval=rules.privacy_wait_approval,
            max_features=rules.max_features,
        )

    def command(self, *args: str) -> list[str]:
        """The argv of ``python -m privacy ARGS`` (in the node's namespace, if one is set)."""
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        return [*prefix, self.python, "-m", "privacy", *args]

    def _run(self, args: list[str], timeout: float | None) -> str:
        try:
            done = subprocess.run(
                self.command(*args), capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise NodeError(
                -1, Msg("隐私计算节点超时", "the privacy-computing node timed out")
            ) from None
        except OSError as e:
            raise NodeError(
                -1, Msg("无法启动隐私计算节点", "the privacy-computing node cannot be started"),
                type(e).__name__,
            ) from None  # fmt: skip
        if done.returncode != 0:
            detail = (done.stderr or "").strip()[-MAX_STDERR:]
            raise NodeError(done.returncode, EXITS.get(done.returncode, OTHER), detail)
        return done.stdout

    def _json(self, args: list[str]) -> dict[str, Any]:
        return _object(self._run(args, self.timeout), UNREADABLE_ANSWER)

    def _peer(self, party_id: str, peer: str) -> list[str]:
        return ["--creds", str(self.creds), "--peer", peer, "--party", party_id]

    def hello(self, party_id: str, peer: str) -> dict[str, Any]:
        """The party's declared tables (schema only): ``{"party", "tables"}``."""
        return self._json(["hello", *self._peer(party_id, peer)])

    def propose(self, spec: Path, party_id: str, peer: str) -> dict[str, Any]:
        """Show the computation to the party: ``{"status", "signature"}``."""
        return self._json(["propose", "--spec", str(spec), *self._peer(party_id, peer)])

    def run(
        self, spec: Path, public: Path, party_id: str, peer: str, out: Path, progress: Path
    ) -> dict[str, Any]:
        """Compute with the party's node; the ``result.json`` it wrote."""
        args = ["run", "--spec", str(spec), "--public", str(public), "--creds", str(self.creds),
                "--listen", self.listen, "--peer", peer, "--party", party_id, "--out", str(out),
                "--progress", str(progress), "--wait-approval", str(self.wait_approval)]  # fmt: skip
        self._run(args, None)
        try:
            text = (out / "result.json").read_text()
        except OSError:
            raise NodeError(1, NO_RESULT) from None
        return _object(text, NO_RESULT)


def _object(text: str, unreadable: Msg) -> dict[str, Any]:
    """``text`` as a JSON object, or a :class:`NodeError` saying ``unreadable``."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise NodeError(1, unreadable)
    return value


def progress_of(path: Path) -> dict[str, Any] | None:
    """The last ``{"phase", "fraction", "at"}`` line of a run's progress file, if any."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and "phase" in value:
            fraction = value.get("fraction")
            return {
                "phase": str(value.get("phase"))[:64],
                "fraction": float(fraction) if isinstance(fraction, int | float) else None,
                "at": str(value.get("at") or "")[:40],
            }
    return None


def platform_node(rules: PrivacyRules, home: Path) -> Node:
    """The platform node as ``rules`` configure it, with its credentials under ``home``."""
    from hub.privacy.authority import platform_credentials

    return Node.configured(rules, platform_credentials(home).ca.parent)
