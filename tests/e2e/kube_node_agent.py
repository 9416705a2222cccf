"""The one stand-in of the cluster suite: a node agent playing the kubelet of one node.

It runs no container. Through the real API server, as the node's own identity
(``system:node:<name>``, authorised by the Node authorizer), it does what a kubelet reports:

* registers a Ready node with room for the suite's pods, and keeps reporting it Ready (the node
  lifecycle controller then lifts the not-ready taint the API server puts on a new node);
* for each pod the scheduler bound to it: checks what a kubelet checks before starting it (every
  claim Bound, every secret key the env references present), then reports it Running, Ready, with
  a loopback pod IP; a pod whose secret is missing stays Pending with CreateContainerConfigError;
* reports a Job's pod Succeeded (exit 0) once Running, so the job controller completes the Job,
  unless the pod is labelled ``HOLD_LABEL``: that one keeps running, as a job that overruns;
* finishes a deletion (deletes with grace 0), as a kubelet does once the containers are gone.

Usage: ``python -m tests.e2e.kube_node_agent KUBECONFIG NODE_NAME``
"""

from __future__ import annotations

import asyncio
import datetime
import sys

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.rest import ApiException

POLL_SECONDS = 0.2
HOLD_LABEL = "e2e.shuyu.io/hold"
HEARTBEAT_SECONDS = 5.0  # well inside the node lifecycle controller's 40 s grace period
CAPACITY = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _node(name: str) -> client.V1Node:
    return client.V1Node(
        metadata=client.V1ObjectMeta(
            name=name,
            labels={"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
        ),
    )


def _node_status(name: str) -> client.V1NodeStatus:
    now = _now()
    info = client.V1NodeSystemInfo(
        architecture="amd64",
        boot_id="shuyu-e2e",
        container_runtime_version="none://shuyu-node-agent",
        kernel_version="",
        kube_proxy_version="",
        kubelet_version="v1.20.2",
        machine_id=name,
        operating_system="linux",
        os_image="shuyu node agent",
        system_uuid=name,
    )
    ready = client.V1NodeCondition(
        type="Ready",
        status="True",
        reason="KubeletReady",
        message="node agent of the Shuyu cluster suite",
        last_heartbeat_time=now,
        last_transition_time=now,
    )
    return client.V1NodeStatus(
        capacity=dict(CAPACITY),
        allocatable=dict(CAPACITY),
        conditions=[ready],
        addresses=[client.V1NodeAddress(type="InternalIP", address="127.0.0.1")],
        node_info=info,
    )


class Agent:
    def __init__(self, core: client.CoreV1Api, node: str):
        self.core = core
        self.node = node
        self.ips: dict[str, str] = {}

    async def register(self) -> None:
        try:
            await self.core.create_node(_node(self.node))
        except ApiException as e:
            if e.status != 409:
                raise
        await self.heartbeat()

    async def heartbeat(self) -> None:
        # A patch of the status alone: a replace would carry the spec, whose taints the node
        # lifecycle controller may have changed meanwhile (NodeRestriction refuses that).
        status = self.core.api_client.sanitize_for_serialization(_node_status(self.node))
        await self.core.patch_node_status(self.node, {"status": status})

    def _pod_ip(self, uid: str) -> str:
        if uid not in self.ips:
            n = len(self.ips) + 2
            self.ips[uid] = f"127.1.{n // 250}.{n % 250}"
        return self.ips[uid]

    async def _missing(self, pod: client.V1Pod) -> str | None:
        """What a kubelet would wait for or fail on before starting ``pod``, if anything."""
        ns = pod.metadata.namespace
        for volume in pod.spec.volumes or []:
            claim = volume.persistent_volume_claim
            if claim is not None:
                pvc = await self.core.read_namespaced_persistent_volume_claim(claim.claim_name, ns)
                if pvc.status.phase != "Bound":
                    return f"claim {claim.claim_name} is {pvc.status.phase}"
        for container in pod.spec.containers:
            for env in container.env or []:
                ref = env.value_from.secret_key_ref if env.value_from else None
                if ref is None:
                    continue
                try:
                    secret = await self.core.read_namespaced_secret(ref.name, ns)
                except ApiException as e:
                    if e.status == 404:
                        return f'secret "{ref.name}" not found'
                    raise
                if ref.key not in (secret.data or {}):
                    return f"couldn't find key {ref.key} in Secret {ns}/{ref.name}"
        return None

    def _conditions(self, ready: bool) -> list[client.V1PodCondition]:
        now = _now()
        flag = "True" if ready else "False"
        return [
            client.V1PodCondition(type="Initialized", status="True", last_transition_time=now),
            client.V1PodCondition(type="Ready", status=flag, last_transition_time=now),
            client.V1PodCondition(type="ContainersReady", status=flag, last_transition_time=now),
            client.V1PodCondition(type="PodScheduled", status="True", last_transition_time=now),
        ]

    async def _run(self, pod: client.V1Pod) -> None:
        missing = await self._missing(pod)
        now = _now()
        statuses = []
        for c in pod.spec.containers:
            if missing is None:
                state = client.V1ContainerState(
                    running=client.V1ContainerStateRunning(started_at=now)
                )
            else:
                state = client.V1ContainerState(
                    waiting=client.V1ContainerStateWaiting(
                        reason="CreateContainerConfigError", message=missing
                    )
                )
            statuses.append(
                client.V1ContainerStatus(
                    name=c.name,
                    image=c.image,
                    image_id="",
                    ready=missing is None,
                    restart_count=0,
                    started=missing is None,
                    state=state,
                )
            )
        pod.status.host_ip = "127.0.0.1"
        pod.status.start_time = pod.status.start_time or now
        pod.status.container_statuses = statuses
        if missing is None:
            pod.status.phase = "Running"
            ip = self._pod_ip(pod.metadata.uid)
            pod.status.pod_ip = ip
            pod.status.pod_i_ps = [client.V1PodIP(ip=ip)]
            pod.status.conditions = self._conditions(True)
        else:
            pod.status.conditions = self._conditions(False)
        await self.core.replace_namespaced_pod_status(
            pod.metadata.name, pod.metadata.namespace, pod
        )

    async def _complete(self, pod: client.V1Pod) -> None:
        now = _now()
        pod.status.phase = "Succeeded"
        pod.status.conditions = self._conditions(False)
        pod.status.container_statuses = [
            client.V1ContainerStatus(
                name=c.name,
                image=c.image,
                image_id="",
                ready=False,
                restart_count=0,
                started=False,
                state=client.V1ContainerState(
                    terminated=client.V1ContainerStateTerminated(
                        exit_code=0, reason="Completed", started_at=now, finished_at=now
                    )
                ),
            )
            for c in pod.spec.containers
        ]
        await self.core.replace_namespaced_pod_status(
            pod.metadata.name, pod.metadata.namespace, pod
        )

    async def handle(self, pod: client.V1Pod) -> None:
        meta = pod.metadata
        if meta.deletion_timestamp is not None:
            body = client.V1DeleteOptions(
                grace_period_seconds=0, preconditions=client.V1Preconditions(uid=meta.uid)
            )
            await self.core.delete_namespaced_pod(meta.name, meta.namespace, body=body)
        elif pod.status.phase in (None, "Pending"):
            await self._run(pod)
        elif pod.status.phase == "Running":
            owners = {ref.kind for ref in meta.owner_references or []}
            if "Job" in owners and HOLD_LABEL not in (meta.labels or {}):
                await self._complete(pod)

    async def loop(self) -> None:
        selector = f"spec.nodeName={self.node}"
        beat = asyncio.get_running_loop().time()
        while True:
            if asyncio.get_running_loop().time() - beat > HEARTBEAT_SECONDS:
                await self.heartbeat()
                beat = asyncio.get_running_loop().time()
            pods = await self.core.list_pod_for_all_namespaces(field_selector=selector)
            for pod in pods.items:
                try:
                    await self.handle(pod)
                except ApiException as e:
                    if e.status not in (404, 409):  # gone, or changed since listed: next round
                        raise
            await asyncio.sleep(POLL_SECONDS)


async def main(kubeconfig: str, node: str) -> None:
    await config.load_kube_config(config_file=kubeconfig)
    async with client.ApiClient() as api:
        agent = Agent(client.CoreV1Api(api), node)
        await agent.register()
        print("node agent ready", flush=True)
        await agent.loop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
