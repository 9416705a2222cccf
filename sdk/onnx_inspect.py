"""What a reviewer reads off a checked ONNX graph: trees and their depth, categories, class labels.

The graph has passed :func:`sdk.onnx_format.check`, but its tree arrays are still tenant data:
the walks here are iterative and stop at cycles instead of trusting the structure.
"""

from __future__ import annotations

from collections import defaultdict

import onnx
from onnx import TensorProto, numpy_helper

from sdk.onnx_rules import CLASSIFIERS

_PASS_THROUGH = ("Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten")


def _attrs(node: onnx.NodeProto) -> dict[str, onnx.AttributeProto]:
    return {a.name: a for a in node.attribute}


def _depth(children: dict[int, tuple[int, ...]], root: int) -> int:
    """Edges on the longest path from ``root`` (cycles are cut where they close)."""
    deepest, stack, seen = 0, [(root, 0)], set()
    while stack:
        node, depth = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children.get(node, ()))
    return deepest


def _classic(attrs: dict[str, onnx.AttributeProto]) -> tuple[int, int]:
    """TreeEnsembleClassifier/Regressor (ai.onnx.ml 1–3): parallel arrays keyed by tree id."""
    tree_ids, node_ids = list(attrs["nodes_treeids"].ints), list(attrs["nodes_nodeids"].ints)
    modes = [m.decode() for m in attrs["nodes_modes"].strings] if "nodes_modes" in attrs else []
    true_ids = list(attrs["nodes_truenodeids"].ints) if "nodes_truenodeids" in attrs else []
    false_ids = list(attrs["nodes_falsenodeids"].ints) if "nodes_falsenodeids" in attrs else []
    children: dict[int, dict[int, tuple[int, ...]]] = defaultdict(dict)
    nodes: dict[int, set[int]] = defaultdict(set)
    for i, (tree, node) in enumerate(zip(tree_ids, node_ids, strict=False)):
        nodes[tree].add(node)
        if i < len(modes) and modes[i] != "LEAF" and i < len(true_ids) and i < len(false_ids):
            children[tree][node] = (true_ids[i], false_ids[i])
    depth = 0
    for tree, members in nodes.items():
        reached = {c for pair in children[tree].values() for c in pair}
        for root in sorted(members - reached) or sorted(members)[:1]:
            depth = max(depth, _depth(children[tree], root))
    return len(nodes), depth


def _v5(attrs: dict[str, onnx.AttributeProto]) -> tuple[int, int]:
    """TreeEnsemble (ai.onnx.ml 5): node arrays by position, with leaf flags per branch."""
    roots = list(attrs["tree_roots"].ints) if "tree_roots" in attrs else []
    true_ids = list(attrs["nodes_truenodeids"].ints) if "nodes_truenodeids" in attrs else []
    false_ids = list(attrs["nodes_falsenodeids"].ints) if "nodes_falsenodeids" in attrs else []
    true_leaf = list(attrs["nodes_trueleafs"].ints) if "nodes_trueleafs" in attrs else []
    false_leaf = list(attrs["nodes_falseleafs"].ints) if "nodes_falseleafs" in attrs else []
    children: dict[int, tuple[int, ...]] = {}
    leaves = len(true_ids) + 1  # leaf children get ids no node has, so each adds one level
    for i in range(min(len(true_ids), len(false_ids), len(true_leaf), len(false_leaf))):
        pair = []
        for child, leaf in ((true_ids[i], true_leaf[i]), (false_ids[i], false_leaf[i])):
            pair.append(leaves + i if leaf else child)
        children[i] = tuple(pair)
    depth = max((_depth(children, r) for r in roots), default=0)
    return len(roots), depth


def trees(graph: onnx.GraphProto) -> tuple[int, int]:
    """The number of trees in the graph's ensembles and the deepest tree's depth (0, 0 if none)."""
    count = depth = 0
    for node in graph.node:
        attrs = _attrs(node)
        if node.op_type in ("TreeEnsembleClassifier", "TreeEnsembleRegressor"):
            n, d = _classic(attrs) if "nodes_treeids" in attrs else (0, 0)
        elif node.op_type == "TreeEnsemble":
            n, d = _v5(attrs)
        else:
            continue
        count, depth = count + n, max(depth, d)
    return count, depth


def _index(graph: onnx.GraphProto, name: str) -> int | None:
    """The value of a one-element integer constant (an initializer or a Constant node)."""
    tensors = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output and node.output[0] == name:
            tensors.update((name, a.t) for a in node.attribute if a.name == "value")
    tensor = tensors.get(name)
    if tensor is None or tensor.data_type not in (TensorProto.INT64, TensorProto.INT32):
        return None
    values = numpy_helper.to_array(tensor).ravel()
    return int(values[0]) if values.size == 1 else None


def _source(graph: onnx.GraphProto, name: str) -> str:
    """The graph input a value is a reshape (or one column) of, or the value's own name."""
    producers = {out: node for node in graph.node for out in node.output}
    inputs = {v.name for v in graph.input}
    seen = set()
    while name in producers and name not in seen:
        seen.add(name)
        node = producers[name]
        if node.op_type in _PASS_THROUGH and node.input:
            name = node.input[0]
            continue
        if node.op_type not in ("Gather", "ArrayFeatureExtractor") or len(node.input) != 2:
            break
        column, data = _index(graph, node.input[1]), node.input[0]
        concat = producers.get(data)
        if concat is not None and concat.op_type == "Concat" and column is not None:
            if not 0 <= column < len(concat.input):
                break
            name = concat.input[column]  # skl2onnx concatenates [N, 1] text inputs
        elif data in inputs and column == 0:
            name = data
        else:
            break
    return name


def categories(graph: onnx.GraphProto, missing: str) -> dict[str, list[str]]:
    """Feature (or value) → the text categories of its OneHotEncoders and LabelEncoder keys."""
    out: dict[str, dict[str, None]] = defaultdict(dict)
    for node in graph.node:
        if node.op_type not in ("OneHotEncoder", "LabelEncoder") or not node.input:
            continue
        attrs = _attrs(node)
        labels: list[str] = []
        for name in ("cats_strings", "keys_strings"):
            if name in attrs:
                labels.extend(s.decode("utf-8") for s in attrs[name].strings)
        keys = attrs.get("keys_tensor")
        if keys is not None and keys.t.data_type == TensorProto.STRING:
            labels.extend(s.decode("utf-8") for s in keys.t.string_data)
        if labels:
            feature = _source(graph, node.input[0])
            out[feature].update(dict.fromkeys(x for x in labels if x != missing))
    return {feature: list(labels) for feature, labels in out.items()}


def class_labels(graph: onnx.GraphProto) -> list[str]:
    """The first classifier's labels as text (the positive class last); [] without one."""
    for node in graph.node:
        if node.op_type in CLASSIFIERS:
            attrs = _attrs(node)
            if "classlabels_strings" in attrs:
                return [s.decode("utf-8") for s in attrs["classlabels_strings"].strings]
            for name in ("classlabels_int64s", "classlabels_ints"):
                if name in attrs:
                    return [str(i) for i in attrs[name].ints]
            return []
    return []
