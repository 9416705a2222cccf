"""Privacy computing between two real nodes on two machines, under review, through the real hub.

The platform's node runs in the domain's namespace (the production service starts it there), a
bank's node in its own; one veth pair joins them and nftables in each lets through only the two
nodes' ports (:mod:`tests.e2e.node_pair`). Alice asks from the SDK for a PSI, joint statistics
and a vertical logistic regression between ``enterprise_registry`` and the bank's loans; the
bank's operator approves each in its node (``python -m privacy approve``), a reviewer in the
review console; the nodes compute under MPC; the result passes the export checks (or a reviewer
releases what they hold) and matches the plain computation on the joined data.

Then nothing crossed: the memory of every node process (dumped at its exit, see
``tests/memdump``), the link's plaintext inside each node's relay and every packet on the wire
are searched for the bank's keys outside the intersection and its amounts (on the platform's
side) and for the public keys outside the intersection and the public feature's values (on the
bank's side). And the refusals: a node with a certificate of another authority gets nothing, a
run the bank did not approve gets nothing, a revoked party is asked nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyotp
import pytest

from hub import home as hub_home
from hub.demo import world
from hub.ops import Ctx, parties
from hub.privacy import authority
from hub.refusals import Conflict
from hub.review import lifecycle
from privacy import pki
from privacy.compute.keys import normalise
from privacy.compute.plain import boosted_probabilities, plain_fit, seg3, standardise
from privacy.environment import spu_python
from privacy.spec import Computation
from sdk import Workspace
from tests.e2e.conftest import PASSWORD, api_tokens, gateway_url, running_hub
from tests.e2e.hub_process import Browser
from tests.e2e.node_pair import Capture, NodePair
from tests.memory_scan import find_keys, found_in, scan

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
CREDIT = "小微企业普惠信贷评估"
BANK = "某银行"
TENANT = world.TENANTS[0]["name"]
PURPOSE = "普惠金融联合建模 / inclusive-finance joint modelling"
EPOCHS, RATE = 12, 0.5


@dataclass
class Lab:
    hub: tuple
    pair: NodePair
    root: Path
    bundle: Path
    state: Path
    party_id: str
    public: pd.DataFrame  # the raw enterprise registry (the test reads it; no node gets it whole)
    bank: pd.DataFrame
    ws: Workspace
    reviewers: dict[str, Browser]
    node: subprocess.Popen
    dumps: dict[str, Path] = field(default_factory=dict)
    taps: dict[str, Path] = field(default_factory=dict)
    captures: list[Capture] = field(default_factory=list)
    done: dict[str, object] = field(default_factory=dict)


def bank_table(public: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The bank's loans: 60 % of the registry's firms plus 90 firms the registry does not hold,
    keys as a bank writes them; the overdue label follows registered capital."""
    firms = public.sample(frac=0.6, random_state=7)
    own = [f"917{''.join(map(str, rng.integers(0, 10, 15)))}" for _ in range(90)]
    capital = np.concatenate([firms["registered_capital"].to_numpy(), rng.uniform(50, 5000, 90)])
    z = (np.log1p(capital) - np.log1p(capital).mean()) / np.log1p(capital).std()
    overdue = (rng.uniform(size=len(z)) < 1 / (1 + np.exp(2.0 * z))).astype(int)
    keys = [k.lower() if i % 4 == 0 else k for i, k in enumerate(firms["uscc"])] + own
    return pd.DataFrame(
        {
            "uscc": keys,
            "loan_amount": np.round(rng.uniform(70000, 90000, len(keys)), 2) + 0.0073,
            "overdue": overdue,
            "branch": rng.choice(["城东支行", "城西支行"], len(keys)),
        }
    )


def sitecustomize(folder: Path, dumps: Path, tap: Path) -> Path:
    """A ``sitecustomize`` for the platform's node processes (the hub's services pass
    ``PYTHONPATH`` on): their tap folder and memory dumps, then :mod:`tests.memdump`'s hook."""
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        "import os, runpy\n"
        f"os.environ.setdefault('SHUYU_TEST_MEMDUMP', {str(dumps)!r})\n"
        f"os.environ.setdefault('SHUYU_PRIVACY_TAP', {str(tap)!r})\n"
        f"runpy.run_path({str(REPO / 'tests/memdump/sitecustomize.py')!r})\n"
    )
    return folder


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy-lab")
    pair = NodePair().up()
    node = None
    try:
        dumps = {"platform": root / "dump-platform", "party": root / "dump-party"}
        taps = {"platform": root / "tap-platform", "party": root / "tap-party"}
        site = sitecustomize(root / "site", dumps["platform"], taps["platform"])
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SHUYU_PRIVACY_NETNS", pair.dom)
            mp.setenv("SHUYU_PRIVACY_LISTEN", pair.platform_address)
            mp.setenv("PYTHONPATH", str(site))
            with running_hub(request, tmp_path_factory, "sqlite") as hub:
                proc, db, secrets = hub
                store = hub_home.domain_store(proc.home)
                public = pd.read_parquet(store / "raw" / "enterprise_registry.parquet")
                bank = bank_table(public, np.random.default_rng(16))
                data = root / "bank"
                data.mkdir()
                bank.to_csv(data / "loans.csv", index=False)
                with db.session() as s:
                    party, bundle = parties.add(Ctx(s, "adam"), proc.home, BANK, TENANT,
                                                pair.party_address, pair.platform_address)  # fmt: skip
                    party_id = party.id
                bundle.write(root / "bundle.json")
                env = {**os.environ, "SHUYU_PRIVACY_TAP": str(taps["party"]),
                       "SHUYU_TEST_MEMDUMP": str(dumps["party"]),
                       "PYTHONPATH": str(REPO / "tests" / "memdump")}  # fmt: skip
                log = open(root / "party-node.log", "wb")  # noqa: SIM115 - closed at teardown
                node = pair.popen(pair.party, [str(spu_python()), "-m", "privacy", "serve",
                                               "--bundle", str(root / "bundle.json"),
                                               "--data", str(data)],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
                token = api_tokens(hub, users=("alice",))["alice"]
                reviewers = {}
                for name in ("rita", "ryan"):
                    reviewers[name] = Browser(proc.url)
                    totp = pyotp.TOTP(secrets[name]).now()
                    assert reviewers[name].login(name, PASSWORD, totp).status_code == 302
                yield Lab(hub=hub, pair=pair, root=root, bundle=root / "bundle.json",
                          state=data / ".shuyu", party_id=party_id, public=public, bank=bank,
                          ws=Workspace(gateway_url(hub), token, scenario=CREDIT),
                          reviewers=reviewers, node=node, dumps=dumps, taps=taps)  # fmt: skip
                if request.session.testsfailed:
                    print("--- party node ---\n" + (root / "party-node.log").read_text()[-4000:])
    finally:
        if node is not None:
            node.terminate()
            try:
                node.wait(10)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait()
        pair.down()
    assert not pair.exists()


def operator(lab: Lab, *args: str) -> subprocess.CompletedProcess:
    """The bank's operator at its own node: ``python -m privacy pending|approve|reject``."""
    argv = [str(spu_python()), "-m", "privacy", *args, "--bundle", str(lab.bundle)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def proposed(lab: Lab, request_id: int, timeout: float = 60) -> str:
    """Wait for the hub's proposal to reach the bank's node; the operator's listing of it."""
    deadline = time.monotonic() + timeout
    while True:
        shown = operator(lab, "pending", "--state", str(lab.state))
        assert shown.returncode == 0, shown.stderr
        if re.search(rf"request {request_id}\b", shown.stdout):
            return shown.stdout
        assert time.monotonic() < deadline, shown.stdout
        time.sleep(0.5)


def review(lab: Lab, request_id: int, decision: str = "approve") -> str:
    """Rita, then Ryan if a second approval is needed, open the request in the review console
    and decide it; the page they read."""
    proc, _, _ = lab.hub
    deadline = time.monotonic() + 60
    while (status := status_of(lab, request_id)) != "in_review":
        assert status in ("submitted", "checking") and time.monotonic() < deadline, status
        time.sleep(0.3)
    url = f"{proc.url}/services/review/requests/{request_id}?lang=en"
    for browser in lab.reviewers.values():
        page = browser.s.get(url, timeout=30)
        assert page.status_code == 200, page.text[:500]
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
        done = browser.s.post(url, data={"_xsrf": xsrf, "decision": decision,
                                         "reason": "核对计算与列 / checked the computation"},
                              timeout=60)  # fmt: skip
        assert done.status_code == 200, done.text[:500]
        if status_of(lab, request_id) != "in_review":
            return page.text
    raise AssertionError("two approvals should decide it")


def release_in_console(lab: Lab, request_id: int) -> None:
    proc, _, _ = lab.hub
    url = f"{proc.url}/services/review/requests/{request_id}?lang=en"
    rita = lab.reviewers["rita"]
    page = rita.s.get(url, timeout=30)
    assert 'id="release-result"' in page.text, page.text[-2000:]
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    done = rita.s.post(url, data={"_xsrf": xsrf, "action": "release_withheld",
                                          "reason": "各组人数均达标，放行 / groups large enough"},
                               timeout=60)  # fmt: skip
    assert done.status_code == 200, done.text[:500]


def released(lab: Lab, c) -> None:
    """What the export checks held (party-side sums are, by default), Rita releases."""
    c.reload()
    if c.attrs.get("result") is None:
        assert c.withheld, c.attrs
        release_in_console(lab, c.id)


def status_of(lab: Lab, request_id: int) -> str:
    with lab.hub[1].session() as s:
        return lifecycle.get(s, request_id).status


def computed(lab: Lab, c, *, scanned: bool = False):
    """Approve ``c`` at the bank and in review, and follow it to its end while the wire is
    recorded (and, when ``scanned``, every node process's memory is dumped at its exit)."""
    listing = proposed(lab, c.id)
    assert BANK in listing or lab.party_id in listing or "loans" in listing, listing
    approved = operator(lab, "approve", "--state", str(lab.state), str(c.id))
    assert approved.returncode == 0, approved.stderr
    if scanned:
        for folder in lab.dumps.values():
            folder.mkdir(exist_ok=True)
    capture = Capture(lab.pair, lab.root / f"wire-{c.id}.bin")
    with capture:
        page = review(lab, c.id)
        c.wait(timeout=300, interval=0.5, progress=False)
    lab.captures.append(capture)
    if scanned:  # the bank's worker dumps as it exits; then later runs dump nothing
        deadline = time.monotonic() + 120
        while len(lab.pair.pids(lab.pair.party)) > 1:  # the node itself, and its worker
            assert time.monotonic() < deadline, "the bank's worker did not end"
            time.sleep(0.3)
        for side, folder in list(lab.dumps.items()):
            lab.dumps[side] = folder.rename(folder.with_name(f"{folder.name}-{c.id}"))
    assert c.status == "succeeded", (c.attrs, lab.hub[0].tail(60))
    return page


def joined(lab: Lab) -> pd.DataFrame:
    a = lab.public.assign(k=lab.public["uscc"].map(normalise))
    b = lab.bank.assign(k=lab.bank["uscc"].map(normalise))
    return a.merge(b, on="k", suffixes=("", "_bank"))


def test_a_psi_with_the_bank_is_reviewed_approved_by_both_and_gives_the_true_size(lab):
    c = lab.ws.privacy.psi(dataset="enterprise_registry", key="uscc", party=BANK,
                           party_table="loans", purpose=PURPOSE)  # fmt: skip
    page = computed(lab, c)
    # the reviewer read the computation, both sides' columns and the party before deciding
    assert BANK in page and lab.party_id in page and 'id="privacy-approval"' in page
    assert c.result() == {"intersection_size": len(joined(lab))}
    node = c.lineage()["chain"][-1]
    assert node["party_approval"]["verified"] is True and node["result"]["released"] is True
    assert [d["decision"] for d in node["decisions"]] == ["approve"] * len(node["decisions"])
    lab.done["psi"] = c.id


def test_joint_statistics_match_the_plain_join_once_a_reviewer_releases_them(lab):
    c = lab.ws.privacy.stats(dataset="enterprise_registry", key="uscc", party=BANK,
                             party_table="loans", party_columns=["loan_amount", "overdue"],
                             group_by=["status"],
                             measures={"loan_amount": ["sum", "mean"], "overdue": "mean"},
                             min_group=10, purpose=PURPOSE)  # fmt: skip
    computed(lab, c, scanned=True)
    released(lab, c)
    got = c.result().set_index("status").sort_index()
    plain = joined(lab).groupby("status").agg(
        count=("k", "size"), sum_loan_amount=("loan_amount", "sum"),
        mean_loan_amount=("loan_amount", "mean"), mean_overdue=("overdue", "mean"),
    )  # fmt: skip
    plain = plain[plain["count"] >= 10].sort_index()
    assert list(got.index) == list(plain.index) and len(plain) >= 1
    assert (got["count"].astype(int) == plain["count"]).all()
    for column in ("sum_loan_amount", "mean_loan_amount", "mean_overdue"):
        np.testing.assert_allclose(got[column], plain[column], rtol=1e-3, atol=1e-2)
    lab.done["stats"] = c.id


def test_vertical_logistic_regression_matches_the_plain_fit(lab):
    c = lab.ws.privacy.train(dataset="enterprise_registry", key="uscc", party=BANK,
                             party_table="loans", features=["registered_capital"],
                             party_label="overdue", model="logistic",
                             params={"epochs": EPOCHS, "learning_rate": RATE},
                             purpose=PURPOSE)  # fmt: skip
    computed(lab, c)
    released(lab, c)
    model = c.result()
    rows = joined(lab).sort_values("k")
    x, mean, std = standardise(rows[["registered_capital"]].to_numpy(dtype=float))
    w, b = plain_fit(x, rows["overdue"].to_numpy(dtype=float), EPOCHS, RATE, seg3)
    np.testing.assert_allclose(model["coef"], w / std, rtol=0.05, atol=1e-4)
    assert model["intercept"] == pytest.approx(b - float(np.sum(w * mean / std)), abs=0.05)
    assert model["metrics"]["rows"] == len(rows)
    lab.done["train"] = c.id


def test_secret_shared_boosting_gives_a_model_that_does_what_mpc_reported(lab):
    c = lab.ws.privacy.train(dataset="enterprise_registry", key="uscc", party=BANK,
                             party_table="loans", features=["registered_capital"],
                             party_label="overdue", model="xgboost",
                             params={"trees": 3, "depth": 2, "learning_rate": 0.5},
                             purpose=PURPOSE)  # fmt: skip
    computed(lab, c)
    released(lab, c)
    model = c.result()
    rows = joined(lab).sort_values("k")
    y = rows["overdue"].to_numpy(dtype=float)
    p = boosted_probabilities(model, rows)
    assert model["model"] == "xgboost" and len(model["trees"]) == 3
    assert model["metrics"]["rows"] == len(rows)
    assert model["metrics"]["accuracy"] == pytest.approx(float(np.mean((p > 0.5) == y)), abs=1e-6)
    assert float(np.mean((p > 0.5) == y)) > max(y.mean(), 1 - y.mean())  # it learnt the label
    lab.done["xgboost"] = c.id


def party_only_keys(lab: Lab) -> list[str]:
    public = set(lab.public["uscc"].map(normalise))
    return [k for k in lab.bank["uscc"] if normalise(k) not in public]


def public_only_keys(lab: Lab) -> list[str]:
    bank = set(lab.bank["uscc"].map(normalise))
    return [k for k in lab.public["uscc"] if normalise(k) not in bank]


def test_no_node_memory_relay_plaintext_or_packet_holds_the_other_sides_raw_values(lab):
    assert {"psi", "stats", "train", "xgboost"} <= set(lab.done), "the computations ran first"
    bank_keys, public_keys = party_only_keys(lab), public_only_keys(lab)
    amounts = lab.bank["loan_amount"].to_numpy()
    assert len(bank_keys) == 90 and len(public_keys) > 50
    # positive control: the bank's own node holds its own keys and amounts
    party_dumps = sorted(lab.dumps["party"].glob("*.mem"))
    platform_dumps = sorted(lab.dumps["platform"].glob("*.mem"))
    assert party_dumps and platform_dumps, "every node process of the scanned run dumped"
    assert any(find_keys(d, bank_keys) for d in party_dumps)
    assert any(scan(d, [], amounts) for d in party_dumps)
    assert any(find_keys(d, public_keys) for d in platform_dumps)
    for dump in platform_dumps:
        assert find_keys(dump, bank_keys) == [], dump.name
        assert scan(dump, [], amounts) == [], dump.name
    for dump in party_dumps:
        assert find_keys(dump, public_keys) == [], dump.name
    # inside the relays, the link's plaintext carries shares and ciphertexts, not raw values
    amount_texts = [f"{a:.4f}".encode() for a in amounts]
    for side, needles in (("platform", bank_keys), ("party", public_keys)):
        taps = list(lab.taps[side].glob("*"))
        assert taps, side
        wanted = [k.encode() for k in needles] + [normalise(k).encode() for k in needles]
        wanted += amount_texts if side == "platform" else []
        for tap in taps:
            assert found_in(tap.read_bytes(), wanted) == set(), (side, tap.name)
    # on the wire: TLS records only, and none of either side's raw values
    raw_values = [k.encode() for k in bank_keys + public_keys] + amount_texts
    for capture in lab.captures:
        streams = capture.streams()
        assert streams and all(len(b) for b in streams.values())
        for (_, sport, _, dport), data in streams.items():
            assert {sport, dport} & {17443, 17444}, (sport, dport)
            assert data[:1] == b"\x16", "every connection opens with a TLS handshake"
            assert found_in(data, raw_values) == set(), (sport, dport)


def test_a_node_with_a_certificate_of_another_authority_gets_nothing(lab):
    creds = lab.root / "forged"
    ca = authority.platform_credentials(lab.hub[0].home).ca.read_text()
    forged = pki.issue(pki.new_authority("假冒 / forged"), pki.PLATFORM, "forged")
    pki.Credentials.write(creds, ca, forged)
    done = lab.pair.run(lab.pair.dom, [str(spu_python()), "-m", "privacy", "hello",
                                       "--creds", str(creds), "--peer", lab.pair.party_address,
                                       "--party", lab.party_id],
                        capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 5, done.stderr
    assert "loans" not in done.stdout and "/" in done.stderr.splitlines()[-1]


def test_a_run_the_bank_did_not_approve_gets_nothing(lab):
    spec = Computation(request_id=999, kind="psi", party=lab.party_id, tenant=TENANT,
                       public_dataset="enterprise_registry", public_key="uscc",
                       public_columns=(), party_table="loans", party_key="uscc",
                       party_columns=(), params={"reveal": "ids-to-party"})  # fmt: skip
    work = lab.root / "unapproved"
    work.mkdir()
    (work / "spec.json").write_text(spec.canonical().decode())
    lab.public[["uscc"]].to_parquet(work / "public.parquet")
    creds = authority.platform_credentials(lab.hub[0].home).ca.parent
    done = lab.pair.run(lab.pair.dom, [str(spu_python()), "-m", "privacy", "run",
                                       "--spec", str(work / "spec.json"),
                                       "--public", str(work / "public.parquet"),
                                       "--creds", str(creds), "--listen", lab.pair.platform_address,
                                       "--peer", lab.pair.party_address, "--party", lab.party_id,
                                       "--out", str(work / "out")],
                        capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert not (work / "out" / "result.json").exists()
    assert not (lab.state / "results" / "999.json").exists()
    assert "999" in operator(lab, "pending", "--state", str(lab.state)).stdout


def test_a_revoked_party_is_asked_nothing_and_its_computations_cannot_be_approved(lab):
    _, db, _ = lab.hub
    with db.session() as s:
        parties.change_status(Ctx(s, "adam"), lab.party_id, "revoke", "协议终止 / agreement ended")
    before = sorted(p.name for p in (lab.state / "pending").glob("*"))
    c = lab.ws.privacy.psi(dataset="enterprise_registry", key="uscc", party=BANK,
                           party_table="loans", purpose=PURPOSE)  # fmt: skip
    deadline = time.monotonic() + 60
    while status_of(lab, c.id) in ("submitted", "checking"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    with db.session() as s:
        found = {k.name: (k.verdict, k.reason) for k in lifecycle.get(s, c.id).checks}
    assert found["party"][0] == "fail" and "revoked" in found["party"][1], found
    assert "吊销" in found["party"][1] or " / " in found["party"][1], found
    with db.session() as s, pytest.raises(Conflict):
        lifecycle.decide(s, c.id, "rita", "approve", "核对 / checked")
    assert sorted(p.name for p in (lab.state / "pending").glob("*")) == before
