"""Leave-one-subject-out comparison of stress models, each without and with a personal baseline.

    python loso.py --data DIR --out ../reports/stress_loso.json [--methods hr_rule,hrv_lr,...]

Every statistic (standardisation, thresholds, weights, early stopping) is fit on the training
subjects of the fold only; 4 of them are held out inside the fold for early stopping and for the
calibration of image-only models' baseline offset. Both settings are scored on the same windows.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import GroupKFold

import metrics
import nets
import stress_data

N_VAL_SUBJECTS = 4
HR = "hr_bpm"


class Fold:
    """Rows and statistics of one LOSO fold (training statistics only)."""

    def __init__(self, data: stress_data.StressData, test_subject: int, seed: int = 0):
        self.data, self.test = data, test_subject
        others = np.array([s for s in data.subjects if s != test_subject])
        rng = np.random.default_rng(1000 + test_subject + seed)
        self.val_subjects = rng.choice(others, N_VAL_SUBJECTS, replace=False)
        self.train_subjects = np.setdiff1d(others, self.val_subjects)
        # train on the same kind of windows as are scored (not the baseline span itself, whose
        # features are part of the baseline mean and so sit artificially close to it)
        ok = data.eval_mask()
        self.train_all = np.flatnonzero(ok & np.isin(data.subject, others))
        self.train_inner = np.flatnonzero(ok & np.isin(data.subject, self.train_subjects))
        self.val = np.flatnonzero(ok & np.isin(data.subject, self.val_subjects))
        self.test_rows = np.flatnonzero(data.eval_mask() & (data.subject == test_subject))
        rest = ok & np.isin(data.subject, others) & (data.recording == stress_data.REST)  # scored rest windows
        self.population_baseline = data.features[rest].mean(0)


def standardisation(x: np.ndarray, b: np.ndarray):
    """Mean/SD of raw features and SD of baseline-relative features (training rows)."""
    sd = x.std(0)
    sd_rel = (x - b).std(0)
    return x.mean(0), np.where(sd > 1e-9, sd, 1.0), np.where(sd_rel > 1e-9, sd_rel, 1.0)


def class_weight(y: np.ndarray) -> list[float]:
    n = len(y)
    return [n / (2.0 * max(np.sum(y == c), 1)) for c in (0, 1)]


# ---------------------------------------------------------------- classical baselines

def run_hr_rule(data, fold, base_rows):
    j = data.feature_names.index(HR)
    hr = data.features[:, j]
    tr = np.intersect1d(fold.train_all, np.flatnonzero(data.eval_mask()))
    thr = metrics.best_threshold(data.label[tr], hr[tr])
    t = fold.test_rows
    s_without = hr[t] - thr
    s_with = hr[t] - base_rows[t, j]
    return s_without, s_without > 0, s_with, s_with > 0, {"threshold_bpm": thr}


LR_C = [0.01, 0.1, 1.0]


def fit_lr(x, y, groups):
    """Balanced logistic regression on standardised x; C chosen by 4-fold cross-validation over
    the groups (subjects) given, i.e. inside the training subjects only."""
    mu, sd = x.mean(0), x.std(0)
    sd = np.where(sd > 1e-9, sd, 1.0)
    cv = list(GroupKFold(4).split(x, y, groups))
    m = LogisticRegressionCV(Cs=LR_C, cv=cv, class_weight="balanced", scoring="roc_auc", max_iter=2000)
    m.fit((x - mu) / sd, y)
    return {"mean": mu, "std": sd, "coef": m.coef_[0], "intercept": float(m.intercept_[0]), "C": float(m.C_[0])}


def eval_lr(m, x):
    return ((x - m["mean"]) / m["std"]) @ m["coef"] + m["intercept"]


def _lr(x_train, y, x_test, groups):
    m = fit_lr(x_train, y, groups)
    return eval_lr(m, x_test), m


def run_hrv_lr(data, fold, base_rows):
    """Per-setting logistic regression: raw features without, features minus baseline with."""
    x, y, tr, t, g = data.features, data.label, fold.train_all, fold.test_rows, data.subject[fold.train_all]
    s0, m0 = _lr(x[tr], y[tr], x[t], g)
    tb = tr[np.isfinite(base_rows[tr]).all(1)]  # training subjects with a personal baseline
    s1, m1 = _lr(x[tb] - base_rows[tb], y[tb], x[t] - base_rows[t], data.subject[tb])
    return s0, s0 > 0, s1, s1 > 0, {"C_without": m0["C"], "C_with": m1["C"]}


def fallback_design(x, b):
    """The shipped fallback's inputs: raw features then baseline-relative ones."""
    return np.concatenate([x, x - b], 1)


def fit_fallback(x, b_personal, b_population, y, groups):
    """One logistic regression for both settings: every row once with each baseline (the
    population one where a subject has no personal baseline)."""
    b_personal = np.where(np.isfinite(b_personal), b_personal, b_population)
    xx = np.concatenate([fallback_design(x, b_personal), fallback_design(x, np.broadcast_to(b_population, x.shape))])
    return fit_lr(xx, np.concatenate([y, y]), np.concatenate([groups, groups]))


def eval_fallback(fb, x, b):
    return eval_lr(fb, fallback_design(x, b))


def run_hrv_fallback(data, fold, base_rows):
    tr, t = fold.train_all, fold.test_rows
    fb = fit_fallback(data.features[tr], base_rows[tr], fold.population_baseline, data.label[tr], data.subject[tr])
    s0 = eval_fallback(fb, data.features[t], np.broadcast_to(fold.population_baseline, data.features[t].shape))
    s1 = eval_fallback(fb, data.features[t], base_rows[t])
    return s0, s0 > 0, s1, s1 > 0, {"C": fb["C"]}


# ---------------------------------------------------------------- neural models

class Tensors:
    """Prepooled images and features of the whole dataset as tensors."""

    def __init__(self, data, channels: list[str] | None, pool: int):
        self.images = None
        if channels:
            ci = [data.channels.index(c) for c in channels]
            self.images = nets.pool_images(data.images[:, ci], pool)
        self.features = torch.from_numpy(np.nan_to_num(data.features).astype(np.float32))
        self.y = torch.from_numpy(data.label)


def make_net(data, channels, cfg, use_features, fold, base_rows):
    net = nets.StressNet(len(channels or []), len(data.feature_names), use_image=bool(channels),
                         use_features=use_features, width=cfg["width"], pool=cfg["pool"],
                         hidden=cfg["hidden"], dropout=cfg["dropout"], skip=cfg.get("skip", False),
                         grid=cfg.get("grid", 1), gate=cfg.get("gate", False))
    tr = fold.train_inner
    net.set_standardisation(*standardisation(data.features[tr], base_rows[tr]))
    return net


def batches(T: Tensors, rows, base_rows, pop, mode: str):
    """batch_fn for nets.train. mode: 'random' baseline per row, 'with', 'without'."""
    pop_t = torch.from_numpy(pop.astype(np.float32))
    base_t = torch.from_numpy(np.nan_to_num(base_rows).astype(np.float32))
    personal = torch.from_numpy(np.isfinite(base_rows).all(1).astype(np.float32))[:, None]

    def fn(idx, rng=None):
        r = rows[idx]
        if mode == "random":
            h = torch.from_numpy((rng.random(len(r)) < 0.5).astype(np.float32))[:, None]
        else:
            h = torch.full((len(r), 1), 1.0 if mode == "with" else 0.0)
        h = h * personal[r]  # a subject without a personal baseline gets the population one
        b = h * base_t[r] + (1 - h) * pop_t
        im = T.images[r] if T.images is not None else None
        return im, T.features[r], b, h, T.y[r]
    return fn


def val_both(T, rows, base_rows, pop):
    """Validation set: every row once without and once with its baseline."""
    a = batches(T, rows, base_rows, pop, "without")(np.arange(len(rows)))
    b = batches(T, rows, base_rows, pop, "with")(np.arange(len(rows)))
    return tuple(torch.cat([u, v]) if u is not None else None for u, v in zip(a, b))


def run_net(data, fold, base_rows, T, channels, cfg, use_features, seed=0):
    """Fusion / feature / window-image net. Image-only nets use the baseline as a logit offset."""
    net = make_net(data, channels, cfg, use_features, fold, base_rows)
    tr, va = fold.train_inner, fold.val
    mode = "random" if use_features else "without"
    net, info = nets.train(net, batches(T, tr, base_rows, fold.population_baseline, mode), len(tr),
                           lambda: val_both(T, va, base_rows, fold.population_baseline),
                           epochs=cfg["epochs"], lr=cfg["lr"], seed=seed,
                           class_weight=class_weight(data.label[tr]), patience=cfg["patience"],
                           min_epochs=cfg.get("min_epochs", 1))

    def logit(rows, mode):
        im, f, b, h, _ = batches(T, rows, base_rows, fold.population_baseline, mode)(np.arange(len(rows)))
        return nets.predict_logit(net, im, f, b, h)

    t = fold.test_rows
    if use_features and cfg.get("calibrate", False):
        # the operating point of each setting: the best balanced accuracy on the validation subjects
        off = [metrics.best_threshold(data.label[va], logit(va, m)) for m in ("without", "with")]
        net.offset.copy_(torch.tensor(off, dtype=torch.float32))
        info["offset"] = off
    s0 = logit(t, "without")
    if use_features:
        s1 = logit(t, "with")
        return s0, s0 > 0, s1, s1 > 0, {**info, "net": net}
    s1, thr = baseline_offset(data, fold, lambda rows: logit(rows, "without"))
    return s0, s0 > 0, s1, s1 > thr, {**info, "offset": thr, "net": net}


def baseline_offset(data, fold, logit_fn):
    """Image-only models with a baseline: logit minus the mean logit of the subject's baseline
    windows; the decision offset is chosen on the fold's validation subjects."""
    bm = data.baseline_mask()

    def shifted(subject_rows, subject):
        ref = logit_fn(np.flatnonzero(bm & (data.subject == subject)))
        return logit_fn(subject_rows) - (ref.mean() if len(ref) else 0.0)

    em = data.eval_mask()
    vs, vy = [], []
    for s in fold.val_subjects:
        r = np.flatnonzero(em & (data.subject == s))
        vs.append(shifted(r, s))
        vy.append(data.label[r])
    thr = metrics.best_threshold(np.concatenate(vy), np.concatenate(vs))
    return shifted(fold.test_rows, fold.test), thr


def run_beat_cnn(data, fold, base_rows, BT, cfg, seed=0):
    """The paper's single-beat image CNN: per-beat probability, averaged per window."""
    bw = BT["beats_of_window"]
    net = nets.StressNet(1, len(data.feature_names), use_image=True, use_features=False,
                         width=cfg["width"], pool=cfg["pool"], hidden=cfg["hidden"], dropout=cfg["dropout"],
                         grid=cfg.get("grid", 1))
    ok_beat = BT["in_scorable"]
    tr = np.flatnonzero(ok_beat & np.isin(data.beat_subject, fold.train_subjects))
    va = np.flatnonzero(ok_beat & np.isin(data.beat_subject, fold.val_subjects))
    rng0 = np.random.default_rng(seed)
    va = rng0.choice(va, min(len(va), 1500), replace=False)
    y = torch.from_numpy(data.beat_label)
    F = len(data.feature_names)

    def fn(idx, rng=None, rows=None):
        r = rows[idx]
        z = torch.zeros(len(r), F)
        return BT["images"][r], z, z, torch.zeros(len(r), 1), y[r]

    per_epoch = min(len(tr), cfg.get("beats_per_epoch", 3000))
    sub = rng0.choice(tr, per_epoch, replace=False)
    net, info = nets.train(net, lambda idx, rng: fn(idx, rng, sub), per_epoch,
                           lambda: fn(np.arange(len(va)), None, va), epochs=cfg["epochs"], lr=cfg["lr"],
                           seed=seed, class_weight=class_weight(data.beat_label[tr]), patience=cfg["patience"],
                           min_epochs=cfg.get("min_epochs", 1))

    def window_logit(rows):
        out = np.zeros(len(rows))
        for k, w in enumerate(rows):
            b = bw[w]
            if len(b) == 0:
                continue
            im, f, bb, h, _ = fn(np.arange(len(b)), None, b)
            p = 1 / (1 + np.exp(-nets.predict_logit(net, im, f, bb, h)))
            pm = np.clip(p.mean(), 1e-6, 1 - 1e-6)
            out[k] = np.log(pm / (1 - pm))
        return out

    s0 = window_logit(fold.test_rows)
    s1, thr = baseline_offset(data, fold, window_logit)
    return s0, s0 > 0, s1, s1 > thr, {**info, "offset": thr}


DEFAULT_CFG = {"width": 8, "pool": 4, "hidden": 16, "dropout": 0.2, "epochs": 25, "lr": 3e-3,
               "patience": 4}


def parse_methods(spec: str, data) -> list[tuple[str, dict]]:
    """'hr_rule,hrv_lr,hrv_fallback,beat_cnn,img:tachogram+poincare,fusion:tachogram,features_mlp'."""
    out = []
    for m in spec.split(","):
        name, _, arg = m.partition(":")
        out.append((m, {"kind": name, "channels": [c for c in arg.split("+") if c]}))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True, help="JSON report")
    ap.add_argument("--methods", default="hr_rule,hrv_lr,hrv_fallback")
    ap.add_argument("--cfg", default="{}", help="JSON overrides of DEFAULT_CFG")
    ap.add_argument("--folds", type=int, default=0, help="only the first N subjects (timing runs)")
    ap.add_argument("--save-preds", default="", help="npz with per-window scores (outside the repo)")
    ap.add_argument("--save-nets", default="", help="folder for per-fold fusion state dicts")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = {**DEFAULT_CFG, **json.loads(args.cfg)}
    data = stress_data.load(args.data)
    subjects = data.subjects[: args.folds] if args.folds else data.subjects
    baselines = data.personal_baselines()
    base_rows = data.baseline_rows(baselines)
    methods = parse_methods(args.methods, data)
    tensors, beat_t = {}, None
    results = {}
    cand = data.eval_candidates()
    for key, m in methods:
        t0 = time.time()
        rows_all, s0_all, p0_all, s1_all, p1_all = [], [], [], [], []
        extra = []
        for s in subjects:
            fold = Fold(data, int(s))
            if m["kind"] == "hr_rule":
                r = run_hr_rule(data, fold, base_rows)
            elif m["kind"] == "hrv_lr":
                r = run_hrv_lr(data, fold, base_rows)
            elif m["kind"] == "hrv_fallback":
                r = run_hrv_fallback(data, fold, base_rows)
            elif m["kind"] in ("img", "fusion", "features_mlp"):
                ch = m["channels"] if m["kind"] != "features_mlp" else []
                tk = "+".join(ch)
                if tk not in tensors:
                    tensors[tk] = Tensors(data, ch, cfg["pool"])
                r = run_net(data, fold, base_rows, tensors[tk], ch, cfg, m["kind"] != "img")
                if args.save_nets and m["kind"] == "fusion":
                    Path(args.save_nets).mkdir(parents=True, exist_ok=True)
                    torch.save({"state": r[4]["net"].state_dict(), "cfg": cfg, "channels": ch},
                               Path(args.save_nets) / f"{key.replace(':', '_')}_s{int(s):02d}.pt")
            elif m["kind"] == "beat_cnn":
                if beat_t is None:
                    bw = stress_data.beats_of_windows(data)
                    in_sc = np.zeros(len(data.beat_subject), bool)
                    for w in np.flatnonzero(data.scorable):
                        in_sc[bw[w]] = True
                    beat_t = {"images": nets.pool_images(data.beat_images, cfg["pool"]),
                              "beats_of_window": bw, "in_scorable": in_sc}
                r = run_beat_cnn(data, fold, base_rows, beat_t, cfg)
            else:
                raise SystemExit(f"unknown method {key}")
            no_base = ~np.isfinite(base_rows[fold.test_rows]).all(1)
            if no_base.any():  # no personal baseline: the without-baseline score stands
                r = (r[0], r[1], np.where(no_base, r[0], r[2]), np.where(no_base, r[1], r[3]), r[4])
            rows_all.append(fold.test_rows)
            s0_all.append(r[0]); p0_all.append(r[1]); s1_all.append(r[2]); p1_all.append(r[3])
            extra.append({k: v for k, v in r[4].items() if k != "net" and k != "val_loss"})
            print(f"{key} subject {int(s):02d}: n={len(fold.test_rows)} "
                  f"acc0={np.mean(r[1] == data.label[fold.test_rows]):.2f} "
                  f"acc1={np.mean(r[3] == data.label[fold.test_rows]):.2f} ({time.time() - t0:.0f} s)", flush=True)
        rows = np.concatenate(rows_all)
        y, subj = data.label[rows], data.subject[rows]
        res = {"without_baseline": metrics.summarize(y, np.concatenate(s0_all), np.concatenate(p0_all).astype(int), subj),
               "with_baseline": metrics.summarize(y, np.concatenate(s1_all), np.concatenate(p1_all).astype(int), subj),
               "seconds": round(time.time() - t0, 1),
               "cfg": cfg if m["kind"] not in ("hr_rule", "hrv_lr", "hrv_fallback") else None,
               "fold_info": extra}
        sel = np.isin(data.subject, subjects) & cand
        res["unscored_windows"] = int(np.sum(sel & ~data.scorable))
        res["subjects_without_personal_baseline"] = [int(v) for v in subjects if int(v) not in baselines]
        res["candidate_windows"] = int(np.sum(sel))
        results[key] = res
        print(f"== {key}: without BA {res['without_baseline']['balanced_accuracy']:.3f} AUC {res['without_baseline']['auc']:.3f} | "
              f"with BA {res['with_baseline']['balanced_accuracy']:.3f} AUC {res['with_baseline']['auc']:.3f} ({res['seconds']} s)", flush=True)
        if args.save_preds:
            np.savez(f"{args.save_preds}_{key.replace(':', '_').replace('+', '-')}.npz", rows=rows,
                     s0=np.concatenate(s0_all), s1=np.concatenate(s1_all))
    out = Path(args.out)
    prev = json.loads(out.read_text()) if out.exists() else {}
    prev.setdefault("methods", {}).update(results)
    prev["protocol"] = {
        "split": "leave-one-subject-out", "subjects": int(len(subjects)),
        "baseline": f"scorable rest windows inside the first {stress_data.BASELINE_S:.0f} s",
        "scored": "rest windows starting at or after the baseline span + all task windows, scorable only",
        "min_usable_fraction": data.min_usable_fraction, "bootstrap": f"{metrics.N_BOOT} resamples of subjects",
        "dataset_meta": {k: data.meta.get(k) for k in ("git_commit", "count", "window", "features", "image_channels")},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(prev, indent=1))


if __name__ == "__main__":
    main()
