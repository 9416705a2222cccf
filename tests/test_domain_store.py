"""The domain store's one interface on both backends (a local folder; a real SeaweedFS the test
starts), and per-job credentials tried from the attacker's side: a job's keys read its own inputs
and write its own output prefix, and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hub import rawstore, store
from hub.store import LocalStore, StoreConfig, StoreError, iam
from tests.seaweed import SeaweedFS


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory):
    started = time.monotonic()
    server = SeaweedFS(tmp_path_factory.mktemp("seaweed")).start()
    print(f"SeaweedFS up in {time.monotonic() - started:.1f}s")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["local", "s3"])
def domain(request, tmp_path):
    root = tmp_path / "domain"
    root.mkdir()
    if request.param == "local":
        return LocalStore(root)
    server = request.getfixturevalue("seaweed")
    prefix = f"unit/{tmp_path.name}"
    return store.open_store(root, StoreConfig.from_env(server.env(prefix)))


def _table(rows: int = 20) -> pa.Table:
    return pa.table({"id": list(range(rows)), "name": [f"n{i}" for i in range(rows)]})


def test_a_stored_file_is_fetched_with_the_same_content(domain):
    (domain.root / "raw").mkdir()
    pq.write_table(_table(), domain.root / "raw" / "people.parquet")
    domain.put("raw/people.parquet", keep=not domain.remote)
    fetched = domain.fetch("raw/people.parquet")
    assert pq.read_table(fetched).equals(_table())
    if domain.remote:  # the object store holds it, not the working folder
        assert not (domain.root / "raw" / "people.parquet").exists()
        assert domain.listing("raw/people.parquet") == [("", fetched.stat().st_size)]


def test_a_folder_of_parts_is_fetched_whole_and_read_as_one_table(domain, monkeypatch):
    monkeypatch.setattr(rawstore, "PART_ROWS", 7)
    (domain.root / "raw").mkdir()
    path = rawstore.write(_table(), domain.root / "raw" / "big")
    assert path.is_dir() and len(rawstore.files(path)) == 3
    domain.put(domain.key(path), keep=not domain.remote)
    fetched = domain.fetch("raw/big")
    assert [p.name for p in rawstore.files(fetched)] == [f"part-0000{i}.parquet" for i in range(3)]
    assert pq.read_table(fetched).sort_by("id").equals(_table())


def test_an_absolute_path_under_the_root_is_addressed_by_its_key(domain):
    assert domain.key(domain.root / "requests" / "3" / "x.parquet") == "requests/3/x.parquet"
    assert domain.key("jobs/4/output") == "jobs/4/output"


def test_what_the_store_does_not_hold_is_not_found(domain):
    with pytest.raises(FileNotFoundError):
        p = domain.fetch("raw/absent.parquet")
        p.read_bytes()  # the local backend hands the path; opening it fails alike


def test_a_changed_object_is_never_served_from_the_old_cached_copy(seaweed, tmp_path):
    domain = store.open_store(
        tmp_path / "domain", StoreConfig.from_env(seaweed.env("unit/changed"))
    )
    (tmp_path / "domain").mkdir()
    (tmp_path / "domain" / "a.txt").write_text("first")
    domain.put("a.txt")
    assert domain.fetch("a.txt").read_text() == "first"
    assert seaweed.client().put("unit/changed/a.txt", b"second!").status_code == 200
    assert domain.fetch("a.txt").read_text() == "second!"


def test_a_frozen_file_lost_from_the_working_folder_is_restored_from_the_store(seaweed, tmp_path):
    root = tmp_path / "domain"
    domain = store.open_store(root, StoreConfig.from_env(seaweed.env("unit/restore")))
    frozen = root / "requests" / "9" / "abc.parquet"
    frozen.parent.mkdir(parents=True)
    frozen.write_bytes(b"frozen content")
    domain.put(frozen)
    assert domain.restore(frozen) == frozen
    frozen.unlink()
    assert domain.restore(frozen).read_bytes() == b"frozen content"
    assert LocalStore(root).restore(frozen) == frozen  # the local store is the folder itself


@pytest.mark.parametrize(
    "config, words",
    [
        (StoreConfig(url="ftp://x/y"), "s3://"),
        (StoreConfig(url="s3://bucket/p"), "SHUYU_S3_ENDPOINT"),
        (StoreConfig(url="s3://bucket/p", endpoint="http://127.0.0.1:1"), "SHUYU_S3_ACCESS_KEY"),
        (
            StoreConfig(
                url="s3:///p", endpoint="http://127.0.0.1:1", access_key="a", secret_key="b"
            ),
            "s3:///p",
        ),
    ],
    ids=["unknown-scheme", "no-endpoint", "no-credentials", "no-bucket"],
)
def test_when_the_store_is_misconfigured_then_a_bilingual_reason_is_given(tmp_path, config, words):
    with pytest.raises(StoreError) as e:
        store.open_store(tmp_path, config)
    assert words in str(e.value) and any("\u4e00" <= ch <= "\u9fff" for ch in e.value.msg.zh)


def test_the_local_backend_needs_no_credentials_and_copies_nothing(tmp_path):
    local = LocalStore(tmp_path)
    assert local.grant(1, ["raw/a.parquet"], "jobs/1/output") is None
    assert local.stage(None, "raw/a.parquet", tmp_path / "jobs") == tmp_path / "raw" / "a.parquet"
    assert store.of(tmp_path).fetch("raw/a.parquet") == tmp_path / "raw" / "a.parquet"


# --- a job's own credentials, from the attacker's side ----------------------------------------


@pytest.fixture(scope="module")
def granted(seaweed, tmp_path_factory):
    """Two datasets (one a folder of parts), two jobs' outputs, and job 1's credentials: read
    ``raw/allowed.parquet`` and write ``jobs/1/output``."""
    root = tmp_path_factory.mktemp("granted") / "domain"
    domain = store.open_store(root, StoreConfig.from_env(seaweed.env("grant")))
    for key in ("raw/allowed.parquet", "raw/other.parquet", "raw/parts/part-00000.parquet",
                "jobs/2/output/model.onnx", "requests/5/abc.parquet"):  # fmt: skip
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(b"secret of " + key.encode())
        domain.put(key)
    grant = domain.grant(1, ["raw/allowed.parquet"], "jobs/1/output")
    yield domain, grant, seaweed.client(grant.access_key, grant.secret_key)
    domain.revoke(grant)


def _denied(answer) -> bool:
    """Refused as forbidden (403), with none of the stored bytes in the answer."""
    return answer.status_code == 403 and b"secret of" not in answer.content


def test_a_jobs_credentials_read_its_approved_input(granted):
    _, _, attacker = granted
    answer = attacker.get("grant/raw/allowed.parquet")
    assert answer.status_code == 200 and answer.content == b"secret of raw/allowed.parquet"


@pytest.mark.parametrize(
    "key",
    ["grant/raw/other.parquet", "grant/raw/parts/part-00000.parquet", "grant/jobs/2/output/model.onnx",
     "grant/requests/5/abc.parquet", "grant/raw/allowed.parquet.bak"],
    ids=["another-dataset", "another-folder-dataset", "another-jobs-output", "a-frozen-request", "a-sibling-key"],
)  # fmt: skip
def test_a_jobs_credentials_cannot_read_anything_else(granted, key):
    _, _, attacker = granted
    assert _denied(attacker.get(key))


def test_a_jobs_credentials_cannot_list_the_store(granted):
    _, _, attacker = granted
    for prefix in ("grant/", "grant/raw/", "grant/raw/allowed.parquet", ""):
        answer = attacker.list(prefix)
        assert answer.status_code == 403 and b"<Key>" not in answer.content, prefix
    # Listing buckets shows at most their names, never a key.
    assert b"<Key>" not in attacker.request("GET", None).content


def test_a_jobs_credentials_write_only_below_its_own_output_prefix(granted, seaweed):
    _, _, attacker = granted
    assert attacker.put("grant/jobs/1/output/result.csv", b"a,b\n").status_code == 200
    for key in ("grant/jobs/2/output/model.onnx", "grant/jobs/1/log.txt", "grant/raw/allowed.parquet",
                "grant/jobs/10/output/x", "grant/jobs/1/outputx/x", "grant/jobs/1/output/../../2/x"):  # fmt: skip
        assert _denied(attacker.put(key, b"x")), key
    assert _denied(attacker.delete("grant/raw/allowed.parquet"))
    assert _denied(attacker.delete("grant/jobs/1/output/result.csv"))
    assert (
        seaweed.client().get("grant/raw/allowed.parquet").content
        == b"secret of raw/allowed.parquet"
    )
    assert seaweed.client().get("grant/jobs/2/output/model.onnx").content.endswith(b"model.onnx")


def test_a_jobs_credentials_cannot_manage_identities(granted, seaweed):
    domain, grant, _ = granted
    attacker = seaweed.client(grant.access_key, grant.secret_key)
    other = domain.grant(5, ["raw/other.parquet"], "jobs/5/output")
    try:
        assert _denied(attacker.iam("CreateUser", UserName="escalate"))
        assert _denied(attacker.iam("CreateAccessKey", UserName=other.user))
        assert _denied(attacker.iam("CreateAccessKey", UserName="platform"))
        assert _denied(attacker.iam("PutUserPolicy", UserName=grant.user, PolicyName="all",
                                    PolicyDocument='{"Statement": []}'))  # fmt: skip
        assert _denied(attacker.iam("DeleteUser", UserName=other.user))
        assert "escalate" not in iam.users(StoreConfig.from_env(seaweed.env("grant")))
    finally:
        domain.revoke(other)


def test_a_second_key_a_job_makes_for_itself_has_its_rights_only_and_ends_with_it(granted, seaweed):
    """SeaweedFS lets a user make keys for itself (as AWS does): the same user, the same
    policy, and removed with the user when the job ends."""
    domain, _, _ = granted
    grant = domain.grant(6, ["raw/allowed.parquet"], "jobs/6/output")
    attacker = seaweed.client(grant.access_key, grant.secret_key)
    made = attacker.iam("CreateAccessKey", UserName=grant.user)
    if made.status_code == 200:
        key = iam._text(ET.fromstring(made.content), "AccessKeyId")
        secret = iam._text(ET.fromstring(made.content), "SecretAccessKey")
        second = seaweed.client(key, secret)
        assert _denied(second.get("grant/raw/other.parquet"))
        assert _denied(second.put("grant/raw/allowed.parquet", b"x"))
        domain.revoke(grant)
        deadline = time.monotonic() + 10
        while not _denied(second.get("grant/raw/allowed.parquet")):
            assert time.monotonic() < deadline
            time.sleep(0.2)
    else:
        domain.revoke(grant)
        assert _denied(made)


def test_a_folder_input_is_granted_part_by_part_and_staged_with_the_jobs_keys(granted, tmp_path):
    domain, _, _ = granted
    grant = domain.grant(3, ["raw/parts"], "jobs/3/output")
    try:
        staged = domain.stage(grant, "raw/parts", tmp_path)
        assert (
            staged / "part-00000.parquet"
        ).read_bytes() == b"secret of raw/parts/part-00000.parquet"
        with pytest.raises(OSError):
            domain.stage(grant, "raw/other.parquet", tmp_path)
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "m.txt").write_text("model")
        domain.upload(grant, tmp_path / "out", "jobs/3/output")
        assert domain.fetch("jobs/3/output/m.txt").read_text() == "model"
        with pytest.raises(OSError):
            domain.upload(grant, tmp_path / "out", "jobs/2/output")
    finally:
        domain.revoke(grant)


def test_a_revoked_grant_reads_nothing(granted, seaweed):
    domain, _, _ = granted
    grant = domain.grant(4, ["raw/allowed.parquet"], "jobs/4/output")
    attacker = seaweed.client(grant.access_key, grant.secret_key)
    assert attacker.get("grant/raw/allowed.parquet").status_code == 200
    domain.revoke(grant)
    deadline = time.monotonic() + 10
    while not _denied(attacker.get("grant/raw/allowed.parquet")):
        assert time.monotonic() < deadline
        time.sleep(0.2)


# --- the configuration surface ------------------------------------------------------------------

CHECKOUT = Path(__file__).resolve().parent.parent
S3_ENV = {
    "SHUYU_DOMAIN_URL": "s3://domain/shuyu",
    "SHUYU_S3_ENDPOINT": "http://127.0.0.1:9",
    "SHUYU_S3_ACCESS_KEY": "platform",
    "SHUYU_S3_SECRET_KEY": "platform-secret",
}


def _load_config(home: Path, extra: dict[str, str]) -> subprocess.CompletedProcess:
    code = (
        "import json, sys\n"
        "from traitlets.config.loader import PyFileConfigLoader\n"
        "c = PyFileConfigLoader('jupyterhub_config.py', path='.').load_config()\n"
        "json.dump({'services': {s['name']: s.get('environment') or {} for s in c.JupyterHub.services},"
        " 'spawner': sorted(c.Spawner.environment)}, sys.stdout)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in store.ENV_KEYS}
    env.update(SHUYU_HOME=str(home), SHUYU_SPAWNER="simple", **extra)
    return subprocess.run([sys.executable, "-c", code], cwd=CHECKOUT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_when_the_store_is_on_s3_then_the_domain_services_get_it_and_workspaces_do_not(tmp_path):
    done = _load_config(tmp_path, S3_ENV)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    for name in ("gateway", "production", "review", "admin", "products"):
        assert {k: found["services"][name].get(k) for k in S3_ENV} == S3_ENV, name
    assert not set(S3_ENV) & set(found["services"]["enforcer"])
    assert not set(store.ENV_KEYS) & set(found["spawner"])


def test_when_the_store_url_is_bad_then_the_hub_stops_with_a_bilingual_reason(tmp_path):
    done = _load_config(tmp_path, {"SHUYU_DOMAIN_URL": "s3://domain/shuyu"})
    assert done.returncode == 1
    assert "SHUYU_S3_ENDPOINT" in done.stderr and "须设置" in done.stderr
    assert "Traceback" not in done.stderr


# --- on Kubernetes: the job's identity as a Secret -----------------------------------------------


@pytest.mark.parametrize("version", ("1.33", "1.37"))
def test_a_jobs_store_credentials_render_as_a_strictly_valid_secret(version):
    import kubernetes_validate

    from spawner.kubernetes_store import make_store_secret

    secret = make_store_secret(7, "tenant-a", endpoint="http://store:8333", url="s3://d/p",
                               access_key="job-key", secret_key="job-secret")  # fmt: skip
    assert kubernetes_validate.validate(secret, version, strict=True) == version
    assert secret["metadata"]["namespace"] == "shuyu-production" and secret["immutable"] is True
    assert secret["stringData"]["AWS_ACCESS_KEY_ID"] == "job-key"
    assert not {"SHUYU_S3_ACCESS_KEY", "SHUYU_S3_SECRET_KEY"} & set(secret["stringData"])


def test_a_jobs_store_credentials_never_go_to_its_tenants_namespace():
    from spawner.kubernetes import namespace_name
    from spawner.kubernetes_store import make_store_secret

    with pytest.raises(ValueError, match="tenant"):
        make_store_secret(7, "tenant-a", endpoint="http://s:1", url="s3://d/p", access_key="k",
                          secret_key="s", namespace=namespace_name("tenant-a"))  # fmt: skip


# --- a production job's inputs and outputs (hub.production.staging) -----------------------------


def test_on_the_local_store_a_job_reads_its_inputs_in_place_and_uploads_nothing(tmp_path):
    from hub.production import staging

    inputs = {"visits": (tmp_path / "raw" / "visits.parquet", ["age"])}
    with staging.job_io(tmp_path, 1, inputs) as io:
        assert io.inputs == inputs
        io.finish(tmp_path / "jobs" / "1")
    assert not (tmp_path / "staging").exists()


def test_on_s3_a_job_stages_and_uploads_with_an_identity_removed_at_its_end(seaweed, tmp_path):
    from hub.production import staging

    root = tmp_path / "domain"
    domain = store.bind(store.open_store(root, StoreConfig.from_env(seaweed.env("unit/job"))))
    try:
        (root / "raw").mkdir(parents=True)
        pq.write_table(_table(), root / "raw" / "visits.parquet")
        domain.put("raw/visits.parquet", keep=False)
        with staging.job_io(root, 8, {"visits": (root / "raw" / "visits.parquet", ["id"])}) as io:
            staged, columns = io.inputs["visits"]
            assert columns == ["id"] and pq.read_table(staged).equals(_table())
            assert staged.is_relative_to(root / "staging" / "8")
            (root / "jobs" / "8" / "output").mkdir(parents=True)
            (root / "jobs" / "8" / "output" / "model.onnx").write_bytes(b"onnx")
            (root / "jobs" / "8" / "released.log").write_text("done")
            io.finish(root / "jobs" / "8")
            users = iam.users(StoreConfig.from_env(seaweed.env("unit/job")))
            assert not [u for u in users if u.startswith("shuyu-job-8-")]  # gone at finish
        users = iam.users(StoreConfig.from_env(seaweed.env("unit/job")))
        assert not [u for u in users if u.startswith("shuyu-job-8-")]
        assert not (root / "staging" / "8").exists()
        assert domain.fetch("jobs/8/output/model.onnx").read_bytes() == b"onnx"
        assert domain.fetch("jobs/8/released.log").read_text() == "done"
    finally:
        store.unbind(root)
