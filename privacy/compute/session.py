"""One node's end of the MPC: the brpc link to the peer and an SPU runtime over it.

SPU's own simulator runs every party in one process; here each node runs only its own slice
(:class:`spu.Runtime`) and the two slices talk over a real brpc link. Inputs are secret-shared by
their owner (:meth:`Session.share`): the owner keeps one share and sends the other over the link,
so neither node ever holds the other's plaintext. Outputs are revealed to rank 0 only
(:meth:`Session.reveal`): rank 1 sends its share of each output, never receives rank 0's.

Protocol: CHEETAH, SPU's 2-party protocol (Huang et al., USENIX Security 2022): multiplication
and comparison run on oblivious transfer and lattice HE between the two nodes themselves, with no
dealer. SEMI2K's default beaver source is ``TrustedFirstParty`` — rank 0 would deal every triple
and could unmask every product — so it is not used.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np
import spu
import spu.libspu as libspu
from spu.utils import frontend

from privacy.compute.errors import ComputeError

# Programs are traced in float64 so they match the shares made from float64 columns (SPU holds
# both as fixed point; a float32 program on float64 shares fails on mixed dtypes).
jax.config.update("jax_enable_x64", True)

WORLD = 2
PUBLIC_RANK = 0


def runtime_config(field_type: str = "FM64", fraction_bits: int = 18) -> libspu.RuntimeConfig:
    config = libspu.RuntimeConfig(
        protocol=libspu.ProtocolKind.CHEETAH,
        field=spu.parse_field_type(field_type),
        fxp_fraction_bits=fraction_bits,
    )
    return config


def open_link(
    parties: Sequence[str], rank: int, link_id: str, timeout_s: float = 600.0
) -> libspu.link.Context:
    """A brpc link: listen on ``parties[rank]``, reach the peer at ``parties[1 - rank]``."""
    desc = libspu.link.Desc()
    desc.id = link_id
    desc.recv_timeout_ms = int(timeout_s * 1000)
    desc.http_timeout_ms = int(timeout_s * 1000)
    desc.connect_retry_times = 120
    desc.connect_retry_interval_ms = 500
    desc.http_max_payload_size = 32 * 1024 * 1024
    for r, address in enumerate(parties):
        desc.add_party(f"rank{r}", address)
    try:
        return libspu.link.create_brpc(desc, rank)
    except Exception as e:  # brpc raises RuntimeError with its own text
        raise ComputeError(f"无法连接对方节点 / cannot reach the peer node: {e}") from e


def _pack(chunks: Sequence[bytes]) -> bytes:
    out = [struct.pack("<I", len(chunks))]
    for chunk in chunks:
        out.append(struct.pack("<Q", len(chunk)))
        out.append(chunk)
    return b"".join(out)


def _unpack(data: bytes) -> list[bytes]:
    (count,) = struct.unpack_from("<I", data, 0)
    offset, chunks = 4, []
    for _ in range(count):
        (size,) = struct.unpack_from("<Q", data, offset)
        offset += 8
        chunks.append(bytes(data[offset : offset + size]))
        offset += size
    return chunks


def _share_bytes(share: libspu.Share) -> bytes:
    return _pack([share.meta, *share.share_chunks])


def _share_from(data: bytes) -> libspu.Share:
    parts = _unpack(data)
    share = libspu.Share()
    share.meta = parts[0]
    share.share_chunks = parts[1:]
    return share


@dataclass
class Session:
    """This node's slice of a 2-party SPU device over ``link``."""

    link: libspu.link.Context
    config: libspu.RuntimeConfig = field(default_factory=runtime_config)
    bytes_sent: int = 0

    def __post_init__(self) -> None:
        self.rank = self.link.rank
        self.runtime = spu.Runtime(self.link, self.config)
        self.io = spu.Io(WORLD, self.config)
        self._counter = 0

    # --- plain messages -------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.bytes_sent += len(data)
        self.link.send(1 - self.rank, data)

    def recv(self) -> bytes:
        return bytes(self.link.recv(1 - self.rank))

    def exchange(self, data: bytes) -> bytes:
        """Rank 0 sends first; both get the other's bytes (a small agreed value, never a secret)."""
        if self.rank == 0:
            self.send(data)
            return self.recv()
        other = self.recv()
        self.send(data)
        return other

    # --- secret inputs --------------------------------------------------------------------
    def share(self, owner: int, value: np.ndarray | None, name: str) -> str:
        """Secret-share ``value`` (given only at ``owner``) under ``name`` on both slices."""
        if self.rank == owner:
            assert value is not None
            shares = self.io.make_shares(np.ascontiguousarray(value), libspu.Visibility.VIS_SECRET)
            self.send(_share_bytes(shares[1 - self.rank]))
            self.runtime.set_var(name, shares[self.rank])
            del shares
        else:
            self.runtime.set_var(name, _share_from(self.recv()))
        return name

    # --- programs -------------------------------------------------------------------------
    def run(
        self, fn: Callable[..., Any], inputs: Sequence[str], examples: Sequence[Any]
    ) -> tuple[list[str], Any]:
        """Compile ``fn`` and run it on the secret variables ``inputs``.

        Both nodes compile the same function on placeholder arrays of the agreed shapes
        (``examples``: shapes and dtypes only), so neither needs the other's data to build the
        program. Returns the output variable names and the output's tree structure.
        """
        self._counter += 1
        prefix = f"p{self._counter}"
        executable, output = frontend.compile(
            frontend.Kind.JAX,
            fn,
            list(examples),
            {},
            list(inputs),
            [libspu.Visibility.VIS_SECRET] * len(inputs),
            lambda outs: [f"{prefix}_out{i}" for i in range(len(outs))],
        )
        self.runtime.run(executable)
        return list(executable.output_names), output

    def reveal(self, names: Sequence[str]) -> list[np.ndarray] | None:
        """Open outputs to rank 0 only: rank 1 sends its shares and returns ``None``."""
        if self.rank == PUBLIC_RANK:
            mine = [self.runtime.get_var(n) for n in names]
            theirs = [_share_from(c) for c in _unpack(self.recv())]
            return [self.io.reconstruct([a, b]) for a, b in zip(mine, theirs, strict=True)]
        self.send(_pack([_share_bytes(self.runtime.get_var(n)) for n in names]))
        return None

    def drop(self, names: Sequence[str]) -> None:
        for n in names:
            self.runtime.del_var(n)
