"""The MPC engine between two real processes (one per node) over a real brpc link on loopback.

Each case starts ``tests/privacy_compute_driver.py`` twice in the SPU environment (rank 0 the
platform, rank 1 the party), compares the result with the plain computation on the joined data,
and searches each process's own memory dump for the other side's raw values. Run under
``flock /tmp/shuyu-e2e.lock``; sizes are small (a few hundred rows) so the file stays well under
two minutes on 2 cores.

What is searched, and why it means something:
- rank 0 (platform) for the party's measure amounts, as text ("7351.9273") and as float64 bytes
  (how numpy and pandas hold them), and for the party's keys outside the intersection (text, as
  written and normalised). The amounts carry four unusual decimals and the keys a ``Q7`` infix, so a
  find is not a coincidence. The label (0/1) cannot be searched for: its bytes are everywhere;
  it is protected by the same sharing as the amounts, which the scan does cover.
- rank 1 (party) for the platform's feature values (text and float64) and its keys outside the
  intersection.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privacy.compute.keys import normalise
from privacy.compute.plain import boosted_probabilities
from privacy.environment import spu_python
from privacy.spec import Computation
from tests.memory_scan import scan
from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "tests" / "privacy_compute_driver.py"
N_PUBLIC, N_PARTY, N_COMMON = 240, 220, 160


def _port() -> int:
    return free_port()


def _world() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A platform table and a party table sharing N_COMMON people, spelled differently."""
    rng = np.random.default_rng(16)
    ids = [f"Q7{i:05d}8" for i in rng.choice(90000, N_PUBLIC + N_PARTY - N_COMMON, replace=False)]
    public_ids = ids[:N_PUBLIC]
    party_ids = ids[N_PUBLIC - N_COMMON :]
    x = rng.normal(size=(N_PUBLIC, 3))
    public = pd.DataFrame(
        {
            "pid": [f"{k[:3]}-{k[3:]}" for k in public_ids],
            "f1": np.round(1000 + 97.3 * x[:, 0], 4) + 0.00013,
            "f2": np.round(50 + 13.7 * x[:, 1], 4) + 0.00071,
            "f3": np.round(-20 + 3.1 * x[:, 2], 4) + 0.00037,
            "district": rng.choice(["东城", "西城", "海淀"], N_PUBLIC, p=[0.5, 0.3, 0.2]),
        }
    )
    margin = dict(zip(public_ids, 1.4 * x[:, 0] - 0.9 * x[:, 1] + 0.3, strict=True))
    party_margin = np.array([margin.get(k, rng.normal()) for k in party_ids])
    party = pd.DataFrame(
        {
            # full-width letters and a space: the same key after normalisation
            "cust_id": [f"ｑ{k[1:]} " if j % 3 == 0 else k for j, k in enumerate(party_ids)],
            "amount": np.round(rng.uniform(7000, 9000, N_PARTY), 2) + 0.0073,
            "segment": rng.choice(["零售", "对公"], N_PARTY, p=[0.7, 0.3]),
            "label": (rng.uniform(size=N_PARTY) < 1 / (1 + np.exp(-party_margin))).astype(int),
        }
    )
    return public, party


def _spec(kind: str, public_columns, party_columns, params) -> Computation:
    return Computation(
        request_id=1,
        kind=kind,
        party="p-bank",
        tenant="t-1",
        public_dataset="enterprise",
        public_key="pid",
        public_columns=tuple(public_columns),
        party_table="loans",
        party_key="cust_id",
        party_columns=tuple(party_columns),
        params=params,
    )


def _run(tmp_path: Path, spec: Computation, public: pd.DataFrame, party: pd.DataFrame):
    """Both nodes as separate processes; returns (results by rank, memory dump paths by rank)."""
    (tmp_path / "spec.json").write_text(spec.canonical().decode())
    tables = [
        public[["pid", *spec.public_columns]],
        party[["cust_id", *spec.party_columns]],
    ]
    addresses = [f"127.0.0.1:{_port()}", f"127.0.0.1:{_port()}"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)
    procs = []
    for rank in (0, 1):
        node = tmp_path / f"node{rank}"
        node.mkdir()
        tables[rank].to_parquet(node / "table.parquet")
        argv = [str(spu_python()), str(DRIVER), str(tmp_path / "spec.json"), str(rank)]
        argv += [str(node / "table.parquet"), *addresses, f"t-{tmp_path.name}", str(node / "out")]
        log = open(node / "log.txt", "wb")  # noqa: SIM115 - closed below
        procs.append((subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env), log))
    try:
        for proc, _ in procs:
            proc.wait(timeout=150)
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    for rank, (proc, _) in enumerate(procs):
        log_text = (tmp_path / f"node{rank}" / "log.txt").read_text(errors="replace")
        assert proc.returncode == 0, f"rank {rank} failed:\n{log_text[-3000:]}"
    results = [json.loads((tmp_path / f"node{r}" / "out.json").read_text()) for r in (0, 1)]
    dumps = [tmp_path / f"node{r}" / "out.mem" for r in (0, 1)]
    return [r["result"] for r in results], dumps


def _outside(public: pd.DataFrame, party: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(public keys not in the party's table, party keys not in the public table)."""
    pub = set(public["pid"].map(normalise))
    par = set(party["cust_id"].map(normalise))
    return (
        [k for k in public["pid"] if normalise(k) not in par],
        [k for k in party["cust_id"] if normalise(k) not in pub],
    )


def _joined(public: pd.DataFrame, party: pd.DataFrame) -> pd.DataFrame:
    a = public.assign(k=public["pid"].map(normalise))
    b = party.assign(k=party["cust_id"].map(normalise))
    return a.merge(b, on="k")


def _assert_no_leak(dumps, public, party, public_values, party_values) -> None:
    public_out, party_out = _outside(public, party)
    assert scan(dumps[0], party_out, party_values) == []
    assert scan(dumps[1], public_out, public_values) == []


@pytest.fixture(scope="module")
def world():
    return _world()


def test_psi_size_is_learnt_by_the_platform_alone(tmp_path, world):
    public, party = world
    spec = _spec("psi", [], [], {"reveal": "size"})
    results, dumps = _run(tmp_path, spec, public, party)
    assert results[0] == {"intersection_size": N_COMMON}
    assert results[1] == {}
    _assert_no_leak(dumps, public, party, [], [])


def test_psi_ids_go_to_the_party_as_it_wrote_them(tmp_path, world):
    public, party = world
    spec = _spec("psi", [], [], {"reveal": "ids-to-party"})
    results, dumps = _run(tmp_path, spec, public, party)
    expected = sorted(_joined(public, party)["cust_id"])
    assert sorted(results[1]["ids"]) == expected
    assert results[0] == {"intersection_size": N_COMMON}
    _assert_no_leak(dumps, public, party, [], [])
    # Control: the scan does find a node's own keys and amounts in its own memory.
    public_out, party_out = _outside(public, party)
    assert len(scan(dumps[1], party_out, [])) == len(party_out)


def _plain_stats(joined: pd.DataFrame, by: list[str], k: int) -> pd.DataFrame:
    grouped = joined.groupby(by) if by else joined.assign(_all=1).groupby("_all")
    plain = grouped.agg(count=("k", "size"), sum_amount=("amount", "sum"), mean_f1=("f1", "mean"))
    plain = plain.reset_index()
    return plain[plain["count"] >= k], int(((plain["count"] > 0) & (plain["count"] < k)).sum())


@pytest.mark.parametrize(
    "group_by",
    [
        pytest.param([["public", "district"]], id="public-group"),
        pytest.param([["party", "segment"]], id="party-group"),
        pytest.param([["public", "district"], ["party", "segment"]], id="both-sides"),
    ],
)
def test_stats_match_the_plain_join_and_leak_nothing(tmp_path, world, group_by):
    public, party = world
    k = 12
    spec = _spec(
        "stats",
        ["f1", "district"],
        ["amount", "segment"],
        {
            "group_by": group_by,
            "measures": [["party", "amount", "sum"], ["public", "f1", "mean"]],
            "min_group": k,
        },
    )
    results, dumps = _run(tmp_path, spec, public, party)
    by = [c for _, c in group_by]
    plain, suppressed = _plain_stats(_joined(public, party), by, k)
    got = pd.DataFrame(results[0]["rows"], columns=results[0]["columns"])
    assert list(got.columns) == [*by, "count", "sum_amount", "mean_f1"]
    merged = plain.merge(got, on=by, suffixes=("_plain", ""))
    assert len(merged) == len(plain) == len(got)
    assert (merged["count"] == merged["count_plain"]).all()
    np.testing.assert_allclose(merged["sum_amount"], merged["sum_amount_plain"], atol=1e-3)
    np.testing.assert_allclose(merged["mean_f1"], merged["mean_f1_plain"], atol=1e-5)
    assert results[0]["suppressed_groups"] == suppressed
    assert results[1] == {"rows": N_COMMON}
    _assert_no_leak(dumps, public, party, public["f1"], party["amount"])
    if len(group_by) == 2:  # control: the party's own amounts are found in its own memory
        assert len(scan(dumps[1], [], party["amount"])) >= N_PARTY


FEATURES = ["f1", "f2", "f3"]


def _train_spec(model: str, **extra) -> Computation:
    params = {"features": FEATURES, "label": "label", "model": model, **extra}
    return _spec("train", FEATURES, ["label"], params)


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    q = np.clip(p, 1e-4, 1 - 1e-4)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def test_logistic_regression_matches_plain_gradient_descent(tmp_path, world):
    from privacy.compute.plain import exact, plain_fit, standardise

    public, party = world
    results, dumps = _run(tmp_path, _train_spec("logistic", epochs=12, learning_rate=1.0), *world)
    model = results[0]
    joined = _joined(public, party).sort_values("k")
    x = joined[FEATURES].to_numpy()
    y = joined["label"].to_numpy(dtype=float)
    xs, mean, std = standardise(x)
    w, b = plain_fit(xs, y, 12, 1.0)  # the same algorithm (SEG3 sigmoid) in float64
    plain_p = exact(xs @ w + b)
    mpc_p = exact(x @ np.array(model["coef"]) + model["intercept"])
    assert model["model"] == "logistic" and model["features"] == FEATURES
    np.testing.assert_allclose(np.array(model["coef"]) * std, w, atol=0.02)
    assert np.max(np.abs(mpc_p - plain_p)) < 0.02
    assert model["metrics"]["rows"] == N_COMMON
    assert abs(model["metrics"]["accuracy"] - np.mean((mpc_p > 0.5) == y)) < 1e-6
    assert abs(model["metrics"]["log_loss"] - _log_loss(mpc_p, y)) < 1e-3
    # and its accuracy is close to a plain fit with the exact sigmoid
    we, be = plain_fit(xs, y, 12, 1.0, sigmoid=exact)
    assert abs(model["metrics"]["accuracy"] - np.mean((exact(xs @ we + be) > 0.5) == y)) <= 0.03
    assert results[1] == {"rows": N_COMMON}
    _assert_no_leak(dumps, public, party, public[FEATURES].to_numpy().ravel(), [])


def test_secret_shared_boosting_learns_the_label_it_never_sees(tmp_path, world):
    public, party = world
    spec = _train_spec("xgboost", trees=3, depth=2, learning_rate=0.5, min_leaf=10)
    results, dumps = _run(tmp_path, spec, *world)
    model = results[0]
    joined = _joined(public, party).sort_values("k")
    y = joined["label"].to_numpy(dtype=float)
    p = boosted_probabilities(model, joined)
    accuracy = float(np.mean((p > 0.5) == y))
    assert model["model"] == "xgboost" and len(model["trees"]) == 3
    # what MPC reports is what the opened model does on the joined data
    assert abs(model["metrics"]["accuracy"] - accuracy) < 1e-6
    assert abs(model["metrics"]["log_loss"] - _log_loss(p, y)) < 1e-3
    # and it learnt: better than always answering the majority class, near a plain logistic fit
    assert accuracy > max(y.mean(), 1 - y.mean()) + 0.05
    assert results[1] == {"rows": N_COMMON}
    _assert_no_leak(dumps, public, party, public[FEATURES].to_numpy().ravel(), [])
