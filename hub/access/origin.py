"""Where a call may come from: a tenant's token only from that tenant's own network.

Workspaces reach the gateway over their tenant's link (the sandbox's veth pair, or the tenant's
Docker network), so the caller's address tells which tenant's network the call came from. A token
presented from another tenant's network — a colleague's leaked token is one thing, another
company's is another — is refused, so a token is worth nothing outside its company's workspaces.
Calls from outside every tenant network (the host itself: the hub, operators, tests) are not
affected; the host firewall already keeps everything else away from the gateway's port.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from hub.i18n import Msg
from hub.refusals import AccessDenied

# The links of spawner.netns.tenant_link: 169.254.100.0 up to the last tenant's /30.
SANDBOX_SPACE = tuple(
    ipaddress.summarize_address_range(
        ipaddress.IPv4Address("169.254.100.0"), ipaddress.IPv4Address("169.254.250.255")
    )
)
WRONG_NETWORK = Msg(
    "该令牌不能在其他单位的工作空间中使用",
    "this token cannot be used from another company's workspace",
)


@dataclass(frozen=True)
class TenantNetworks:
    """How tenant networks are addressed: ``sandbox`` links, ``docker:<pool>`` subnets, or
    nothing known (``""``: no origin check, e.g. Kubernetes, where network policies do it)."""

    spec: str = ""

    def space(self) -> tuple[ipaddress.IPv4Network, ...]:
        """Every address any tenant's workspaces may call from."""
        if self.spec == "sandbox":
            return SANDBOX_SPACE
        if self.spec.startswith("docker:"):
            return (ipaddress.IPv4Network(self.spec.split(":", 1)[1]),)
        return ()

    def network_of(self, tenant_id: int) -> ipaddress.IPv4Network:
        """The addresses tenant ``tenant_id``'s workspaces call from."""
        if self.spec == "sandbox":
            from spawner.netns import tenant_link

            return ipaddress.IPv4Network(f"{tenant_link(tenant_id).ns_ip}/32")
        from spawner.docker import tenant_subnet

        return ipaddress.IPv4Network(tenant_subnet(self.spec.split(":", 1)[1], tenant_id))

    def check(self, peer: str | None, tenant_id: int) -> None:
        """Refuse a call of ``tenant_id``'s staff from another tenant's network."""
        space = self.space()
        if not space or not peer:
            return
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        if any(address in net for net in space) and address not in self.network_of(tenant_id):
            raise AccessDenied(WRONG_NETWORK, "wrong_network")
