"""Schemathesis hooks of the gateway's conformance test: the files the gateway takes (Parquet,
tar) go on the wire as the bytes generated for them."""

from __future__ import annotations

import schemathesis
from schemathesis.transport.serialization import serialize_binary


@schemathesis.serializer("application/vnd.apache.parquet", "application/x-tar")
def opaque_file(ctx, value) -> bytes:
    return serialize_binary(value)
