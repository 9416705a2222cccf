"""What the nodes' mTLS relays cost SPU: one brpc link and an RR22 PSI, direct and tunnelled.

Run with ``python -m benchmarks.privacy_relay [PSI_KEYS]``. The two relays run here (stdlib
and ``cryptography`` only); the two SPU ranks run as processes of the SPU environment
(``SHUYU_SPU_PYTHON``, else ``.venv-spu``). Everything is on loopback on this machine, so the
numbers are the relays' CPU cost, not a network's.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
from pathlib import Path

from privacy import pki
from privacy.relay import Relay

REPO = Path(__file__).resolve().parent.parent

RANK = r"""
import sys, time
from spu.libspu import link
from spu import psi
rank, a0, a1, n, tmp = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
d = link.Desc(); d.id = "bench"; d.connect_retry_times = 100; d.connect_retry_interval_ms = 100
d.recv_timeout_ms = 300000; d.http_max_payload_size = 64 << 20
d.add_party("0", a0); d.add_party("1", a1)
ctx = link.create_brpc(d, rank)
ctx.barrier()
start = time.perf_counter()
if n == 0:  # 200 MiB each way in 1 MiB messages
    msg = b"x" * (1 << 20)
    for _ in range(200):
        if rank == 0: ctx.send(1, msg); ctx.recv(1)
        else: ctx.recv(0); ctx.send(0, msg)
else:
    lo = 0 if rank == 0 else n // 2
    open(f"{tmp}/in{rank}.csv", "w").write("id\n" + "".join(f"K{i:09d}\n" for i in range(lo, lo + n)))
    cfg = psi.PsiExecuteConfig(
        protocol_conf=psi.PsiProtocolConfig(protocol=psi.PsiProtocol.PROTOCOL_RR22, receiver_rank=0),
        input_params=psi.InputParams(path=f"{tmp}/in{rank}.csv", selected_keys=["id"], keys_unique=True),
        output_params=psi.OutputParams(path=f"{tmp}/out{rank}.csv", disable_alignment=True),
    )
    psi.psi_execute(cfg, ctx)
took = time.perf_counter() - start
ctx.stop_link()
if rank == 0: print(f"TOOK {took:.3f}", flush=True)
"""


def _spu_python() -> str:
    return os.environ.get("SHUYU_SPU_PYTHON") or str(REPO / ".venv-spu/bin/python")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _ranks(tmp: Path, addresses: list[tuple[str, str]], n: int) -> float:
    script = tmp / "rank.py"
    script.write_text(RANK)
    procs = [
        await asyncio.create_subprocess_exec(
            _spu_python(), str(script), str(rank), a0, a1, str(n), str(tmp),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        for rank, (a0, a1) in enumerate(addresses)
    ]  # fmt: skip
    out, _ = await procs[0].communicate()
    await procs[1].wait()
    took = [x for x in out.decode().splitlines() if x.startswith("TOOK ")]
    return float(took[-1].split()[1])


async def _measure(n: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp:
        return await _both(Path(tmp), n)


async def _both(tmp: Path, n: int) -> tuple[float, float]:
    b0, b1 = _port(), _port()
    direct = await _ranks(tmp, [(f"127.0.0.1:{b0}", f"127.0.0.1:{b1}")] * 2, n)
    ca = pki.new_authority()
    platform = pki.Credentials.write(tmp / "a", ca.cert_pem, pki.issue(ca, pki.PLATFORM, "a"))
    party = pki.Credentials.write(
        tmp / "b", ca.cert_pem, pki.issue(ca, pki.party_identity("bench"), "b")
    )
    p0, p1 = _port(), _port()
    r0 = Relay(platform, pki.party_identity("bench"), f"127.0.0.1:{p1}")
    r1 = Relay(party, pki.PLATFORM, f"127.0.0.1:{p0}")
    await r0.listen(f"127.0.0.1:{p0}")
    await r1.listen(f"127.0.0.1:{p1}")
    b0, b1 = _port(), _port()
    r0.register("bench", b0)
    r1.register("bench", b1)
    f0, f1 = await r0.forward("bench"), await r1.forward("bench")
    try:
        tunnelled = await _ranks(
            tmp, [(f"127.0.0.1:{b0}", f"127.0.0.1:{f0}"), (f"127.0.0.1:{f1}", f"127.0.0.1:{b1}")], n
        )
    finally:
        await r0.close()
        await r1.close()
    return direct, tunnelled


def main(psi_keys: int = 1_000_000) -> None:
    direct, tunnelled = asyncio.run(_measure(0))
    print(f"brpc 200 MiB each way: direct {direct:.2f} s, through both relays {tunnelled:.2f} s")
    direct, tunnelled = asyncio.run(_measure(psi_keys))
    print(
        f"RR22 PSI {psi_keys:,} x {psi_keys:,} keys: direct {direct:.2f} s, "
        f"through both relays {tunnelled:.2f} s"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
