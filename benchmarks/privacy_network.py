"""The privacy benchmarks between two machines: the real nodes in two network namespaces.

    .venv/bin/python -m benchmarks.privacy_network [--psi 1000000] [--stats 1000000]
        [--lr-rows 100000] [--lr-features 20] [--epochs 10] [--only psi|stats|logistic]

The same computations and data as :mod:`benchmarks.privacy_compute`, but as in production: the
party's node (``python -m privacy serve``) in its own namespace, the platform's node
(``python -m privacy run``) in the domain's, joined by one veth pair whose nftables pass only the
two nodes' ports (:class:`tests.e2e.node_pair.NodePair`); every byte goes through the nodes'
mTLS relays; the party's operator approves each computation before it runs. "bytes" is what
crossed the veth (both directions, the kernel's counters: TLS, TCP and IP included); "wall_s"
the platform's ``run`` from start to result. Needs root (namespaces, nftables).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks import privacy_compute
from privacy import pki
from privacy.bundle import Bundle
from privacy.environment import spu_python
from privacy.spec import Computation
from tests.e2e.node_pair import NodePair


class Nodes:
    """A party node serving in its namespace, and the platform's credentials in the domain's."""

    def __init__(self, pair: NodePair, folder: Path):
        self.pair, self.folder = pair, folder
        ca = pki.new_authority()
        self.creds = pki.Credentials.write(
            folder / "platform", ca.cert_pem, pki.issue(ca, pki.PLATFORM, "platform")
        ).ca.parent
        party = pki.issue(ca, pki.party_identity("p-bench"), "基准银行 / bench bank")
        self.bundle = folder / "bundle.json"
        Bundle("p-bench", "基准银行 / bench bank", "t-bench", pair.party_address,
               pair.platform_address, ca.cert_pem, party.cert_pem, party.key_pem,
               ).write(self.bundle)  # fmt: skip
        self.data = folder / "party-data"
        self.data.mkdir()
        self.log = open(folder / "party.log", "wb")  # noqa: SIM115 - closed in stop()
        self.node = pair.popen(pair.party, [str(spu_python()), "-m", "privacy", "serve",
                                            "--bundle", str(self.bundle), "--data", str(self.data)],
                               stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 60
        while b"listening on" not in (folder / "party.log").read_bytes():
            if self.node.poll() is not None or time.monotonic() > deadline:
                raise SystemExit((folder / "party.log").read_text(errors="replace")[-2000:])
            time.sleep(0.2)

    def stop(self) -> None:
        self.node.terminate()
        self.node.wait(30)
        self.log.close()

    def privacy(self, *args: str, ns: str | None = None) -> subprocess.CompletedProcess:
        argv = [str(spu_python()), "-m", "privacy", *args]
        if ns:
            return self.pair.run(ns, argv, capture_output=True, text=True)
        return subprocess.run(argv, capture_output=True, text=True)

    def link_bytes(self) -> int:
        shown = subprocess.run(["ip", "-n", self.pair.party, "-s", "-j", "link", "show",
                                self.pair.party_if], capture_output=True, text=True, check=True)  # fmt: skip
        stats = json.loads(shown.stdout)[0]["stats64"]
        return stats["rx"]["bytes"] + stats["tx"]["bytes"]

    def run(
        self, folder: Path, spec: Computation, public: pd.DataFrame, party: pd.DataFrame
    ) -> dict:
        """One computation as the hub runs it: proposed, approved by the operator, then run."""
        folder.mkdir(parents=True, exist_ok=True)
        spec_file = folder / "spec.json"
        spec_file.write_text(spec.canonical().decode())
        public.to_parquet(folder / "public.parquet")
        party.to_parquet(self.data / f"{spec.party_table}.parquet")
        peer = ["--creds", str(self.creds), "--peer", self.pair.party_address, "--party", "p-bench"]
        proposed = self.privacy("propose", "--spec", str(spec_file), *peer, ns=self.pair.dom)
        if proposed.returncode != 0:
            raise SystemExit(f"propose failed: {proposed.stderr[-2000:]}")
        state = ["--bundle", str(self.bundle), "--state", str(self.data / ".shuyu")]
        approved = self.privacy("approve", *state, str(spec.request_id))
        if approved.returncode != 0:
            raise SystemExit(f"approve failed: {approved.stderr[-2000:]}")
        before = self.link_bytes()
        started = time.monotonic()
        done = self.privacy("run", "--spec", str(spec_file), "--public",
                            str(folder / "public.parquet"), "--listen", self.pair.platform_address,
                            "--out", str(folder / "out"), "--progress", str(folder / "progress"),
                            *peer, ns=self.pair.dom)  # fmt: skip
        wall = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"run failed ({done.returncode}): {done.stderr[-3000:]}")
        phases = {}
        for line in (folder / "progress").read_text().splitlines():
            event = json.loads(line)
            phases.setdefault(event["phase"], event["at"])
        result = json.loads((folder / "out" / "result.json").read_text())["result"]
        return {"wall_s": round(wall, 1), "compute_s": round(wall, 1), "phases_rank0": phases,
                "bytes": self.link_bytes() - before, "result": result}  # fmt: skip


def main() -> None:
    if os.geteuid() != 0:
        raise SystemExit("needs root: it creates two network namespaces and their nftables")
    pair = NodePair(tag="shuyu-pcbench").up()
    try:
        with tempfile.TemporaryDirectory(prefix="privacy-network-") as tmp:
            nodes = Nodes(pair, Path(tmp))
            try:
                privacy_compute.main(runner=nodes.run)
            finally:
                nodes.stop()
    finally:
        pair.down()


if __name__ == "__main__":
    main()
