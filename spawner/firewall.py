"""The one nftables allowlist both spawners put on a tenant's host-side interface.

The sandbox's veth and a Docker tenant bridge are guarded alike: from the interface, only new TCP
connections to the host's address on the allowed ports (hub API, data gateway) and replies to
connections the host opened (the proxy reaching a server); everything else from it, and anything
routed into it, is counted and dropped. The text replaces the table atomically when applied again,
so re-applying never leaves a moment without it.
"""

from __future__ import annotations

import ipaddress
import re

IFACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")
TABLE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def allowlist(table: str, iface: str, host_ip: str, ports: tuple[int, ...], priority: str) -> str:
    """The ``nft -f`` text of the allowlist table (pure; refuses malformed input)."""
    if not TABLE.fullmatch(table):
        raise ValueError(f"not a table name: {table!r}")
    if not IFACE.fullmatch(iface):
        raise ValueError(f"not an interface name: {iface!r}")
    if not re.fullmatch(r"filter|-?\d{1,3}", priority):
        raise ValueError(f"not a hook priority: {priority!r}")
    addr = ipaddress.ip_address(host_ip)
    for p in ports:
        if not isinstance(p, int) or isinstance(p, bool) or not 0 < p < 65536:
            raise ValueError(f"not a TCP port: {p!r}")
    family = "ip" if addr.version == 4 else "ip6"
    iif = f'iifname "{iface}"'
    allow = []
    if ports:
        port_set = ", ".join(str(p) for p in sorted(set(ports)))
        allow = [f"\t\t{iif} {family} daddr {addr} tcp dport {{ {port_set} }} ct state new accept"]
    lines = [
        f"table inet {table}",
        f"delete table inet {table}",
        f"table inet {table} {{",
        "\tchain input {",
        f"\t\ttype filter hook input priority {priority}; policy accept;",
        f"\t\t{iif} ct state established,related accept",
        *allow,
        f"\t\t{iif} counter drop",
        "\t}",
        "\tchain forward {",
        f"\t\ttype filter hook forward priority {priority}; policy accept;",
        f"\t\t{iif} ct state established,related accept",
        f"\t\t{iif} counter drop",
        f'\t\toifname "{iface}" counter drop',
        "\t}",
        "}",
    ]
    return "\n".join(lines) + "\n"
