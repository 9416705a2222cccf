"""Run the schemathesis command line against a running service, for the conformance tests.

The document is fetched first and handed to schemathesis as a file with the service's base URL:
loaded from a URL, schemathesis leaves out the operation that serves the document itself, and
every operation is to be tested."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

HERE = Path(__file__).parent
CHECKOUT = HERE.parents[1]


@dataclass
class Run:
    operations: int  # in the document
    result: dict  # schemathesis' JSON report
    returncode: int


def run_schemathesis(document_url: str, base: str, token: str, workdir: Path) -> Run:
    document = requests.get(document_url, timeout=10).json()
    schema = workdir / "openapi.json"
    schema.write_text(json.dumps(document))
    report = workdir / "run.json"
    run = subprocess.run(
        [str(Path(sys.executable).with_name("st")), "--config-file", str(HERE / "schemathesis.toml"),
         "run", str(schema), "--url", base, "--checks", "all",
         "-H", f"Authorization: Bearer {token}",
         "--report", "json", "--report-json-path", str(report), "--no-color"],
        cwd=workdir, env={**os.environ, "PYTHONPATH": str(CHECKOUT)},  # its cache stays there
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    print(run.stdout[-20000:], run.stderr[-5000:])
    operations = sum(len(item) for item in document["paths"].values())
    return Run(operations, json.loads(report.read_text()), run.returncode)
