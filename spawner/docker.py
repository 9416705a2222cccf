"""The workspace policy rendered for Docker: one container per server, one network per tenant.

``spawner.policy`` decides what a workspace sees, may reach and may use; this module only says it
in Docker's terms (Engine API create-container and create-network parameters, as docker-py takes
them) and in nftables' terms for the one thing Docker does not enforce: what a container may reach
*on the host itself*. Docker's ``internal`` networks stop forwarding to the outside (through its
iptables rules, when it manages them), but a container can always open connections to its
bridge's gateway address, which is the host, so every host service listening on a wildcard
address would be in reach without the ``nft_rules`` table.

Where Docker's defaults give a container more than the sandbox has, the rendering takes it away:
the sandbox's seccomp filter replaces Docker's profile (which allows ``ptrace``), an empty tmpfs
hides ``/sys``, an empty ``/etc/resolv.conf`` leaves no resolver, the workspace's own
non-dumpable init (not Docker's, which would hold the server's key) reaps orphans as bwrap does,
and the spawner removes the default route Docker installs even on internal networks.

The renderings are pure functions so they are tested as data; ``TenantDockerSpawner`` is the thin
DockerSpawner subclass that applies them.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from docker.errors import APIError, NotFound
from dockerspawner import DockerSpawner
from traitlets import Bool, Integer, Unicode, default, validate
from traitlets import Callable as CallableTrait

from spawner import firewall, seccomp, volumes
from spawner.folders import Quotas, prepare_folders, workspace_volumes
from spawner.policy import SANDBOX_HOME, Limits, Workspace, allowed_ports, workspace_env

LABEL = "org.shuyu"  # prefix of every label this module puts on Docker objects
NETWORK_PREFIX = "shuyu-"
BRIDGE_PREFIX = "shy-"  # + 10 hex digits: Linux interface names have at most 15 characters
TMPFS_SHARE = 4  # without a size in the policy, /tmp may take this fraction (1/N) of the memory
NO_RESOLVER = "/dev/null"  # bound read-only on /etc/resolv.conf: an empty resolver configuration
LIVE_STATES = ["created", "restarting", "running", "paused"]  # containers that bind their volumes
EMPTY_SYS = "ro,nosuid,nodev,noexec,size=4k,mode=0555"  # the tmpfs hiding Docker's /sys

_DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


def network_name(tenant: str) -> str:
    """The Docker network of a tenant's servers, named so an operator can tell whose it is."""
    name = NETWORK_PREFIX + re.sub(r"[^a-zA-Z0-9_.-]", "-", tenant.lower()).strip("-.")
    if not _DOCKER_NAME.fullmatch(name) or name == NETWORK_PREFIX:
        raise ValueError(f"tenant {tenant!r} gives no valid Docker network name")
    return name


def bridge_name(tenant: str) -> str:
    """The host interface of a tenant's network.

    Fixed by us rather than Docker's ``br-<id>`` so the host firewall can be written before the
    network exists and still matches after it is re-created.
    """
    return BRIDGE_PREFIX + hashlib.sha256(tenant.encode()).hexdigest()[:10]


def tenant_network_spec(tenant: str, subnet: str | None = None) -> dict[str, Any]:
    """``create_network`` parameters of a tenant's own bridge network.

    ``internal`` means no NAT, no published ports and, where Docker manages iptables, a drop of
    anything forwarded off the bridge. Containers still get a default route via the host (Docker
    20.10 measured; ``TenantDockerSpawner.isolate_routes`` removes it after the start), so with
    Docker's iptables off the forward chain of ``nft_rules`` is what keeps them in either way;
    inter-container traffic and masquerading are switched off as well.

    Args:
        tenant: the tenant's group name.
        subnet: an explicit IPv4 subnet (CIDR); ``None`` lets Docker pick from its address pools.
    """
    spec: dict[str, Any] = {
        "name": network_name(tenant),
        "driver": "bridge",
        "internal": True,
        "attachable": False,
        "enable_ipv6": False,
        "options": {
            "com.docker.network.bridge.name": bridge_name(tenant),
            "com.docker.network.bridge.enable_icc": "false",
            "com.docker.network.bridge.enable_ip_masquerade": "false",
        },
        "labels": {f"{LABEL}.tenant": tenant, f"{LABEL}.role": "tenant-network"},
    }
    if subnet is not None:
        net = ipaddress.IPv4Network(subnet)
        spec["ipam"] = {
            "Driver": "default",
            "Config": [{"Subnet": str(net), "Gateway": subnet_gateway(str(net))}],
        }
    return spec


def tenant_subnet(pool: str, tenant_id: int, prefix: int = 24) -> str:
    """The subnet of a tenant's network: the ``tenant_id``-th ``/prefix`` of ``pool`` (ids from 1).

    Derived from the tenant id, as the sandbox's link addresses are, so the hub knows where a
    tenant's workspaces reach it (the subnet's gateway) before the network exists, and a network
    made again gets the same addresses.

    Raises:
        ValueError: the pool is no IPv4 network, the prefix does not fit in it, or the tenant id
            is beyond the pool.
    """
    net = ipaddress.IPv4Network(pool)
    if not net.prefixlen <= prefix <= 30:
        raise ValueError(f"a /{prefix} does not fit in {pool}")
    if not 0 < tenant_id <= 1 << (prefix - net.prefixlen):
        raise ValueError(f"tenant id {tenant_id} has no /{prefix} in {pool}")
    start = int(net.network_address) + (tenant_id - 1) * (1 << (32 - prefix))
    return str(ipaddress.IPv4Network((start, prefix)))


def subnet_gateway(subnet: str) -> str:
    """The host's address on a subnet made by ``tenant_network_spec``: its first host address."""
    return str(next(ipaddress.IPv4Network(subnet).hosts()))


def network_bridge(net: Mapping[str, Any]) -> str:
    """The host interface of a network (from ``inspect_network``), which the firewall matches.

    A network made without our bridge name (by hand) has Docker's ``br-<id>`` interface.
    """
    options = net.get("Options") or {}
    return options.get("com.docker.network.bridge.name") or "br-" + net["Id"][:12]


def network_gateway(net: Mapping[str, Any]) -> str:
    """The host's address on a network (from ``inspect_network``): where its endpoints listen.

    Docker leaves ``Gateway`` out of the inspection when only a subnet was asked for; the bridge
    then has the subnet's first host address.
    """
    for config in net.get("IPAM", {}).get("Config") or []:
        if config.get("Gateway"):
            return config["Gateway"]
        if config.get("Subnet"):
            return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))
    raise ValueError(f"network {net.get('Name')} has no IPv4 configuration")


def container_env(ws: Workspace, hub_env: Mapping[str, str]) -> dict[str, str]:
    """The container's environment: the policy's, refreshed with this spawn's hub credentials.

    The hub hands each spawn a fresh API token; the policy decides which of the hub's variables
    may enter a workspace (never its secrets), so the hub's environment goes through the same
    ``workspace_env`` filter the Workspace was built with.
    """
    fresh = workspace_env(
        hub_env,
        hub_api_url=ws.env["JUPYTERHUB_API_URL"],
        gateway_url=ws.env["SHUYU_GATEWAY_URL"],
        tenant=ws.tenant,
        cpus=ws.limits.cpus,
    )
    return {**ws.env, **fresh}


def _binds(ws: Workspace) -> dict[str, dict[str, str]]:
    binds = {}
    for m in ws.mounts:
        if m.kind in {"system", "home", "shared"}:
            binds[m.source] = {"bind": m.target, "mode": "ro" if m.read_only else "rw"}
        elif m.kind != "tmpfs":
            raise ValueError(f"unknown mount kind {m.kind!r}")  # fail closed on new policy kinds
    # No name resolution, as in the sandbox (which has no resolv.conf): Docker's embedded DNS would
    # answer with the names of the tenant's other containers and forward the rest upstream.
    binds[NO_RESOLVER] = {"bind": "/etc/resolv.conf", "mode": "ro"}
    return binds


def _tmpfs(ws: Workspace) -> dict[str, str]:
    # tmpfs pages are charged to the container's memory cgroup anyway; the size (the policy's, else
    # a share of the memory limit) stops /tmp from taking all of it: writing past it gives ENOSPC.
    # mode=1777 because Jupyter refuses a /tmp it cannot trust.
    tmpfs = {
        m.target: f"rw,nosuid,nodev,mode=1777,size={m.size or ws.limits.memory_bytes // TMPFS_SHARE}"
        for m in ws.mounts
        if m.kind == "tmpfs"
    }
    # The policy mounts no /sys (the sandbox has none); Docker's read-only sysfs would show the
    # host's devices, modules and firmware tables. An empty read-only tmpfs takes its place.
    tmpfs["/sys"] = EMPTY_SYS
    return tmpfs


def seccomp_profile() -> str:
    """The workspace seccomp filter (``spawner.seccomp``, as the sandbox loads it) in Docker's terms.

    Docker's own default profile allows ``ptrace``, ``io_uring``, ``vmsplice`` and every socket
    family but ``AF_VSOCK`` on current kernels; the sandbox's allow-list is narrower, and both
    renderings must refuse the same calls.

    Returns:
        The profile as compact JSON, the form ``security_opt=["seccomp=<json>"]`` takes.
    """
    return json.dumps(seccomp.docker_profile(), separators=(",", ":"))


def container_spec(ws: Workspace, image: str, network: str, cmd: list[str]) -> dict[str, Any]:
    """``create_container`` parameters (with ``host_config`` as ``create_host_config`` takes it).

    Every protection is explicit rather than left to daemon defaults, so a daemon configured
    differently cannot loosen a workspace: read-only root, no capabilities, no privilege gain,
    the workspace seccomp filter, memory without extra swap, CPU and process limits, the tenant's
    network and nothing published, no /sys and no resolver. Docker's init stays off: ``cmd``
    starts with the workspace's own (:mod:`kernels.reaper`, see ``server_setup``).
    """
    uid = ws.uid
    host_config: dict[str, Any] = {
        "binds": _binds(ws),
        "tmpfs": _tmpfs(ws),
        "read_only": ws.read_only_root,
        "cap_drop": ["ALL"] if ws.drop_all_capabilities else [],
        "security_opt": [
            *(["no-new-privileges:true"] if ws.no_new_privileges else []),
            "seccomp=" + seccomp_profile(),
        ],
        "mem_limit": ws.limits.memory_bytes,
        "memswap_limit": ws.limits.memory_bytes,
        "nano_cpus": int(ws.limits.cpus * 1e9),
        "pids_limit": ws.limits.pids,
        "privileged": False,
        # Orphans are reaped by the command's own init (kernels.reaper), as bwrap does in the
        # sandbox. Docker's init would be dumpable and hold the environment, signing key and all.
        "init": False,
        "network_mode": network,
        "ipc_mode": "private",
        "port_bindings": {},
        "publish_all_ports": False,
    }
    return {
        "image": image,
        "command": list(cmd),
        "user": f"{uid}:{uid}",
        "working_dir": SANDBOX_HOME,
        "environment": dict(ws.env),
        "labels": {
            f"{LABEL}.tenant": ws.tenant,
            f"{LABEL}.username": ws.username,
            f"{LABEL}.uid": str(uid),
        },
        "host_config": host_config,
    }


def nft_table(bridge_iface: str) -> str:
    """Name of the nftables table guarding one bridge (``inet`` family)."""
    if not firewall.IFACE.fullmatch(bridge_iface):
        raise ValueError(f"not an interface name: {bridge_iface!r}")
    return "shuyu_" + re.sub(r"[^A-Za-z0-9_]", "_", bridge_iface)


def nft_rules(
    bridge_iface: str, host_ip: str, ports: tuple[int, ...], forward_to: str | None = None
) -> str:
    """The allowlist (:func:`spawner.firewall.allowlist`) confining a tenant bridge to the host
    endpoints it may use; this also drops traffic between containers of the same bridge. With
    ``forward_to``, the allowed ports are translated to that loopback address (where the hub API
    and the gateway listen)."""
    return firewall.allowlist(
        nft_table(bridge_iface), bridge_iface, host_ip, ports, "filter", forward_to=forward_to
    )


def _route_localnet(iface: str) -> None:
    with open(f"/proc/sys/net/ipv4/conf/{iface}/route_localnet", "w") as flag:
        flag.write("1")


class TenantDockerSpawner(DockerSpawner):
    """DockerSpawner that takes everything security-relevant from the workspace policy.

    The hub config supplies ``workspace_factory`` (which knows the platform DB); this class only
    renders what it returns, so the container, its network and its firewall follow the same
    decision as every other spawner. With ``subnet_pool`` set, each tenant's network has a subnet
    derived from the tenant id, so the factory can put the workspace's endpoints on the network's
    gateway address (``gateway_of``) before the network exists.
    """

    workspace_factory = CallableTrait(
        allow_none=True,
        default_value=None,
        help="Callable ``(spawner) -> spawner.policy.Workspace`` deciding this server's workspace."
        " Called in a worker thread: it may query a database.",
    ).tag(config=True)

    apply_firewall = Bool(
        True,
        help="Load the tenant bridge's nftables table (needs root and ``nft``) before starting.",
    ).tag(config=True)

    nft_command = Unicode("nft", help="The nft binary used when apply_firewall is on.").tag(
        config=True
    )

    services_ip = Unicode(
        "127.0.0.1",
        help="Loopback address where the hub API and the gateway listen; the bridge's allowed"
        " ports are forwarded to it. Empty: the services listen on the bridge's gateway address"
        " themselves.",
    ).tag(config=True)

    subnet_pool = Unicode(
        "",
        help="IPv4 pool (CIDR) the tenant networks' subnets are cut from, one per tenant id (see"
        " ``tenant_subnet``). Empty: Docker picks each subnet, and the workspace factory cannot"
        " know the gateway address before the network exists.",
    ).tag(config=True)

    subnet_prefix = Integer(24, help="Prefix length of each tenant's subnet in subnet_pool.").tag(
        config=True
    )

    isolate_routes = Bool(
        True,
        help="Remove the default route Docker gives a container even on an internal network, so a"
        " workspace routes only to its tenant subnet, as the sandbox's link has no default route"
        " (needs root, ``nsenter`` and ``ip``).",
    ).tag(config=True)

    pids_limit = Integer(
        256, help="Most processes (and threads) one server may run; for the workspace factory."
    ).tag(config=True)

    tmp_quota = Integer(
        Limits.tmp_bytes,
        help="Size in bytes of each server's private /tmp (a tmpfs, charged to its memory limit);"
        " writing past it fails with ENOSPC. For the workspace factory.",
    ).tag(config=True)

    volumes_root = Unicode(
        "",
        help="Host folder holding the images of homes and shared folders (as the sandbox"
        " spawner's); required while home_quota and shared_quota are set.",
    ).tag(config=True)

    home_quota = Integer(
        1024**3,
        help="Size in bytes of each staff member's home, a file system of its own mounted on the"
        " host and bound into the container (allocated in full on the first start); 0 (with"
        " shared_quota 0) keeps homes as plain folders on the host's disk.",
    ).tag(config=True)

    shared_quota = Integer(
        2 * 1024**3,
        help="Size in bytes of each tenant's shared folder, a file system of its own; 0 (with"
        " home_quota 0) keeps it a plain folder on the host's disk.",
    ).tag(config=True)

    @validate("subnet_pool")
    def _valid_pool(self, proposal):
        if proposal.value:
            ipaddress.IPv4Network(proposal.value)
        return proposal.value

    @default("remove")
    def _default_remove(self) -> bool:
        # The root is read-only and the home a bind mount: a stopped container holds nothing worth
        # keeping, while re-using it would keep a stale policy.
        return True

    workspace: Workspace | None = None

    def quotas(self) -> Quotas | None:
        """Where and how large homes and shared folders are; ``None`` when quotas are off.

        Raises:
            RuntimeError: quotas are on but ``volumes_root`` is not set (never fall back to
                unbounded folders on the host's disk).
        """
        if not (self.home_quota or self.shared_quota):
            return None
        if not (self.volumes_root and self.home_quota and self.shared_quota):
            raise RuntimeError(
                "TenantDockerSpawner needs volumes_root, home_quota and shared_quota together"
            )
        return Quotas(Path(self.volumes_root), int(self.home_quota), int(self.shared_quota))

    def subnet_of(self, tenant_id: int) -> str | None:
        """The subnet of a tenant's network, or ``None`` when Docker is left to pick it."""
        if not self.subnet_pool:
            return None
        return tenant_subnet(self.subnet_pool, tenant_id, self.subnet_prefix)

    def gateway_of(self, tenant_id: int) -> str:
        """The host's address on a tenant's network: where its workspaces reach hub and gateway.

        Raises:
            RuntimeError: ``subnet_pool`` is not set, so the address is not known in advance.
        """
        subnet = self.subnet_of(tenant_id)
        if subnet is None:
            raise RuntimeError("TenantDockerSpawner.subnet_pool is not configured")
        return subnet_gateway(subnet)

    def _workspace_of(self) -> Workspace:
        factory: Callable[[Any], Workspace] | None = self.workspace_factory
        if factory is None:
            raise RuntimeError("TenantDockerSpawner.workspace_factory is not configured")
        ws = factory(self)
        if not isinstance(ws, Workspace):
            raise TypeError(f"workspace_factory returned {type(ws).__name__}, not a Workspace")
        return ws

    def apply_workspace(self, ws: Workspace) -> None:
        """Set DockerSpawner's traits from the policy; DockerSpawner does the rest."""
        self.workspace = ws
        self.network_name = network_name(ws.tenant)
        self.use_internal_ip = True
        self.port = ws.port
        spec = container_spec(ws, self.image, self.network_name, [])
        host_config = dict(spec["host_config"])
        binds = host_config.pop("binds")
        self.volumes = {src: dict(b) for src, b in binds.items() if b["mode"] == "rw"}
        self.read_only_volumes = {src: b["bind"] for src, b in binds.items() if b["mode"] == "ro"}
        self.extra_host_config = host_config
        # image, command, name and environment (through get_env) stay DockerSpawner's.
        self.extra_create_kwargs = {k: spec[k] for k in ("user", "working_dir", "labels")}

    async def create_object(self) -> dict[str, Any]:
        """DockerSpawner's container, with the limits of the policy alone.

        The policy's memory, CPU and process limits are in ``extra_host_config``; DockerSpawner's
        own rendering of ``mem_limit`` and ``cpu_limit`` is left out (its ``cpu_quota`` would clash
        with ``nano_cpus``). The traits themselves are kept: the factory reads them at every start.
        """
        configured = self.mem_limit, self.cpu_limit
        self.mem_limit = self.cpu_limit = None
        try:
            return await super().create_object()
        finally:
            self.mem_limit, self.cpu_limit = configured

    def get_env(self) -> dict[str, str]:
        """The hub's environment for this spawn, filtered through the policy.

        Raises:
            RuntimeError: no workspace was applied, so nothing says what may pass.
        """
        if self.workspace is None:
            raise RuntimeError("no workspace applied: the environment cannot be filtered")
        return container_env(self.workspace, super().get_env())

    async def ensure_network(self, ws: Workspace) -> dict[str, Any]:
        """Create the tenant network if missing; refuse one that is not internal, or that has
        another subnet than ``subnet_of`` says (its gateway would not be the workspace's)."""
        subnet = self.subnet_of(ws.tenant_id)
        spec = tenant_network_spec(ws.tenant, subnet=subnet)
        try:
            net = await self.docker("inspect_network", spec["name"])
        except NotFound:
            try:
                await self.docker("create_network", **spec)
            except APIError as e:  # another spawn of the same tenant may have won the race
                if e.status_code != 409:
                    raise
            net = await self.docker("inspect_network", spec["name"])
        if not net.get("Internal"):
            raise RuntimeError(f"network {spec['name']} exists but is not internal; refusing it")
        found = [c.get("Subnet") for c in net.get("IPAM", {}).get("Config") or []]
        if subnet is not None and found != [subnet]:
            raise RuntimeError(f"network {spec['name']} has subnets {found}, not {subnet}")
        return net

    async def load_firewall(self, ws: Workspace, net: Mapping[str, Any]) -> None:
        """Load the bridge's nftables table; starting without it would expose the host."""
        iface = network_bridge(net)
        gateway = network_gateway(net)
        unreachable = [e for e in ws.endpoints if e.host != gateway]
        if unreachable:
            self.log.warning("Endpoints %s are not on the tenant gateway %s", unreachable, gateway)
        nft = shutil.which(self.nft_command) or self.nft_command
        proc = await asyncio.create_subprocess_exec(
            nft,
            "-f",
            "-",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        forward_to = self.services_ip or None
        if forward_to:  # the kernel routes loopback from a bridge only with route_localnet
            await asyncio.to_thread(_route_localnet, iface)
        rules = nft_rules(iface, gateway, allowed_ports(ws), forward_to=forward_to)
        out, _ = await proc.communicate(rules.encode())
        if proc.returncode != 0:
            raise RuntimeError(f"nft failed ({proc.returncode}): {out.decode(errors='replace')}")

    async def drop_default_route(self) -> None:
        """Remove the container's IPv4 default route (only the tenant subnet stays routable).

        Entered through the network namespace's file, never a pid that could be reused meanwhile.
        """
        info = await self.docker("inspect_container", self.container_id)
        netns = info["NetworkSettings"].get("SandboxKey")
        if not info["State"].get("Running") or not netns:
            raise RuntimeError(f"container {self.object_name} is not running")
        proc = await asyncio.create_subprocess_exec(
            *("nsenter", f"--net={netns}", "ip", "-4", "route", "flush", "exact", "0.0.0.0/0"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"cannot drop the default route: {out.decode(errors='replace')}")

    async def start(self) -> tuple[str, int]:
        """Decide the workspace, make its folders (each on its own volume, with quotas), network
        (and firewall), start as DockerSpawner, then take the container's default route away."""
        ws = await asyncio.to_thread(self._workspace_of)
        self.apply_workspace(ws)
        net = await self.ensure_network(ws)
        if self.apply_firewall:
            await self.load_firewall(ws, net)
        # Mounted and bound under the tenant's lock: a colleague's server stopping meanwhile must
        # not unmount the shared folder between its mount here and this container's bind.
        async with _tenant_lock(ws.tenant):
            await asyncio.to_thread(prepare_folders, ws, self.quotas())
            try:
                ip, port = await super().start()
            except BaseException:
                await self._release_folders(ws)
                raise
        if self.isolate_routes:
            try:
                await self.drop_default_route()
            except BaseException:
                await self.stop(now=True)  # fail closed: no workspace with a way out
                raise
        return ip, port

    async def stop(self, now: bool = False) -> None:
        """Stop (and remove) the container as DockerSpawner, then unmount the volumes no other
        container of the engine binds any more. The images stay: the next start mounts the same
        home again."""
        ws = self.workspace
        if ws is None:  # the hub restarted since the start: decide the workspace again
            try:
                ws = await asyncio.to_thread(self._workspace_of)
            except Exception as e:
                self.log.warning("The volumes of %s stay mounted: %s", self.user.name, e)
        async with _tenant_lock(ws.tenant if ws else ""):
            await super().stop(now=now)
            if ws is not None:
                await self._release_folders(ws)

    async def _release_folders(self, ws: Workspace) -> None:
        """Unmount the home and the shared folder unless a container still binds them.

        Who uses a volume is asked of Docker (the containers labelled with the staff member or
        the tenant), not counted in the hub: containers outlive a hub restart, and an image
        mounted twice (once for a container still holding it) would corrupt its file system."""
        quotas = self.quotas()
        if quotas is None:
            return
        home, shared = workspace_volumes(ws, quotas)
        tenant = f"{LABEL}.tenant={ws.tenant}"
        for volume, labels in (
            (home, [tenant, f"{LABEL}.username={ws.username}"]),
            (shared, [tenant]),
        ):
            # A container binds its volumes while its processes live (or are about to): those
            # exited or being removed hold nothing.
            users = await self.docker(
                "containers", all=True, filters={"label": labels, "status": LIVE_STATES}
            )
            if not users:
                await asyncio.to_thread(volumes.unmount, volume.mountpoint)


_tenant_locks: dict[str, asyncio.Lock] = {}


def _tenant_lock(tenant: str) -> asyncio.Lock:
    """The lock of a tenant's volumes in this hub process (its servers share the shared folder)."""
    return _tenant_locks.setdefault(tenant, asyncio.Lock())
