"""ONNX export, int8-weight quantization (DequantizeLinear on int8 initializers) and onnxruntime scoring."""

import hashlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import helper, numpy_helper

from .data import BeatSet
from .model import BeatNet

OPSET = 13
# Smaller weight tensors (the rhythm stage's 7 weights) stay float: int8 would save a few bytes.
MIN_QUANTIZED_WEIGHTS = 64


def export_float(model: BeatNet, length: int, n_rr: int, path: str) -> None:
    """Exports `model` (eval mode, BatchNorm folded) with a dynamic batch axis."""
    model.eval()
    beat = torch.zeros(2, model.channels, length)
    rr = torch.ones(2, n_rr)
    torch.onnx.export(model, (beat, rr), path, input_names=["beat", "rr"], output_names=["probabilities"],
                      dynamic_axes={"beat": {0: "batch"}, "rr": {0: "batch"}, "probabilities": {0: "batch"}},
                      opset_version=OPSET, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))


def _weight_axis(node: onnx.NodeProto) -> int | None:
    """Output-channel axis of the weight (input 1) of a Conv/Gemm/MatMul node, None if not one."""
    if node.op_type == "Conv":
        return 0
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1
    if node.op_type == "MatMul":
        return 1
    return None


def quantize_weights_int8(src: str, dst: str) -> int:
    """Stores Conv/Gemm/MatMul weights as symmetric per-channel int8 + DequantizeLinear.

    Activations stay float; a runtime folds the dequantization into float weights at load.
    Returns the number of quantized tensors.
    """
    model = onnx.load(src)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    new_nodes = []
    done = 0
    for node in graph.node:
        axis = _weight_axis(node)
        if axis is None or len(node.input) < 2 or node.input[1] not in inits:
            continue
        name = node.input[1]
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        if w.ndim < 2 or w.size < MIN_QUANTIZED_WEIGHTS:
            continue
        reduce = tuple(i for i in range(w.ndim) if i != axis)
        scale = np.abs(w).max(axis=reduce) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        graph.initializer.remove(inits[name])
        graph.initializer.extend([
            numpy_helper.from_array(q, f"{name}_int8"),
            numpy_helper.from_array(scale, f"{name}_scale"),
            numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), f"{name}_zero"),
        ])
        new_nodes.append(helper.make_node("DequantizeLinear", [f"{name}_int8", f"{name}_scale", f"{name}_zero"],
                                          [name], name=f"{name}_dequantize", axis=axis))
        done += 1
    nodes = new_nodes + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    return done


def ort_session(path: str) -> ort.InferenceSession:
    """Single-threaded CPU session."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def ort_probabilities(path: str, data: BeatSet, batch: int = 4096) -> np.ndarray:
    """Probabilities from the ONNX file for every row of `data`."""
    sess = ort_session(path)
    out = [sess.run(["probabilities"], {"beat": data.beats[i:i + batch], "rr": data.rr[i:i + batch]})[0]
           for i in range(0, len(data.labels), batch)]
    return np.concatenate(out)


def sha256(path: str) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
