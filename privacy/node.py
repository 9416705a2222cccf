"""The two nodes: a party node that serves, and the platform node's calls for one computation.

Both sides run a computation the same way (:func:`run_side`): a loopback port for their own brpc
server registered with the relay under the computation's link id, a forwarder for the brpc
connections to the peer, and the MPC in a worker process (:mod:`privacy.worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import json
import logging
import secrets
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from privacy import pki
from privacy.approvals import Approvals
from privacy.bundle import Bundle
from privacy.control import PartyControl, Refused, call, receive, send
from privacy.relay import Relay, RelayError, Tap
from privacy.spec import Computation
from privacy.tables import TableError, check

log = logging.getLogger("shuyu.privacy.node")

KILL_SECONDS = 5.0


class NodeError(Exception):
    """A command's failure with its exit code and a bilingual message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


async def run_side(
    relay: Relay,
    spec: Computation,
    rank: int,
    table: Path,
    link_id: str,
    workdir: Path,
    cancelled: asyncio.Event,
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """Run this node's side of ``spec`` in a worker; its result, or Refused(1 or 2, why)."""
    brpc = _free_port()
    try:
        relay.register(link_id, brpc)
    except ValueError as e:
        raise Refused(2, str(e)) from e
    try:
        forwarder = await relay.forward(link_id)
        own, peer = f"127.0.0.1:{brpc}", f"127.0.0.1:{forwarder}"
        parties = [own, peer] if rank == 0 else [peer, own]
        workdir.mkdir(parents=True, exist_ok=True)
        job = {
            "spec": spec.as_dict(),
            "rank": rank,
            "table": str(table),
            "parties": parties,
            "link_id": link_id,
        }
        (workdir / "job.json").write_text(json.dumps(job, ensure_ascii=False))
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "privacy.worker",
            str(workdir),
            stdout=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
        )
        log.info("link %s: rank %d worker %d started", link_id, rank, proc.pid)

        async def follow() -> None:
            assert proc.stdout is not None
            async for line in proc.stdout:
                try:
                    step = json.loads(line)
                    if progress is not None:
                        progress(str(step["phase"]), float(step["fraction"]))
                except (ValueError, KeyError, TypeError):
                    continue
            await proc.wait()

        following = asyncio.create_task(follow())
        stop = asyncio.create_task(cancelled.wait())
        try:
            await asyncio.wait({following, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not following.done():
                log.warning("link %s: stopping worker %d", link_id, proc.pid)
                following.cancel()
                await _stop(proc)
        if cancelled.is_set() and proc.returncode != 0:
            shutil.rmtree(workdir, ignore_errors=True)
            raise Refused(1, "计算已被中止 / the computation was stopped")
    finally:
        await relay.release(link_id)
    try:
        outcome = json.loads((workdir / "result.json").read_text())
    except (OSError, ValueError):
        outcome = {"error": f"计算进程异常退出 / the worker exited with {proc.returncode}"}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # PSI files hold raw keys: nothing stays
    if "error" in outcome:
        raise Refused(2 if proc.returncode == 2 else 1, outcome["error"])
    log.info("link %s: rank %d finished", link_id, rank)
    return outcome["result"]


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """Terminate a worker, then kill it if it does not go within KILL_SECONDS."""
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(asyncio.shield(proc.wait()), KILL_SECONDS)
    except TimeoutError:
        proc.kill()
        await proc.wait()


# -- party node -------------------------------------------------------------------------------


async def serve(bundle: Bundle, data: Path, state: Path, listen: str, tap: Path | None) -> None:
    """The long-running party node: control and links from the platform node only."""
    creds = bundle.credentials(state / "credentials")
    approvals = Approvals(state, bundle.cert_pem, bundle.key_pem)
    relay = Relay(creds, pki.PLATFORM, bundle.platform_address, tap=Tap(tap, bundle.party_id))
    results = state / "results"

    async def start(spec: Computation, table: Path, link_id: str, cancelled) -> dict:
        workdir = Path(tempfile.mkdtemp(prefix=f"run-{spec.request_id}-", dir=state / "work"))
        result = await run_side(relay, spec, 1, table, link_id, workdir, cancelled)
        results.mkdir(exist_ok=True, mode=0o700)
        (results / f"{spec.request_id}.json").write_text(
            json.dumps({"digest": spec.digest(), "result": result, "at": _now()}, default=str)
        )
        return result

    (state / "work").mkdir(exist_ok=True, mode=0o700)
    relay.control = PartyControl(bundle.party_id, data, approvals, start)
    host, port = await relay.listen(listen)
    log.info("party node %s listening on %s:%d", bundle.party_id, host, port)
    print(f"参与方节点已启动 / party node listening on {host}:{port}", file=sys.stderr, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await relay.close()


# -- platform node ----------------------------------------------------------------------------


def _platform_relay(creds: pki.Credentials, peer: str, party: str, tap: Path | None) -> Relay:
    return Relay(creds, pki.party_identity(party), peer, tap=Tap(tap, "platform"))


async def _call(relay: Relay, message: dict) -> dict:
    try:
        return await call(relay, message)
    except RelayError as e:
        raise NodeError(5, str(e)) from e
    except TimeoutError as e:
        raise NodeError(1, "对端节点没有及时回复 / the peer node did not answer in time") from e
    except Refused as e:
        raise NodeError(e.code, str(e)) from e


async def hello(creds: pki.Credentials, peer: str, party: str) -> dict:
    answer = await _call(_platform_relay(creds, peer, party, None), {"op": "hello"})
    return {"party": answer.get("party"), "tables": answer.get("tables", {})}


async def propose(creds: pki.Credentials, spec: Computation, peer: str, party: str) -> dict:
    relay = _platform_relay(creds, peer, party, None)
    answer = await _call(relay, {"op": "propose", "spec": spec.as_dict()})
    return {"status": answer.get("status"), "signature": answer.get("signature")}


async def _approved(relay: Relay, spec: Computation, wait: float) -> str:
    """Propose until the party approves (or ``wait`` seconds pass); the party's signature."""
    deadline = asyncio.get_running_loop().time() + max(wait, 0.0)
    while True:
        answer = await _call(relay, {"op": "propose", "spec": spec.as_dict()})
        if answer.get("status") == "rejected":
            raise NodeError(4, f"参与方拒绝了请求 {spec.request_id} / the party rejected it")
        if answer.get("status") == "approved":
            return str(answer.get("signature"))
        if asyncio.get_running_loop().time() >= deadline:
            raise NodeError(
                3, f"参与方尚未批准请求 {spec.request_id} / the party has not approved it"
            )
        await asyncio.sleep(1.0)


async def run(
    creds: pki.Credentials,
    spec: Computation,
    public: Path,
    listen: str,
    peer: str,
    party: str,
    out: Path,
    progress: Path | None = None,
    wait_approval: float = 0.0,
    tap: Path | None = None,
) -> dict:
    """The platform's side of one computation; writes and returns ``out/result.json``."""
    if spec.party != party:
        raise NodeError(2, f"计算不属于参与方 / the computation is not for party {party!r}")
    try:
        check(public, spec.public_key, spec.public_columns)
    except TableError as e:
        raise NodeError(2, str(e)) from e
    relay = _platform_relay(creds, peer, party, tap)
    signature = await _approved(relay, spec, wait_approval)
    if not pki.verify(relay.peer_certificate, spec.digest().encode(), signature):
        raise NodeError(3, "参与方的批准签名无效 / the party's approval signature is not valid")

    def report(phase: str, fraction: float) -> None:
        if progress is not None:
            with progress.open("a") as f:
                f.write(json.dumps({"phase": phase, "fraction": fraction, "at": _now()}) + "\n")

    link_id = f"shuyu-{spec.request_id}-{secrets.token_hex(8)}"
    try:
        await relay.listen(listen)
    except OSError as e:
        busy = (
            "（端口被占用：另一项计算正在运行？）/ (the port is in use: is another computation "
            "running?)"
            if e.errno == errno.EADDRINUSE
            else f"({e.strerror})"
        )
        raise NodeError(1, f"无法监听 / cannot listen on {listen} {busy}") from e
    try:
        return await _run_both(relay, spec, public, link_id, out, signature, report)
    finally:
        await relay.close()


async def _party_end(reader: asyncio.StreamReader) -> dict:
    """The party's ``done`` event; ``ok`` is None when its control channel was lost instead."""
    try:
        return await receive(reader, None)
    except (RelayError, OSError, ValueError) as e:
        return {"ok": None, "error": str(e)}


async def _run_both(relay, spec, public, link_id, out, signature, report) -> dict:
    """Ask the party to start its side, run ours; fail if either side fails."""
    try:
        reader, writer = await relay.connect({"channel": "control"})
    except RelayError as e:
        raise NodeError(5, str(e)) from e
    theirs: asyncio.Task | None = None
    try:
        await send(writer, {"op": "run", "spec": spec.as_dict(), "link_id": link_id})
        try:
            first = await receive(reader, 60.0)
        except RelayError as e:
            raise NodeError(5, str(e)) from e
        if first.get("ok") is False:
            raise NodeError(int(first.get("code", 1)), str(first.get("error", "")))
        report("started", 0.0)
        cancelled = asyncio.Event()
        own = asyncio.create_task(
            run_side(relay, spec, 0, public, link_id, out / "work", cancelled, report)
        )
        theirs = asyncio.create_task(_party_end(reader))
        await asyncio.wait({own, theirs}, return_when=asyncio.FIRST_COMPLETED)
        if theirs.done() and not own.done() and not theirs.result().get("ok"):
            cancelled.set()  # the party's side failed or vanished: stop ours
        try:
            result = await own
        except Refused as e:
            party = theirs.result() if theirs.done() else {}
            raise NodeError(e.code, str(party.get("error") or e)) from e
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(theirs), 60.0)
        party = theirs.result() if theirs.done() else {"ok": None, "error": "timeout"}
        if party.get("ok") is False:
            raise NodeError(int(party.get("code", 1)), str(party.get("error", "")))
        if party.get("ok") is None:
            log.warning("the party did not confirm its side: %s", party.get("error"))
    finally:
        if theirs is not None and not theirs.done():
            theirs.cancel()
        writer.close()
    report("done", 1.0)
    record = {"result": result, "signature": signature, "digest": spec.digest()}
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(record, ensure_ascii=False, default=str))
    return record
