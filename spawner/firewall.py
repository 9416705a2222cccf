"""The one nftables allowlist both spawners put on a tenant's host-side interface.

The sandbox's veth and a Docker tenant bridge are guarded alike: from the interface, only new TCP
connections to the host's address on the allowed ports (hub API, data gateway) and replies to
connections the host opened (the proxy reaching a server); everything else from it, and anything
routed into it, is counted and dropped. The text replaces the table atomically when applied again,
so re-applying never leaves a moment without it.

With ``forward_to`` (the sandbox's links), the hub API and the gateway listen on loopback only,
not on every host address: the table translates a workspace's connection to its link's host
address on an allowed port to the same port on loopback (DNAT; the interface needs
``route_localnet``), and accepts only connections so translated. No other host address, and no
other interface, leads to the two services.
"""

from __future__ import annotations

import ipaddress
import re

IFACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")
TABLE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def allowlist(
    table: str,
    iface: str,
    host_ip: str,
    ports: tuple[int, ...],
    priority: str,
    forward_to: str | None = None,
) -> str:
    """The ``nft -f`` text of the allowlist table (pure; refuses malformed input).

    Args:
        forward_to: a loopback address the allowed ports are translated to (IPv4 only), or
            ``None`` when the services listen on ``host_ip`` itself.
    """
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
    target = None
    if forward_to is not None:
        target = ipaddress.ip_address(forward_to)
        if target.version != 4 or addr.version != 4 or not target.is_loopback:
            raise ValueError(f"not an IPv4 loopback forward: {host_ip!r} -> {forward_to!r}")
    allow, nat = [], []
    if ports:
        port_set = ", ".join(str(p) for p in sorted(set(ports)))
        if target is None:
            allow = [
                f"\t\t{iif} {family} daddr {addr} tcp dport {{ {port_set} }} ct state new accept"
            ]
        else:
            allow = [
                f"\t\t{iif} ip daddr {target} tcp dport {{ {port_set} }} ct status dnat"
                f" ct original ip daddr {addr} ct state new accept"
            ]
            nat = [
                "\tchain prerouting {",
                "\t\ttype nat hook prerouting priority dstnat; policy accept;",
                f"\t\t{iif} ip daddr {addr} tcp dport {{ {port_set} }} dnat ip to {target}",
                "\t}",
            ]
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
        *nat,
        "\tchain forward {",
        f"\t\ttype filter hook forward priority {priority}; policy accept;",
        f"\t\t{iif} ct state established,related accept",
        f"\t\t{iif} counter drop",
        f'\t\toifname "{iface}" counter drop',
        "\t}",
        "}",
    ]
    return "\n".join(lines) + "\n"
