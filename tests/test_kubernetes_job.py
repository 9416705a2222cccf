"""The Kubernetes rendering of the production job policy, tested as data and against the schemas.

No cluster: manifests are validated offline (kubernetes-validate, strict: unknown fields fail).
"""

from __future__ import annotations

import json

import kubernetes_validate
import pytest

import spawner.kubernetes_job as kj
from spawner.job_policy import (
    JOB_CODE,
    JOB_OUTPUT,
    JOB_PARAMS,
    PRODUCTION_GID,
    Job,
    JobLimits,
    build_job,
)
from spawner.kubernetes import namespace_name

KUBERNETES_VERSIONS = ("1.33", "1.37")  # as tests/test_kubernetes_policy.py
STORE = "/srv/shuyu/domain"
TENANT = "tenant-91330106ma2h0a1b2t"
IMAGE = "registry.example/shuyu/job@sha256:" + "0" * 64
LIMITS = JobLimits(cpus=2.5, memory_bytes=3 * 1024**3, seconds=5400, pids=32)
INPUTS = {
    "claims": f"{STORE}/raw/{TENANT}/claims.parquet",
    "members": f"{STORE}/raw/{TENANT}/members.parquet",
}
PLATFORM_SECRETS = {
    "JUPYTERHUB_CRYPT_KEY": "crypt-key-ffffffffffffffffffffffffffff",
    "SHUYU_DB_URL": "postgresql://shuyu:pw-cccccccc@db/shuyu",
    "SHUYU_PEPPER": "pepper-bbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
}


def job(job_id: int = 42, inputs: dict[str, str] | None = None, **paths: str) -> Job:
    return build_job(
        job_id=job_id,
        tenant=TENANT,
        entrypoint="train/main.py",
        code_dir=paths.get("code_dir", f"{STORE}/jobs/{job_id}/code"),
        output_dir=paths.get("output_dir", f"{STORE}/jobs/{job_id}/output"),
        params_file=paths.get("params_file", f"{STORE}/jobs/{job_id}/params.json"),
        inputs=INPUTS if inputs is None else inputs,
        limits=LIMITS,
        system_paths=("/usr", "/opt/conda"),
        python="/opt/conda/bin/python3.11",
    )


def render(j: Job | None = None, **kwargs) -> list[dict]:
    return kj.render_job(j or job(), image=IMAGE, store_root=STORE, **kwargs)


def of_kind(manifests: list[dict], kind: str) -> dict:
    (manifest,) = [m for m in manifests if m["kind"] == kind]
    return manifest


def pod_spec(j: Job | None = None) -> dict:
    return of_kind(render(j), "Job")["spec"]["template"]["spec"]


def container(j: Job | None = None) -> dict:
    (c,) = pod_spec(j)["containers"]
    return c


def mounts_at(j: Job | None = None) -> dict[str, dict]:
    return {m["mountPath"]: m for m in container(j)["volumeMounts"]}


# --- schema -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("kind", ["Job", "NetworkPolicy"])
def test_when_manifest_is_rendered_then_it_validates_strictly_against_the_kubernetes_schema(
    kind, version
):
    manifest = of_kind(render(), kind)
    assert kubernetes_validate.validate(manifest, version, strict=True) == version


def test_when_a_manifest_has_an_unknown_field_then_strict_validation_rejects_it():
    manifest = of_kind(render(), "Job")
    manifest["spec"]["template"]["spec"]["containers"][0]["securityContext"]["noNewPrivs"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSIONS[-1], strict=True)


def test_when_job_is_rendered_then_it_is_plain_json_of_exactly_a_job_and_a_network_policy():
    manifests = render()
    assert json.loads(json.dumps(manifests)) == manifests
    assert sorted(m["kind"] for m in manifests) == ["Job", "NetworkPolicy"]


# --- namespace --------------------------------------------------------------------------------


def test_when_no_namespace_is_given_then_everything_lives_in_the_production_namespace():
    for manifest in render():
        assert manifest["metadata"]["namespace"] == kj.PRODUCTION_NAMESPACE


def test_when_the_tenant_namespace_is_asked_for_then_the_rendering_is_refused():
    with pytest.raises(ValueError, match="tenant"):
        render(namespace=namespace_name(TENANT))


# --- storage ----------------------------------------------------------------------------------


def test_when_job_is_rendered_then_no_host_path_volume_exists():
    manifests = render()
    assert "hostPath" not in json.dumps(manifests)
    for volume in pod_spec()["volumes"]:
        assert set(volume) - {"name"} <= {"persistentVolumeClaim", "emptyDir"}


def test_when_job_is_rendered_then_inputs_code_and_params_are_read_only_and_output_is_not():
    mounts = mounts_at()
    for target in [JOB_CODE, JOB_PARAMS, *(i.target for i in job().inputs)]:
        assert mounts[target]["readOnly"] is True, target
    assert mounts[JOB_OUTPUT]["readOnly"] is False


def test_when_job_is_rendered_then_host_paths_become_subpaths_of_the_store_claim():
    j = job()
    volumes = {v["name"]: v for v in pod_spec(j)["volumes"]}
    mounts = mounts_at(j)
    expected = {
        JOB_CODE: "jobs/42/code",
        JOB_PARAMS: "jobs/42/params.json",
        JOB_OUTPUT: "jobs/42/output",
        **{i.target: i.source.removeprefix(f"{STORE}/") for i in j.inputs},
    }
    assert {t: m["subPath"] for t, m in mounts.items() if "subPath" in m} == expected
    for target in expected:
        claim = volumes[mounts[target]["name"]]["persistentVolumeClaim"]
        assert claim == {"claimName": "shuyu-domain-store"}


def test_when_job_is_rendered_then_tmp_is_a_bounded_memory_volume_and_system_is_not_mounted():
    j = job()
    mounts = mounts_at(j)
    assert set(mounts) == {JOB_CODE, JOB_PARAMS, JOB_OUTPUT, "/tmp", *(i.target for i in j.inputs)}
    volumes = {v["name"]: v for v in pod_spec(j)["volumes"]}
    tmp = volumes[mounts["/tmp"]["name"]]["emptyDir"]
    assert tmp == {"medium": "Memory", "sizeLimit": str(LIMITS.memory_bytes // 4)}


def test_when_a_job_has_scratch_space_then_it_is_a_bounded_disk_volume_and_its_env_says_where():
    from dataclasses import replace

    from spawner.job_policy import JOB_SCRATCH

    j = job()
    scratched = build_job(
        job_id=42, tenant=TENANT, entrypoint="train/main.py", code_dir=j.code_dir,
        output_dir=j.output_dir, params_file=j.params_file, inputs=INPUTS,
        limits=replace(LIMITS, scratch_bytes=5 << 30), system_paths=("/usr",), python="/opt/conda/bin/python3.11",
    )  # fmt: skip
    mounts = mounts_at(scratched)
    assert mounts[JOB_SCRATCH]["readOnly"] is False and "subPath" not in mounts[JOB_SCRATCH]
    volumes = {v["name"]: v for v in pod_spec(scratched)["volumes"]}
    assert volumes[mounts[JOB_SCRATCH]["name"]]["emptyDir"] == {"sizeLimit": str(5 << 30)}
    env = {e["name"]: e["value"] for e in container(scratched)["env"]}
    assert env["SHUYU_JOB_SCRATCH"] == JOB_SCRATCH
    assert env["SHUYU_JOB_MEMORY_BYTES"] == str(LIMITS.memory_bytes)
    assert env["SHUYU_JOB_CPUS"] == "2"
    assert JOB_SCRATCH not in mounts_at(j) and "SHUYU_JOB_SCRATCH" not in j.env


@pytest.mark.parametrize(
    "paths",
    [
        {"inputs": {"claims": "/etc/shadow"}},
        {"inputs": {"claims": f"{STORE}/../../etc/shadow"}},
        {"inputs": {"claims": f"{STORE}-other/claims.parquet"}},
        {"inputs": {"claims": "raw/claims.parquet"}},
        {"code_dir": "/home/alice/code"},
        {"output_dir": STORE},
        {"params_file": "/tmp/params.json"},
    ],
    ids=["absolute", "dotdot", "sibling-prefix", "relative", "code", "whole-store", "params"],
)
def test_when_a_path_is_outside_the_store_root_then_the_rendering_is_refused(paths):
    with pytest.raises(ValueError, match="store"):
        render(job(**paths))


# --- security ---------------------------------------------------------------------------------


def test_when_job_is_rendered_then_it_runs_as_the_job_uid_and_never_as_root():
    j = job()
    sc = pod_spec(j)["securityContext"]
    assert sc["runAsUser"] == j.uid != 0
    assert sc["runAsGroup"] == PRODUCTION_GID
    assert "fsGroup" not in sc  # the kubelet would chown the whole domain store to it
    assert sc["runAsNonRoot"] is True
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "runAsUser" not in container(j)["securityContext"]  # nothing overrides the pod's


def test_when_job_is_rendered_then_it_has_no_capability_privilege_or_writable_root():
    sc = container()["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False


def test_when_job_is_rendered_then_no_service_account_token_and_no_host_namespace():
    spec = pod_spec()
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    assert spec["hostNetwork"] is spec["hostPID"] is spec["hostIPC"] is False


def test_when_job_is_rendered_then_its_env_is_exactly_the_policy_env(monkeypatch):
    for key, value in PLATFORM_SECRETS.items():
        monkeypatch.setenv(key, value)
    j = job()
    env = container(j)["env"]
    assert {e["name"]: e["value"] for e in env} == dict(j.env)
    assert all(set(e) == {"name", "value"} for e in env)  # no valueFrom: no Secret reference
    rendered = json.dumps(render(j))
    for key, value in PLATFORM_SECRETS.items():
        assert key not in rendered and value not in rendered


def test_when_job_is_rendered_then_it_runs_the_script_with_the_images_python_in_the_code():
    c = container()
    assert c["command"] == ["python3", f"{JOB_CODE}/train/main.py"]
    assert c["workingDir"] == JOB_CODE
    assert c["image"] == IMAGE
    assert "/opt/conda" not in json.dumps(render())


# --- limits -----------------------------------------------------------------------------------


def test_when_job_is_rendered_then_it_runs_once_and_is_killed_at_the_wall_time_limit():
    manifest = of_kind(render(), "Job")
    assert manifest["spec"]["activeDeadlineSeconds"] == LIMITS.seconds
    assert manifest["spec"]["backoffLimit"] == 0
    assert manifest["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert manifest["spec"]["ttlSecondsAfterFinished"] > 0


def test_when_job_is_rendered_then_resources_requests_and_limits_match_the_job_limits():
    resources = container()["resources"]
    assert resources["limits"] == {"cpu": "2500m", "memory": str(LIMITS.memory_bytes)}
    assert resources["requests"] == resources["limits"]


# --- network ----------------------------------------------------------------------------------


def test_when_network_policy_is_rendered_then_it_denies_all_ingress_and_egress():
    spec = of_kind(render(), "NetworkPolicy")["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in spec and "egress" not in spec
    assert pod_spec()["dnsPolicy"] == "None"


def test_when_network_policy_is_rendered_then_it_selects_exactly_the_jobs_pod():
    manifests = render()
    selector = of_kind(manifests, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"]
    pod_labels = of_kind(manifests, "Job")["spec"]["template"]["metadata"]["labels"]
    assert selector == pod_labels == kj.job_labels(job())
    assert selector[kj.JOB_LABEL] == "42"
    other = of_kind(render(job(job_id=43)), "Job")["spec"]["template"]["metadata"]["labels"]
    assert not selector.items() <= other.items()


def test_when_network_policy_is_rendered_first_then_the_pod_never_starts_with_open_network():
    assert [m["kind"] for m in render()] == ["NetworkPolicy", "Job"]
