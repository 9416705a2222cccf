"""Parties (参与方): outside organisations whose own node computes with the platform's node for
one tenant. Registered, listed, suspended, resumed and revoked like tenants; every change audited.

Registering a party issues its node a certificate from the platform's privacy authority and
returns the bundle (:class:`privacy.bundle.Bundle`) the party runs its node with; only the
certificate and its fingerprint stay here — the private key leaves with the bundle.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import audit
from hub.db.models import Party, PartyStatus, Tenant, TenantStatus
from hub.i18n import Msg, UserError
from hub.ops import Ctx, lookup
from hub.privacy import authority
from hub.validators import check_text
from privacy import pki
from privacy.bundle import Bundle

HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")  # fmt: skip


def check_address(value: str | None) -> str:
    """``HOST:PORT`` (an IPv4 address, ``[IPv6]`` or a host name; port 1–65535)."""
    v = (value or "").strip()
    bad = UserError(
        Msg(f"节点地址须为 主机:端口（如 10.0.0.2:9470）：{v}",
            f"the node address must be HOST:PORT (e.g. 10.0.0.2:9470): {v}"),
        "address",
    )  # fmt: skip
    host, sep, port = v.rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise bad
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise bad from None
    elif not HOSTNAME.match(host):
        raise bad
    return f"{host}:{int(port)}"


def get(s: Session, party_id: str) -> Party:
    party = s.get(Party, (party_id or "").strip())
    if party is None:
        raise UserError(Msg(f"参与方不存在：{party_id}", f"unknown party: {party_id}"), "party")
    return party


def add(
    ctx: Ctx, home: Path, name: str, tenant: str, address: str, platform_address: str
) -> tuple[Party, Bundle]:
    """Register party ``name`` working with ``tenant`` (active), its node at ``address``."""
    name = check_text(name, "name", "参与方名称", "party name")
    address = check_address(address)
    s = ctx.session
    found = lookup.tenant(s, tenant)
    if found.status != TenantStatus.ACTIVE:
        raise UserError(
            Msg(f"加工使用主体 {found.name} 的状态为 {found.status.value}，不能登记参与方",
                f"tenant {found.name} is {found.status.value}; it cannot register parties"),
            "tenant",
        )  # fmt: skip
    taken = s.scalars(select(Party).where(Party.tenant_id == found.id, Party.name == name)).first()
    if taken is not None:
        raise UserError(
            Msg(f"该单位已登记同名参与方：{name}（{taken.id}）",
                f"the tenant already has a party named {name} ({taken.id})"),
            "name",
        )  # fmt: skip
    party_id = f"p-{secrets.token_hex(6)}"
    ca = authority.authority(home)
    issued = pki.issue(ca, pki.party_identity(party_id), name)
    now = datetime.now(UTC)
    party = Party(
        id=party_id, name=name, tenant_id=found.id, address=address, status=PartyStatus.ACTIVE,
        cert_pem=issued.cert_pem, fingerprint=pki.fingerprint(issued.cert_pem),
        declared_schema={}, created_by=ctx.actor, created_at=now, updated_at=now,
    )  # fmt: skip
    s.add(party)
    s.flush()
    audit.append(
        s, "party.add", actor=ctx.actor, tenant=found.group, object=f"party:{party_id}",
        details={"name": name, "address": address, "fingerprint": party.fingerprint,
                 "platform_address": platform_address},
    )  # fmt: skip
    bundle = Bundle(
        party_id=party_id, party_name=name, tenant=found.name, node_address=address,
        platform_address=platform_address, ca_pem=ca.cert_pem, cert_pem=issued.cert_pem,
        key_pem=issued.key_pem,
    )  # fmt: skip
    return party, bundle


# command -> (statuses it applies to, new status)
TRANSITIONS = {
    "suspend": ({PartyStatus.ACTIVE}, PartyStatus.SUSPENDED),
    "resume": ({PartyStatus.SUSPENDED}, PartyStatus.ACTIVE),
    "revoke": ({PartyStatus.ACTIVE, PartyStatus.SUSPENDED}, PartyStatus.REVOKED),
}
REFUSALS = {
    "suspend": Msg("只能暂停处于正常状态的参与方", "only an active party can be suspended"),
    "resume": Msg(
        "只能恢复已暂停的参与方；已撤销的须重新登记",
        "only a suspended party can be resumed; a revoked one must be registered again",
    ),
    "revoke": Msg("该参与方已撤销", "this party is already revoked"),
}


def change_status(ctx: Ctx, party_id: str, command: str, reason: str) -> Party:
    """Suspend, resume or revoke a party, with a reason. A suspended or revoked party's
    computations fail when the production zone takes them up (:mod:`hub.kinds.privacy`)."""
    reason = check_text(reason, "reason", "原因", "reason", max_len=500)
    party = get(ctx.session, party_id)
    allowed, new = TRANSITIONS[command]
    if party.status not in allowed:
        raise UserError(REFUSALS[command])
    old = party.status
    now = datetime.now(UTC)
    party.status, party.status_reason, party.status_by, party.status_at = (
        new,
        reason,
        ctx.actor,
        now,
    )
    party.updated_at = now
    audit.append(
        ctx.session, f"party.{command}", actor=ctx.actor, tenant=party.tenant.group,
        object=f"party:{party.id}", reason=reason, details={"from": old.value, "to": new.value},
    )  # fmt: skip
    return party


def record_schema(s: Session, party: Party, tables: object, actor: str = "platform") -> bool:
    """Keep what the party's node declared of its tables (names, columns, dtypes — never
    values); returns whether it changed (audited when it did)."""
    clean: dict[str, dict] = {}
    if isinstance(tables, dict):
        for name, table in list(tables.items())[:100]:
            columns = table.get("columns") if isinstance(table, dict) else None
            if isinstance(columns, dict):
                clean[str(name)[:128]] = {
                    "columns": {str(c)[:128]: str(t)[:32] for c, t in list(columns.items())[:500]}
                }
    if clean == (party.declared_schema or {}):
        return False
    party.declared_schema = clean
    party.schema_at = party.updated_at = datetime.now(UTC)
    audit.append(
        s, "party.schema", actor=actor, tenant=party.tenant.group, object=f"party:{party.id}",
        details={"tables": {n: sorted(t["columns"]) for n, t in clean.items()}},
    )  # fmt: skip
    return True


def problem(party: Party | None, tenant: Tenant) -> Msg | None:
    """Why ``party`` cannot compute for ``tenant`` now, or ``None``."""
    if party is None:
        return Msg("参与方不存在", "no such party")
    if party.tenant_id != tenant.id:
        return Msg("参与方不属于申请单位", "the party is not the requester's company's")
    if party.status != PartyStatus.ACTIVE:
        word = "已暂停" if party.status == PartyStatus.SUSPENDED else "已撤销"
        return Msg(f"参与方 {party.name} {word}", f"party {party.name} is {party.status.value}")
    if tenant.status != TenantStatus.ACTIVE:
        return Msg(f"申请单位的状态为 {tenant.status.value}",
                   f"the requester's company is {tenant.status.value}")  # fmt: skip
    return None
