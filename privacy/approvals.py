"""The party's decisions on proposed computations, kept as files in the node's state folder.

``STATE/pending/<request>.json`` holds what the platform proposed, ``approved/`` and
``rejected/`` what the party's operator decided. An approval is the party's ECDSA signature over
the computation's digest (:func:`privacy.pki.sign`); the node runs a computation only when an
approval's digest is the digest of exactly the spec it is handed and the signature verifies with
its own certificate, so a spec changed after approval, or an approval file edited by hand, runs
nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from privacy import pki
from privacy.spec import Computation


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ApprovalError(LookupError):
    """No proposal with that request id (bilingual message)."""


@dataclass(frozen=True)
class Decision:
    status: Status
    signature: str | None = None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Approvals:
    """The state folder of one party node (created 0700 on first use)."""

    def __init__(self, state: Path, cert_pem: str, key_pem: str) -> None:
        self.state = Path(state)
        self._cert_pem = cert_pem
        self._key_pem = key_pem
        for status in Status:
            (self.state / status.value).mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.state, 0o700)

    def _path(self, status: Status, request_id: int) -> Path:
        return self.state / status.value / f"{int(request_id)}.json"

    def _read(self, status: Status, request_id: int) -> dict | None:
        try:
            return json.loads(self._path(status, request_id).read_text())
        except (OSError, ValueError):
            return None

    def _write(self, status: Status, request_id: int, record: dict) -> None:
        path = self._path(status, request_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1))
        os.replace(tmp, path)

    def decision(self, spec: Computation) -> Decision:
        """What the party decided on exactly this spec (its digest), pending if nothing."""
        digest = spec.digest()
        approved = self._read(Status.APPROVED, spec.request_id)
        if (
            approved
            and approved.get("digest") == digest
            and pki.verify(self._cert_pem, digest.encode(), str(approved.get("signature", "")))
        ):
            return Decision(Status.APPROVED, approved["signature"])
        rejected = self._read(Status.REJECTED, spec.request_id)
        if rejected and rejected.get("digest") == digest:
            return Decision(Status.REJECTED)
        return Decision(Status.PENDING)

    def propose(self, spec: Computation) -> Decision:
        """Record a proposal (unless already decided) and answer the current decision."""
        decided = self.decision(spec)
        if decided.status is Status.PENDING:
            current = self._read(Status.PENDING, spec.request_id)
            if not current or current.get("digest") != spec.digest():
                self._write(
                    Status.PENDING,
                    spec.request_id,
                    {"digest": spec.digest(), "spec": spec.as_dict(), "received_at": _now()},
                )
        return decided

    def pending(self) -> list[Computation]:
        specs = []
        for path in sorted((self.state / Status.PENDING.value).glob("*.json")):
            try:
                specs.append(Computation.from_dict(json.loads(path.read_text())["spec"]))
            except (OSError, ValueError, KeyError):
                continue
        return sorted(specs, key=lambda s: s.request_id)

    def _take_pending(self, request_id: int) -> Computation:
        record = self._read(Status.PENDING, request_id)
        if record is None:
            raise ApprovalError(f"没有待审批的请求 {request_id} / no pending request {request_id}")
        return Computation.from_dict(record["spec"])

    def approve(self, request_id: int) -> str:
        """Sign the pending spec's digest; return the signature."""
        spec = self._take_pending(request_id)
        digest = spec.digest()
        signature = pki.sign(self._key_pem, digest.encode())
        self._write(
            Status.APPROVED,
            request_id,
            {"digest": digest, "signature": signature, "spec": spec.as_dict(), "at": _now()},
        )
        self._path(Status.REJECTED, request_id).unlink(missing_ok=True)
        self._path(Status.PENDING, request_id).unlink(missing_ok=True)
        return signature

    def reject(self, request_id: int) -> None:
        spec = self._take_pending(request_id)
        self._write(
            Status.REJECTED,
            request_id,
            {"digest": spec.digest(), "spec": spec.as_dict(), "at": _now()},
        )
        self._path(Status.APPROVED, request_id).unlink(missing_ok=True)
        self._path(Status.PENDING, request_id).unlink(missing_ok=True)


def describe(spec: Computation) -> list[str]:
    """What the operator approves, in Chinese and English: kind, own columns, what goes where."""
    own = ", ".join(spec.party_columns) or "—"
    lines = [
        f"请求 / request {spec.request_id}  租户 / tenant {spec.tenant}  摘要 / digest "
        f"{spec.digest()[:16]}",
        f"本方数据表 / your table: {spec.party_table}  关联键 / key: {spec.party_key}  "
        f"使用的列 / columns used: {own}",
        f"平台数据集 / platform dataset: {spec.public_dataset}  (键 / key {spec.public_key}; "
        f"列 / columns {', '.join(spec.public_columns) or '—'})",
    ]
    p = spec.params
    if spec.kind == "psi":
        lines.append("类型 / kind: 隐私求交 / private set intersection (PSI)")
        if p.get("reveal") == "ids-to-party":
            lines.append(
                "披露 / revealed: 交集大小给平台；交集中的键（按本方写法）给本方 / the intersection "
                "size to the platform; the intersecting keys (as you wrote them) to you"
            )
        else:
            lines.append(
                "披露 / revealed: 仅交集大小，给平台 / only the intersection size, to the platform"
            )
    elif spec.kind == "stats":
        groups = ", ".join(f"{s}.{c}" for s, c in p.get("group_by", [])) or "—"
        measures = ", ".join(f"{a}({s}.{c})" for s, c, a in p.get("measures", []))
        lines += [
            "类型 / kind: 联合统计 / joint statistics over the join on the key",
            f"分组 / group by: {groups}  统计量 / measures: {measures}",
            f"披露 / revealed: 每组计数与统计量给平台，少于 {p.get('min_group')} 行的组不披露；"
            f"双方都会得知交集 / per-group counts and measures to the platform, groups under "
            f"{p.get('min_group')} rows withheld; both nodes learn the intersection",
        ]
    elif spec.kind == "train":
        lines += [
            f"类型 / kind: 纵向联合建模 / vertical training ({p.get('model')})，"
            f"特征 / features (platform): {', '.join(p.get('features', []))}",
            f"本方标签 / your label column: {p.get('label')}（保持秘密分享 / stays secret-shared）",
            "披露 / revealed: 模型参数与训练指标给平台；双方都会得知交集 / the model's parameters "
            "and training metrics to the platform; both nodes learn the intersection",
        ]
    return lines
