"""Compression variants of the stress fusion model, each measured by LOSO and by size.

    python compress.py --data DIR --report ../reports/stress_loso.json --method fusion:tachogram \
        --nets /work/datasets/fold-nets --final-float stress_float.onnx \
        --variants-dir /work/datasets/variants --out ../reports/stress_compression.json

Variants: float; int8 weights + float activations (DequantizeLinear on the initializers); QDQ
static quantization (onnxruntime.quantization, calibrated on training rows); structured pruning
(half the conv filters by L1 norm, fine-tuned) in float and with int8 weights; knowledge
distillation into a half-width student, in float and with int8 weights. Per fold the teacher
is the fold's own LOSO model (loso.py --save-nets), so every number is leave-one-subject-out.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import loso
import metrics
import nets
import onnx_export
import stress_data

PRUNE_KEEP = 0.5
FINETUNE_EPOCHS = 8
STUDENT_WIDTH = 4
STUDENT_HIDDEN = 8
KD_T, KD_ALPHA = 2.0, 0.7
VARIANTS = ["float", "int8_weights", "qdq_static", "pruned", "pruned_int8_weights",
            "distilled", "distilled_int8_weights"]


def build_net(data, channels, cfg, **kw):
    args = dict(width=cfg["width"], pool=cfg["pool"], hidden=cfg["hidden"], dropout=cfg["dropout"],
                skip=cfg.get("skip", False), grid=cfg.get("grid", 1), gate=cfg.get("gate", False))
    args.update(kw)
    return nets.StressNet(len(channels), len(data.feature_names), use_image=True, use_features=True, **args)


def prune(net: nets.StressNet, keep: float) -> nets.StressNet:
    """Structured pruning: keeps the filters with the largest L1 norm in every conv layer and
    physically removes the others (smaller tensors, not masks)."""
    convs = net.image.conv_layers()
    kept, prev = [], None
    widths = []
    for c in convs:
        n = max(1, int(round(c.out_channels * keep)))
        idx = torch.argsort(c.weight.detach().abs().sum((1, 2, 3)), descending=True)[:n].sort().values
        kept.append(idx)
        widths.append(n)
    new = nets.StressNet(convs[0].in_channels, len(net.mu), True, net.use_features, pool=net.image.pool,
                         hidden=net.feat[0].out_features, dropout=net.head[0].p, widths=tuple(widths),
                         skip=net.skip, grid=net.image.grid, gate=net.gate)
    new.load_state_dict({k: v for k, v in net.state_dict().items() if not k.startswith(("image.", "head."))},
                        strict=False)
    for i, (c_old, c_new) in enumerate(zip(convs, new.image.conv_layers())):
        w = c_old.weight.detach()[kept[i]]
        if i > 0:
            w = w[:, kept[i - 1]]
        c_new.weight.data.copy_(w)
        c_new.bias.data.copy_(c_old.bias.detach()[kept[i]])
    cells = net.image.grid ** 2  # the embedding is [channel, grid, grid] flattened
    image_cols = (kept[-1][:, None] * cells + torch.arange(cells)[None, :]).reshape(-1)
    cols = torch.cat([image_cols, torch.arange(convs[-1].out_channels * cells, net.head[1].in_features)])
    new.head[1].weight.data.copy_(net.head[1].weight.detach()[:, cols])
    new.head[1].bias.data.copy_(net.head[1].bias.detach())
    return new


def distill(teacher, student, batch_fn, n, val_fn, epochs, lr, class_weight, seed=0, patience=4):
    """Trains the student on KD_ALPHA * KL(teacher || student at KD_T) + (1 - KD_ALPHA) * CE."""
    teacher.eval()
    w = torch.as_tensor(class_weight, dtype=torch.float32)

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(student.parameters(), lr=lr, weight_decay=1e-4)
    val = val_fn() if val_fn else None
    best, best_loss, bad = None, np.inf, 0
    for _ in range(epochs):
        student.train()
        perm = rng.permutation(n)
        for i in range(0, n, 64):
            im, f, b, h, y = batch_fn(perm[i:i + 64], rng)
            with torch.no_grad():
                tl = teacher.logits(im, f, b, h, prepooled=True)
            sl = student.logits(im, f, b, h, prepooled=True)
            loss = (KD_ALPHA * KD_T * KD_T * F.kl_div(F.log_softmax(sl / KD_T, 1), F.softmax(tl / KD_T, 1),
                                                      reduction="batchmean")
                    + (1 - KD_ALPHA) * F.cross_entropy(sl, y, weight=w))
            opt.zero_grad()
            loss.backward()
            opt.step()
        if val is None:
            continue
        student.eval()
        with torch.no_grad():
            vl = F.cross_entropy(student.logits(*val[:4], prepooled=True), val[4], weight=w).item()
        if vl < best_loss - 1e-4:
            best, best_loss, bad = {k: v.clone() for k, v in student.state_dict().items()}, vl, 0
        else:
            bad += 1
            if bad >= patience:
                break
    if best is not None:
        student.load_state_dict(best)
    student.eval()
    return student


def qdq_static(float_path, out_path, calib: list[dict]):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(calib)

        def get_next(self):
            return next(self.it, None)

    quantize_static(str(float_path), str(out_path), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)


def calib_feeds(data, rows, base_rows, pop, channels, n=128, seed=0):
    ci = [data.channels.index(c) for c in channels]
    rng = np.random.default_rng(seed)
    r = rng.choice(rows, min(n, len(rows)), replace=False)
    feeds = []
    for k, w in enumerate(r):
        h = float(k % 2 and np.isfinite(base_rows[w]).all())
        feeds.append({"image": data.images[w:w + 1, ci].astype(np.float32) / 255.0,
                      "features": data.features[w:w + 1],
                      "baseline": (base_rows[w:w + 1] if h else pop[None]).astype(np.float32),
                      "has_baseline": np.full((1, 1), h, np.float32)})
    return feeds


def make_variants(data, channels, cfg, teacher, train_rows, val_rows, base_rows, pop, T, outdir: Path,
                  seed=0) -> dict[str, Path]:
    """Writes every variant of `teacher` as ONNX into outdir; val_rows None = no early stopping."""
    C, Fn = len(channels), len(data.feature_names)
    paths = {v: outdir / f"stress_{v}.onnx" for v in VARIANTS}
    onnx_export.export_float(teacher, paths["float"], C, Fn)
    onnx_export.weights_int8(paths["float"], paths["int8_weights"])
    qdq_static(paths["float"], paths["qdq_static"], calib_feeds(data, train_rows, base_rows, pop, channels, seed=seed))
    cw = loso.class_weight(data.label[train_rows])
    bfn = loso.batches(T, train_rows, base_rows, pop, "random")
    vfn = (lambda: loso.val_both(T, val_rows, base_rows, pop)) if val_rows is not None else None
    pruned = prune(teacher, PRUNE_KEEP)
    pruned, _ = nets.train(pruned, bfn, len(train_rows), vfn, epochs=FINETUNE_EPOCHS, lr=cfg["lr"] / 3,
                           seed=seed, class_weight=cw, patience=cfg["patience"])
    onnx_export.export_float(pruned, paths["pruned"], C, Fn)
    onnx_export.weights_int8(paths["pruned"], paths["pruned_int8_weights"])
    student = build_net(data, channels, cfg, width=STUDENT_WIDTH, hidden=STUDENT_HIDDEN)
    student.load_state_dict({k: v for k, v in teacher.state_dict().items() if k in ("mu", "sd", "sd_rel")},
                            strict=False)
    epochs = cfg["epochs"] if val_rows is not None else cfg.get("final_epochs", cfg["epochs"])
    student = distill(teacher, student, bfn, len(train_rows), vfn, epochs, cfg["lr"], cw, seed=seed,
                      patience=cfg["patience"])
    onnx_export.export_float(student, paths["distilled"], C, Fn)
    onnx_export.weights_int8(paths["distilled"], paths["distilled_int8_weights"])
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--method", required=True)
    ap.add_argument("--nets", required=True, help="per-fold state dicts from loso.py --save-nets")
    ap.add_argument("--final-float", default="", help="state dict (.pt) of the final model (train_final --save-state)")
    ap.add_argument("--variants-dir", default="", help="write the final model's variants here")
    ap.add_argument("--out", required=True)
    ap.add_argument("--folds", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = stress_data.load(args.data)
    rep = json.loads(Path(args.report).read_text())
    cfg = rep["methods"][args.method]["cfg"]
    channels = [c for c in args.method.partition(":")[2].split("+") if c]
    ci = [data.channels.index(c) for c in channels]
    base_rows = data.baseline_rows(data.personal_baselines())
    T = loso.Tensors(data, channels, cfg["pool"])
    subjects = data.subjects[: args.folds] if args.folds else data.subjects
    scores = {v: ([], []) for v in VARIANTS}
    rows_all = []
    for s in subjects:
        fold = loso.Fold(data, int(s))
        st = torch.load(Path(args.nets) / f"{args.method.replace(':', '_')}_s{int(s):02d}.pt")
        teacher = build_net(data, channels, cfg)
        teacher.load_state_dict(st["state"])
        teacher.eval()
        with tempfile.TemporaryDirectory() as tmp:
            paths = make_variants(data, channels, cfg, teacher, fold.train_inner, fold.val, base_rows,
                                  fold.population_baseline, T, Path(tmp), seed=int(s))
            t = fold.test_rows
            pop = np.broadcast_to(fold.population_baseline, data.features[t].shape)
            for v, p in paths.items():
                sess = onnx_export.ort_session(p)
                p0 = onnx_export.ort_predict(sess, data.images[t][:, ci], data.features[t], pop,
                                             np.zeros((len(t), 1)), len(ci))
                ok = np.isfinite(base_rows[t]).all(1)
                p1 = onnx_export.ort_predict(sess, data.images[t][:, ci], data.features[t],
                                             np.where(ok[:, None], base_rows[t], pop), ok[:, None], len(ci))
                scores[v][0].append(p0)
                scores[v][1].append(p1)
        rows_all.append(fold.test_rows)
        print(f"subject {int(s):02d}: " + " ".join(
            f"{v}={np.mean((scores[v][1][-1] > 0.5) == data.label[fold.test_rows]):.2f}" for v in VARIANTS), flush=True)
    rows = np.concatenate(rows_all)
    y, subj = data.label[rows], data.subject[rows]
    out = {"method": args.method, "prune_keep": PRUNE_KEEP, "student_width": STUDENT_WIDTH,
           "subjects": int(len(subjects)), "variants": {}}
    for v in VARIANTS:
        s0, s1 = np.concatenate(scores[v][0]), np.concatenate(scores[v][1])
        out["variants"][v] = {"without_baseline": metrics.summarize(y, s0, (s0 > 0.5).astype(int), subj),
                              "with_baseline": metrics.summarize(y, s1, (s1 > 0.5).astype(int), subj)}
    if args.variants_dir and args.final_float:
        vd = Path(args.variants_dir)
        vd.mkdir(parents=True, exist_ok=True)
        st = torch.load(args.final_float)
        teacher = build_net(data, channels, cfg)
        teacher.load_state_dict(st["state"])
        teacher.eval()
        rows_f = np.flatnonzero(data.eval_mask())
        pop = np.asarray(st["population_baseline"], np.float32)
        paths = make_variants(data, channels, {**cfg, "final_epochs": st["epochs"]}, teacher, rows_f, None,
                              base_rows, pop, T, vd)
        for v, p in paths.items():
            out["variants"][v]["file"] = p.name
            out["variants"][v]["size_bytes"] = p.stat().st_size
    Path(args.out).write_text(json.dumps(out, indent=1))
    for v, r in out["variants"].items():
        print(f"{v:24s} size {r.get('size_bytes', '-')!s:>7} without {r['without_baseline']['balanced_accuracy']:.3f}/"
              f"{r['without_baseline']['auc']:.3f} with {r['with_baseline']['balanced_accuracy']:.3f}/{r['with_baseline']['auc']:.3f}")


if __name__ == "__main__":
    main()
