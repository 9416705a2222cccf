"""A stand-in for ``python -m privacy`` in the hub's unit tests — never in end-to-end tests.

It plays the platform node's side of the contract the hub relies on (``hello``, ``propose``,
``run``; their flags, exit codes, stdout and ``result.json``) from files in
``$FAKE_PRIVACY_DIR``: ``bundle.json`` (the party it answers for; its key signs approvals),
``tables.json``, ``decision`` (``approved``, ``pending``, ``rejected``, or ``forged``: signed with
``other.json``'s key), ``result.json`` (rank 0's result), ``pause`` (seconds between progress
lines of a run). Every call's argv is appended to
``calls.log``; ``run`` also records the columns of the public Parquet it was handed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from privacy import pki
from privacy.bundle import Bundle
from privacy.spec import Computation


def options(args: list[str]) -> dict[str, str]:
    return {args[i]: args[i + 1] for i in range(0, len(args) - 1, 2) if args[i].startswith("--")}


def main() -> int:
    argv = sys.argv[1:]
    if argv[:2] != ["-m", "privacy"]:
        print("用法 / usage: -m privacy COMMAND", file=sys.stderr)
        return 2
    folder = Path(os.environ["FAKE_PRIVACY_DIR"])
    command, rest = argv[2], argv[3:]
    with open(folder / "calls.log", "a") as log:
        log.write(json.dumps([command, *rest]) + "\n")
    opts = options(rest)
    if command in ("serve", "pending", "approve", "reject"):
        return 0
    bundle = Bundle.read(folder / "bundle.json")
    if opts.get("--party") != bundle.party_id or opts.get("--peer") != bundle.node_address:
        print("对端身份不符 / the peer's identity does not match", file=sys.stderr)
        return 5
    if not Path(opts.get("--creds", "/nonexistent"), "node.key").exists():
        print("缺少凭证 / no credentials", file=sys.stderr)
        return 5
    if command == "hello":
        tables = json.loads((folder / "tables.json").read_text())
        print(json.dumps({"party": bundle.party_id, "tables": tables}))
        return 0
    spec = Computation.from_json(Path(opts["--spec"]).read_bytes())
    decision = (folder / "decision").read_text().strip()
    signer = {"approved": folder / "bundle.json", "forged": folder / "other.json"}.get(decision)
    signature = pki.sign(Bundle.read(signer).key_pem, spec.digest().encode()) if signer else None
    if command == "propose":
        status = "approved" if signature else decision
        print(json.dumps({"status": status, "signature": signature}))
        return 0
    if command == "run":
        import pyarrow.parquet as pq

        if not Path(opts["--public"]).is_file():  # as the real node: one Parquet file
            print("平台数据不存在 / no public table", file=sys.stderr)
            return 2
        seen = pq.read_table(opts["--public"]).column_names
        with open(folder / "calls.log", "a") as log:
            log.write(json.dumps(["public-columns", *seen]) + "\n")
        if decision == "pending":
            print("参与方尚未批准 / the party has not approved", file=sys.stderr)
            return 3
        if decision == "rejected":
            print("参与方拒绝 / the party rejected", file=sys.stderr)
            return 4
        pause = float((folder / "pause").read_text()) if (folder / "pause").exists() else 0.0
        for phase, fraction in (("psi", 0.3), ("compute", 0.8), ("done", 1.0)):
            with open(opts["--progress"], "a") as progress:
                line = {"phase": phase, "fraction": fraction, "at": "now"}
                progress.write(json.dumps(line) + "\n")
            time.sleep(pause)
        out = Path(opts["--out"])
        out.mkdir(parents=True, exist_ok=True)
        result = json.loads((folder / "result.json").read_text())
        (out / "result.json").write_text(
            json.dumps({"result": result, "signature": signature, "digest": spec.digest()})
        )
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
