"""ONNX export of StressNet and the compressed variants' graph transforms."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

INPUT_NAMES = ["image", "features", "baseline", "has_baseline"]
OPSET = 13
IMAGE_SIZE = 128


def export_float(net: torch.nn.Module, path: str | Path, channels: int, n_features: int) -> None:
    """Exports the softmax graph with a dynamic batch dimension (weights embedded)."""
    net.eval()
    args = (torch.zeros(1, channels, IMAGE_SIZE, IMAGE_SIZE), torch.zeros(1, n_features),
            torch.zeros(1, n_features), torch.zeros(1, 1))
    axes = {n: {0: "batch"} for n in INPUT_NAMES + ["probabilities"]}
    torch.onnx.export(net, args, str(path), input_names=INPUT_NAMES, output_names=["probabilities"],
                      dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    model = onnx.load(str(path))
    used = {i.name for i in model.graph.input}
    if used != set(INPUT_NAMES):
        raise ValueError(f"exported inputs {sorted(used)} != {INPUT_NAMES}")
    model.producer_name = "stressbeat-train"
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def weights_int8(src: str | Path, dst: str | Path, min_size: int = 16) -> None:
    """Stores every float weight tensor of rank >= 2 as int8 (symmetric, per output channel) with
    a DequantizeLinear node in front; activations stay float (tract folds the DQ at load)."""
    model = onnx.load(str(src))
    g = model.graph
    consumers = {}
    for node in g.node:
        for i, name in enumerate(node.input):
            consumers.setdefault(name, []).append((node, i))
    new_inits, new_nodes = [], []
    for init in g.initializer:
        w = numpy_helper.to_array(init)
        uses = consumers.get(init.name, [])
        weight_use = uses and all(n.op_type in ("Conv", "Gemm", "MatMul") and i == 1 for n, i in uses)
        if w.dtype != np.float32 or w.ndim < 2 or w.size < min_size or not weight_use:
            new_inits.append(init)
            continue
        # Conv [out, in, k, k] and Gemm (transB=1) [out, in]: axis 0; MatMul [in, out]: axis 1
        axis = 1 if uses[0][0].op_type == "MatMul" else 0
        if uses[0][0].op_type == "Gemm":
            tb = [a.i for a in uses[0][0].attribute if a.name == "transB"]
            axis = 0 if tb and tb[0] == 1 else 1
        red = tuple(d for d in range(w.ndim) if d != axis)
        scale = np.maximum(np.abs(w).max(axis=red), 1e-12) / 127.0
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        qn, sn, zn = init.name + "_q", init.name + "_scale", init.name + "_zp"
        new_inits += [numpy_helper.from_array(q, qn), numpy_helper.from_array(scale.astype(np.float32), sn),
                      numpy_helper.from_array(np.zeros(len(scale), np.int8), zn)]
        new_nodes.append(helper.make_node("DequantizeLinear", [qn, sn, zn], [init.name], axis=axis,
                                          name=init.name + "_dq"))
    del g.initializer[:]
    g.initializer.extend(new_inits)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(new_nodes + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def ort_session(path: str | Path, threads: int = 1):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_predict(sess, image_u8: np.ndarray | None, features, baseline, has_baseline, channels: int,
                batch: int = 256) -> np.ndarray:
    """Stress probability for each row through onnxruntime (images given as u8 [n,C,128,128])."""
    n = len(features)
    names = {i.name for i in sess.get_inputs()}
    out = []
    for i in range(0, n, batch):
        s = slice(i, i + batch)
        m = min(batch, n - i)
        img = (image_u8[s].astype(np.float32) / 255.0 if image_u8 is not None
               else np.zeros((m, channels, IMAGE_SIZE, IMAGE_SIZE), np.float32))
        feed = {"image": img, "features": features[s].astype(np.float32),
                "baseline": baseline[s].astype(np.float32), "has_baseline": has_baseline[s].astype(np.float32)}
        out.append(sess.run(["probabilities"], {k: v for k, v in feed.items() if k in names})[0][:, 1])
    return np.concatenate(out)
