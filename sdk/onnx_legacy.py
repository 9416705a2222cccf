"""Legacy ``shuyu-model/1`` JSON models as ``shuyu-onnx/1`` (placeholder)."""

from __future__ import annotations


def from_legacy(spec: dict) -> bytes:
    raise NotImplementedError
