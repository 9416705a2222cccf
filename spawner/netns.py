"""Per-tenant networks: a network namespace joined to the host by a veth pair, with an nftables
allowlist on the host side (the hub API and the gateway, nothing else).

The hub API and the gateway listen on loopback only. A workspace calls them on its link's host
address; the link's table translates exactly those two ports to loopback (see
:func:`spawner.firewall.allowlist`), so the services are reachable from every tenant link and
from the host itself, and from no other interface or host address.

Addresses are link-local and derived from the tenant id, so every tenant's link is known without
bookkeeping and stale links can be found by name after a crash.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from spawner import firewall

PREFIX = "shuyu-t"
TABLE_PREFIX = "shuyu_t"
MAX_TENANT = 64 * 150
SERVICES_IP = "127.0.0.1"  # where the hub API and the gateway listen


@dataclass(frozen=True)
class TenantLink:
    tenant_id: int
    netns: str
    host_if: str
    ns_if: str
    host_ip: str
    ns_ip: str
    table: str


def tenant_link(tenant_id: int) -> TenantLink:
    """Names and addresses of a tenant's link: a /30 in 169.254.100.0 and up."""
    if not 0 < tenant_id <= MAX_TENANT:
        raise ValueError(f"tenant id {tenant_id} out of range")
    third, slot = 100 + tenant_id // 64, (tenant_id % 64) * 4
    return TenantLink(
        tenant_id=tenant_id,
        netns=f"{PREFIX}{tenant_id}",
        host_if=f"syh{tenant_id}",
        ns_if=f"syn{tenant_id}",
        host_ip=f"169.254.{third}.{slot + 1}",
        ns_ip=f"169.254.{third}.{slot + 2}",
        table=f"{TABLE_PREFIX}{tenant_id}",
    )


def nft_ruleset(link: TenantLink, ports: tuple[int, ...]) -> str:
    """The host-side allowlist of the tenant's veth (:func:`spawner.firewall.allowlist`), ahead
    of other filter tables; the allowed ports are forwarded to the services on loopback."""
    return firewall.allowlist(
        link.table, link.host_if, link.host_ip, ports, "-10", forward_to=SERVICES_IP
    )


def _run(*cmd: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, input=input, capture_output=True, text=True, check=check)


def exists(link: TenantLink) -> bool:
    return link.netns in list_netns()


def ensure(link: TenantLink, ports: tuple[int, ...]) -> None:
    """Create the namespace, veth pair, addresses and firewall table if they are not there."""
    if not exists(link):
        _run("ip", "netns", "add", link.netns)
        _run(
            "ip",
            "link",
            "add",
            link.host_if,
            "type",
            "veth",
            "peer",
            "name",
            link.ns_if,
            "netns",
            link.netns,
        )
        _run("ip", "addr", "add", f"{link.host_ip}/30", "dev", link.host_if)
        _run("ip", "link", "set", link.host_if, "up")
        ns = ("ip", "netns", "exec", link.netns)
        _run(*ns, "ip", "addr", "add", f"{link.ns_ip}/30", "dev", link.ns_if)
        _run(*ns, "ip", "link", "set", link.ns_if, "up")
        _run(*ns, "ip", "link", "set", "lo", "up")
        # No default route: only the /30 to the host exists inside.
    # The allowed ports are translated to loopback, which the kernel routes from this interface
    # only with route_localnet; the table accepts nothing else arriving for loopback.
    with open(f"/proc/sys/net/ipv4/conf/{link.host_if}/route_localnet", "w") as flag:
        flag.write("1")
    # One nft transaction: create-if-missing, delete, define. Re-applying never leaves a moment
    # without the table while the tenant's other servers are running.
    _run(
        "nft",
        "-f",
        "-",
        input=nft_ruleset(link, ports),
    )


def pids(link: TenantLink) -> list[int]:
    out = _run("ip", "netns", "pids", link.netns, check=False).stdout
    return [int(p) for p in out.split()]


def remove(link: TenantLink) -> None:
    """Remove the firewall table, the veth pair and the namespace (each if present)."""
    _run("nft", "delete", "table", "inet", link.table, check=False)
    _run("ip", "link", "delete", link.host_if, check=False)
    _run("ip", "netns", "delete", link.netns, check=False)


def list_netns() -> list[str]:
    out = _run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def dropped_packets(link: TenantLink) -> int:
    """Packets the tenant's table dropped (its counters), for tests that prove "no way out"."""
    out = _run("nft", "list", "table", "inet", link.table, check=False).stdout
    return sum(int(n) for n in re.findall(r"counter packets (\d+)", out))


def cleanup_stale() -> list[str]:
    """Remove links whose namespace holds no process, and tables without a namespace."""
    removed = []
    names = set(list_netns())
    for name in names:
        m = re.fullmatch(rf"{PREFIX}(\d+)", name)
        if m and not pids(tenant_link(int(m[1]))):
            remove(tenant_link(int(m[1])))
            removed.append(name)
    tables = _run("nft", "list", "tables", check=False).stdout
    for m in re.finditer(rf"table inet ({TABLE_PREFIX}(\d+))", tables):
        if f"{PREFIX}{m[2]}" not in names:
            _run("nft", "delete", "table", "inet", m[1], check=False)
            removed.append(m[1])
    return removed


HOST_GUARD = "shuyu_host"


def host_guard_ruleset(ports: tuple[int, ...]) -> str:
    """The hub API and the gateway listen on loopback only (tenant links reach them through
    their tables' translation); this table keeps those ports closed to every other interface as
    well, should either ever be bound more widely."""
    allowed = ", ".join(str(p) for p in sorted(set(ports)))
    return f"""
table inet {HOST_GUARD} {{
    chain input {{
        type filter hook input priority -20; policy accept;
        tcp dport {{ {allowed} }} iifname != "lo" iifname != "syh*" iifname != "shy-*" counter drop
    }}
}}
"""


def ensure_host_guard(ports: tuple[int, ...]) -> None:
    """Install (or atomically replace) the host guard table."""
    _run(
        "nft",
        "-f",
        "-",
        input=f"table inet {HOST_GUARD}\ndelete table inet {HOST_GUARD}\n"
        + host_guard_ruleset(ports),
    )


def remove_host_guard() -> None:
    _run("nft", "delete", "table", "inet", HOST_GUARD, check=False)
