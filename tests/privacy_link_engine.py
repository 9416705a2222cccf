"""A stand-in for ``privacy.compute`` in node tests: a real SPU brpc link, no MPC.

Each side sends its table's raw values to the other over ``spu.libspu.link`` (the very brpc
transport SPU's PSI and runtime use), so the node tests can prove that those bytes cross the
relays both ways, appear in the diagnostic tap, and never on the wire between the nodes. The
node tests copy :mod:`privacy` to a temporary folder and install this file there as
``privacy/compute/__init__.py``; the repository's own engine is never replaced.
"""

from __future__ import annotations

import time


class ComputeError(Exception):
    pass


def run(spec, rank, table, parties, link_id, workdir, progress=None) -> dict:
    from spu.libspu import link

    desc = link.Desc()
    desc.id = link_id
    desc.connect_retry_times = 60
    desc.connect_retry_interval_ms = 200
    desc.recv_timeout_ms = 30_000
    for i, address in enumerate(parties):
        desc.add_party(str(i), address)
    ctx = link.create_brpc(desc, rank)
    if progress:
        progress("link", 0.5)
    own = "|".join(map(str, table.astype(str).itertuples(index=False, name=None)))
    mine = f"rank{rank}:{own}"
    other = 1 - rank
    if rank == 0:
        time.sleep(float(spec.params.get("stub_sleep", 0)))  # a slow computation, for stop tests
        ctx.send(other, mine)
        got = bytes(ctx.recv(other)).decode()
    else:
        got = bytes(ctx.recv(other)).decode()
        ctx.send(other, mine)
    ctx.stop_link()
    if progress:
        progress("link", 1.0)
    return {"sent": len(mine), "received": got}
