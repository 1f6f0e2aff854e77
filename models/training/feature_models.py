"""Feature-only stress models (no image) chosen by nested leave-one-subject-out selection.

    python feature_models.py --data DIR --out ../reports/stress_feature_models.json \
        [--selection auc_1se] [--exclude r_amp_mv,t_amp_mv] [--loso ../reports/stress_loso.json] \
        [--export-dir .. [--no-loso]]

Candidates: balanced logistic regressions on feature subsets, L1 or L2, C from a grid, with the
baseline used not at all, as `x - b`, as `log(x / b)` (positive features) or, for HR alone, as
`hr_z` (the HR rise over the baseline's own beat-to-beat HR spread), and two structures
(one model per setting; one shared model with a `has_baseline` flag). Per setting (without / with
a personal baseline), inside every outer LOSO fold, a subject-grouped inner CV over the fold's
training subjects gives every candidate out-of-fold scores and a rule picks one (`best_auc`: the
best pooled AUC; `auc_1se`: the simplest within one bootstrap SE of it); its decision offset is
the best balanced-accuracy threshold on its out-of-fold scores; it is refit on all training
subjects and scores the test subject. The outer LOSO of this whole procedure is the honest
("nested") result; every candidate's own outer LOSO (the "un-nested" best is optimistic by
selection) is reported for contrast.

`--export-dir`: trains the candidate each setting chose most often on all subjects (offset and
probability scale from a 5-fold grouped CV over all subjects) and writes `stress.onnx` +
`stress.json` there.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

import loso
import metrics
import onnx_export
import stress_data

MODEL_VERSION = "2.1.3"  # 2.1: the HR z-score candidates (hr_z) joined the family; 2.1.1: retrained on the export with the split-beat RR stage; 2.1.2: on the export with per-window signal quality (as live); 2.1.3: with the recurrence test in it
INNER_FOLDS = 5  # default; 0 = leave one subject out
SE_BOOT = 200  # bootstrap resamples of the inner subjects for the one-standard-error rule
RULES = ["best_auc", "auc_1se"]
CS = [0.001, 0.01, 0.1, 1.0]
PENALTIES = ["l2", "l1"]
# features whose log is taken in the log representations (strictly positive when scorable)
POSITIVE = ["hr_bpm", "mean_nn_ms", "sdnn_ms", "rmssd_ms", "sd1_ms", "sd2_ms"]
LOG_FLOOR = 1e-3
SUBSETS = {
    "hr": ["hr_bpm"],
    "hr_rmssd": ["hr_bpm", "rmssd_ms"],
    "hr_sdnn_rmssd": ["hr_bpm", "sdnn_ms", "rmssd_ms"],
    "hrv": ["hr_bpm", "mean_nn_ms", "sdnn_ms", "rmssd_ms", "pnn50", "sd1_ms", "sd2_ms"],
    "hr_amp": ["hr_bpm", "r_amp_mv", "t_amp_mv"],
    "all": ["hr_bpm", "mean_nn_ms", "sdnn_ms", "rmssd_ms", "pnn50", "sd1_ms", "sd2_ms", "r_amp_mv",
            "t_amp_mv"],
}
# representation -> (absolute part, baseline-relative part, log transform)
REPS = {
    "raw": (True, False, False), "log": (True, False, True),
    "diff": (False, True, False), "logratio": (False, True, True),
    "raw+diff": (True, True, False), "log+logratio": (True, True, True),
    "hr_z": (False, True, False),  # HR only: (HR - HR_b) / the baseline's beat-to-beat HR spread
}
Z_REP = "hr_z"
# floor of the spread: the smallest EEGMAT baseline spread is 1.94 bpm, so nobody is made more
# sensitive than the data supports (a low-HRV baseline, e.g. SDNN 10 ms, would otherwise flag
# rises of 1 bpm)
Z_MIN_SCALE_BPM = 1.9
Z_MIN_NN_MS = 1.0
REPS_WITHOUT = ["raw", "log"]  # without a baseline the relative part is a constant shift
SHARED_REPS = ["raw+diff", "log+logratio"]  # shared: abs part + has_baseline * relative part + flag


@dataclass(frozen=True)
class Candidate:
    """One model family member. structure: 'per_setting' or 'shared'."""
    structure: str
    rep: str
    subset: str
    penalty: str
    C: float

    @property
    def key(self) -> str:
        return f"{self.structure}/{self.rep}/{self.subset}/{self.penalty}/C={self.C:g}"

    @staticmethod
    def from_key(key: str) -> "Candidate":
        structure, rep, subset, penalty, c = key.split("/")
        return Candidate(structure, rep, subset, penalty, float(c.removeprefix("C=")))


def candidates(exclude: tuple[str, ...] = (), z_rep: bool = True) -> dict[str, list[Candidate]]:
    """Candidates per setting ('without', 'with'); shared ones appear in both. Subsets holding an
    `exclude`d feature are left out; `z_rep` adds the HR z-score (subset `hr`, with a baseline)."""
    subsets = [s for s in SUBSETS if not set(SUBSETS[s]) & set(exclude)]
    # L1 on one feature is L2 (same ranking), so the single-feature subset is L2 only
    grid = [(s, p, c) for s in subsets for p in PENALTIES for c in CS if not (p == "l1" and len(SUBSETS[s]) == 1)]
    shared = [Candidate("shared", r, s, p, c) for r in SHARED_REPS for s, p, c in grid]
    without = [Candidate("per_setting", r, s, p, c) for r in REPS_WITHOUT for s, p, c in grid]
    with_ = [Candidate("per_setting", r, s, p, c) for r in REPS for s, p, c in grid
             if r != Z_REP or (z_rep and s == "hr")]
    return {"without": without + shared, "with": with_ + shared}


class Design:
    """Feature transforms of the whole data set (computed once)."""

    def __init__(self, data: stress_data.StressData):
        names = data.feature_names
        self.names = names
        self.idx = {k: [names.index(f) for f in v] for k, v in SUBSETS.items()}
        self.log_mask = np.array([n in POSITIVE for n in names])
        self.hr, self.nn, self.sdnn = (names.index(k) for k in ("hr_bpm", "mean_nn_ms", "sdnn_ms"))

    def hr_z(self, x: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(HR - HR_b) / (HR_b * SDNN_b / meanNN_b): the HR rise in units of the baseline's own
        beat-to-beat HR spread (floored)."""
        x, b = x.astype(np.float64), b.astype(np.float64)
        scale = np.maximum(b[:, self.hr] * b[:, self.sdnn] / np.maximum(b[:, self.nn], Z_MIN_NN_MS), Z_MIN_SCALE_BPM)
        return (x[:, self.hr] - b[:, self.hr]) / scale

    def transform(self, x: np.ndarray, log: bool) -> np.ndarray:
        if not log:
            return x.astype(np.float64)
        return np.where(self.log_mask, np.log(np.maximum(x, LOG_FLOOR)), x).astype(np.float64)

    def matrix(self, c: Candidate, x: np.ndarray, b: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Design matrix of candidate c for rows x with baselines b and has_baseline flags h."""
        if c.rep == Z_REP:
            assert c.subset == "hr" and c.structure == "per_setting"
            return self.hr_z(x, b)[:, None]
        use_abs, use_rel, log = REPS[c.rep]
        j = self.idx[c.subset]
        tx = self.transform(x, log)[:, j]
        parts = [tx] if use_abs else []
        if use_rel:
            rel = tx - self.transform(b, log)[:, j]
            parts.append(rel * h[:, None] if c.structure == "shared" else rel)
        if c.structure == "shared":
            parts.append(h[:, None].astype(np.float64))
        return np.concatenate(parts, 1)


def fit(X: np.ndarray, y: np.ndarray, c: Candidate) -> dict:
    """Standardised, class-balanced logistic regression (statistics from these rows only)."""
    mu, sd = X.mean(0), X.std(0)
    sd = np.where(sd > 1e-9, sd, 1.0)
    Z = (X - mu) / sd
    if c.penalty == "l2":
        coef, intercept = newton_l2(Z, y, c.C)
    else:
        m = LogisticRegression(C=c.C, penalty="l1", solver="liblinear", class_weight="balanced",
                               max_iter=1000, intercept_scaling=10.0, random_state=0)
        m.fit(Z, y)
        coef, intercept = m.coef_[0], float(m.intercept_[0])
    return {"mean": mu, "std": sd, "coef": coef, "intercept": intercept}


def newton_l2(Z: np.ndarray, y: np.ndarray, C: float, iters: int = 50) -> tuple[np.ndarray, float]:
    """Class-balanced L2 logistic regression (sklearn's objective, intercept not penalised):
    min C * sum(w_i * logloss_i) + |coef|^2 / 2, by Newton's method with step halving."""
    n, d = Z.shape
    w = np.where(y == 1, n / (2.0 * max(y.sum(), 1)), n / (2.0 * max((y == 0).sum(), 1)))
    A = np.concatenate([Z, np.ones((n, 1))], 1)
    reg = np.ones(d + 1)
    reg[-1] = 0.0
    beta = np.zeros(d + 1)

    def objective(b):
        t = A @ b
        return C * np.sum(w * (np.logaddexp(0, t) - y * t)) + 0.5 * np.sum(reg * b * b)

    f = objective(beta)
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(A @ beta)))
        g = C * A.T @ (w * (p - y)) + reg * beta
        H = C * (A * (w * p * (1 - p))[:, None]).T @ A + np.diag(reg) + 1e-10 * np.eye(d + 1)
        step = np.linalg.solve(H, g)
        t = 1.0
        while t > 1e-6:
            nf = objective(beta - t * step)
            if nf <= f:
                break
            t /= 2
        beta, f_old, f = beta - t * step, f, nf
        if f_old - f < 1e-10 * max(1.0, abs(f)):
            break
    return beta[:d], float(beta[d])


def score(m: dict, X: np.ndarray) -> np.ndarray:
    """Logit of a fitted model for design matrix X."""
    return ((X - m["mean"]) / m["std"]) @ m["coef"] + m["intercept"]


class Rows:
    """Training and scoring rows of one setting for a set of subjects."""

    def __init__(self, data, design, base_rows, pop, subjects, setting: str, structure: str):
        ok = data.eval_mask() & np.isin(data.subject, subjects)
        has = np.isfinite(base_rows).all(1)
        r = np.flatnonzero(ok)
        personal = np.where(has[r, None], base_rows[r], pop)
        hflag = has[r].astype(np.float64)
        if structure == "shared":  # every row once with its personal and once with the population baseline
            self.fit_x = np.concatenate([data.features[r], data.features[r]])
            self.fit_b = np.concatenate([personal, np.broadcast_to(pop, personal.shape)])
            self.fit_h = np.concatenate([hflag, np.zeros(len(r))])
            self.fit_rows = np.concatenate([r, r])
        elif setting == "with":  # only subjects with a personal baseline
            rr = r[has[r]]
            self.fit_x, self.fit_b, self.fit_h, self.fit_rows = (
                data.features[rr], base_rows[rr], np.ones(len(rr)), rr)
        else:
            self.fit_x, self.fit_b, self.fit_h, self.fit_rows = (
                data.features[r], np.broadcast_to(pop, (len(r), pop.size)), np.zeros(len(r)), r)
        # scoring rows of this setting (with: only subjects with a personal baseline)
        sr = r[has[r]] if setting == "with" else r
        self.score_rows = sr
        self.score_b = base_rows[sr] if setting == "with" else np.broadcast_to(pop, (len(sr), pop.size))
        self.score_h = np.full(len(sr), 1.0 if setting == "with" else 0.0)


def population_baseline(data, subjects) -> np.ndarray:
    """As loso.Fold: mean features of the given subjects' scored rest windows."""
    rest = data.eval_mask() & np.isin(data.subject, subjects) & (data.recording == stress_data.REST)
    return data.features[rest].mean(0)


def fit_candidate(data, design, base_rows, subjects, setting, c):
    """Candidate c fit on `subjects` for `setting`; also returns their population baseline."""
    pop = population_baseline(data, subjects)
    R = Rows(data, design, base_rows, pop, subjects, setting, c.structure)
    m = fit(design.matrix(c, R.fit_x, R.fit_b, R.fit_h), data.label[R.fit_rows], c)
    return m, pop


def candidate_score(data, design, m, c, x, b, h):
    """Logit of fitted candidate c for rows x with baselines b and has_baseline flags h."""
    return score(m, design.matrix(c, x, b, h))


def inner_oof(data, design, base_rows, subjects, cands_by_setting, inner_folds=INNER_FOLDS):
    """Out-of-fold scores of every candidate on the given subjects' scoring rows of each setting
    (subject-grouped k-fold; a shared candidate is fit once for both settings); returns
    {setting: (y, {key: scores}, subject)}."""
    subjects = np.asarray(subjects)
    folds = list(GroupKFold(inner_folds or len(subjects)).split(subjects, groups=subjects))
    rows = {st: [] for st in cands_by_setting}
    out = {st: {c.key: [] for c in cs} for st, cs in cands_by_setting.items()}
    for tr_i, va_i in folds:
        tr_s, va_s = subjects[tr_i], subjects[va_i]
        pop = population_baseline(data, tr_s)
        fits = {}
        for st, cs in cands_by_setting.items():
            Rv = Rows(data, design, base_rows, pop, va_s, st, "per_setting")
            rows[st].append(Rv.score_rows)
            train_rows = {}
            for c in cs:
                fk = ("shared" if c.structure == "shared" else st, c.key)
                if fk not in fits:
                    if c.structure not in train_rows:
                        train_rows[c.structure] = Rows(data, design, base_rows, pop, tr_s, st, c.structure)
                    R = train_rows[c.structure]
                    fits[fk] = fit(design.matrix(c, R.fit_x, R.fit_b, R.fit_h), data.label[R.fit_rows], c)
                out[st][c.key].append(candidate_score(data, design, fits[fk], c, data.features[Rv.score_rows],
                                                      Rv.score_b, Rv.score_h))
    return {st: (data.label[np.concatenate(rows[st])], {k: np.concatenate(v) for k, v in out[st].items()},
                 data.subject[np.concatenate(rows[st])]) for st in cands_by_setting}


def complexity(c: Candidate) -> tuple:
    """Model columns, then regularisation (smaller C is simpler)."""
    use_abs, use_rel, _ = REPS[c.rep]
    cols = len(SUBSETS[c.subset]) * (int(use_abs) + int(use_rel)) + int(c.structure == "shared")
    return cols, c.C


def select(y, oof: dict, cands, rule: str = "best_auc", subject=None, seed: int = 0):
    """best_auc: the best pooled out-of-fold AUC (first in candidate order on ties). auc_1se: the
    simplest candidate (see `complexity`) whose AUC is within one bootstrap-over-subjects standard
    error of the best. Returns the candidate, its BA threshold on the OOF scores and its AUC."""
    aucs = np.array([metrics.auc(y, oof[c.key]) for c in cands])
    i = int(np.nanargmax(aucs))
    if rule == "auc_1se":
        subs = np.unique(subject)
        idx = {u: np.flatnonzero(subject == u) for u in subs}
        rng = np.random.default_rng(seed)
        boot = []
        for _ in range(SE_BOOT):
            r = np.concatenate([idx[u] for u in rng.choice(subs, len(subs))])
            boot.append(metrics.auc(y[r], oof[cands[i].key][r]))
        ok = np.flatnonzero(aucs >= aucs[i] - np.nanstd(boot))
        i = min(ok, key=lambda k: (complexity(cands[k]), -aucs[k]))
    best = cands[i]
    return best, metrics.best_threshold(y, oof[best.key]), float(aucs[i])


def outer_scores(data, design, base_rows, train_subjects, test_rows, setting, c):
    """Candidate c fit on the training subjects, logits of the test rows in `setting`."""
    m, pop = fit_candidate(data, design, base_rows, train_subjects, setting, c)
    x = data.features[test_rows]
    if setting == "with":
        b, h = base_rows[test_rows], np.ones(len(test_rows))
    else:
        b, h = np.broadcast_to(pop, x.shape), np.zeros(len(test_rows))
    return candidate_score(data, design, m, c, x, b, h)


def paired_difference(y, subject, s_a, p_a, s_b, p_b, seed=0) -> dict:
    """BA and AUC of model a minus model b on the same windows, 95 % CI by subject bootstrap."""
    subs = np.unique(subject)
    idx = {s: np.flatnonzero(subject == s) for s in subs}
    rng = np.random.default_rng(seed)
    dba, dauc = [], []
    for _ in range(metrics.N_BOOT):
        r = np.concatenate([idx[s] for s in rng.choice(subs, len(subs))])
        dba.append(metrics.balanced_accuracy(y[r], p_a[r]) - metrics.balanced_accuracy(y[r], p_b[r]))
        dauc.append(metrics.auc(y[r], s_a[r]) - metrics.auc(y[r], s_b[r]))
    return {"balanced_accuracy": metrics.balanced_accuracy(y, p_a) - metrics.balanced_accuracy(y, p_b),
            "balanced_accuracy_ci95": [float(np.nanpercentile(dba, 2.5)), float(np.nanpercentile(dba, 97.5))],
            "p_ba_not_above": float(np.mean(np.array(dba) <= 0)),
            "auc": metrics.auc(y, s_a) - metrics.auc(y, s_b),
            "auc_ci95": [float(np.nanpercentile(dauc, 2.5)), float(np.nanpercentile(dauc, 97.5))],
            "p_auc_not_above": float(np.nanmean(np.array(dauc) <= 0))}


def outer_fold(job):
    """One outer LOSO fold: inner selection per setting and rule, then every candidate's and the
    chosen ones' scores of the test subject."""
    data, design, base_rows, cands_by_setting, test, inner_folds = job
    test_rows = np.flatnonzero(data.eval_mask() & (data.subject == test))
    train = np.array([s for s in data.subjects if s != test])
    # the with-setting score of a subject without a personal baseline is replaced by its
    # without score in main() (as loso.py does); score it without here
    has = bool(np.isfinite(base_rows[test_rows]).all())
    inner = inner_oof(data, design, base_rows, train, cands_by_setting, inner_folds)
    res = {}
    for st, cs in cands_by_setting.items():
        y_in, oof, subj_in = inner[st]
        use = st if (st == "without" or has) else "without"
        fr = {"rows": test_rows, "cand_s": {}, "cand_p": {}, "rules": {}}
        for c in cs:  # every candidate's outer score, offset from its own inner OOF scores
            c_thr = metrics.best_threshold(y_in, oof[c.key])
            sc = outer_scores(data, design, base_rows, train, test_rows, use, c) - c_thr
            fr["cand_s"][c.key], fr["cand_p"][c.key] = sc, sc > 0
        for rule in RULES:
            best, thr, best_auc = select(y_in, oof, cs, rule, subj_in)
            sc = fr["cand_s"][best.key]  # same fit and same offset as the candidate's own
            fr["rules"][rule] = {"chosen": best.key, "offset": thr, "inner_auc": best_auc,
                                 "nested_s": sc, "nested_p": sc > 0}
        res[st] = fr
    return test, res


def run_loso(data, design, base_rows, cands_by_setting, subjects, workers=1, inner_folds=INNER_FOLDS):
    """Per-candidate outer LOSO scores and, per selection rule, the nested ones, both settings."""
    res = {st: {"rows": [], "cand_s": {c.key: [] for c in cs}, "cand_p": {c.key: [] for c in cs},
                "rules": {rule: {k: [] for k in ("chosen", "offset", "inner_auc", "nested_s", "nested_p")}
                          for rule in RULES}}
           for st, cs in cands_by_setting.items()}
    t0 = time.time()
    jobs = [(data, design, base_rows, cands_by_setting, int(t), inner_folds) for t in subjects
            if np.any(data.eval_mask() & (data.subject == t))]
    with multiprocessing.Pool(workers) as pool:
        for test, fold_res in pool.imap(outer_fold, jobs):
            for st, fr in fold_res.items():
                r = res[st]
                r["rows"].append(fr["rows"])
                for c in fr["cand_s"]:
                    r["cand_s"][c].append(fr["cand_s"][c]); r["cand_p"][c].append(fr["cand_p"][c])
                for rule, v in fr["rules"].items():
                    for k, x in v.items():
                        r["rules"][rule][k].append(x)
            print(f"subject {test:02d}: " + " | ".join(
                f"{st} {rule}: {res[st]['rules'][rule]['chosen'][-1]}" for st in res for rule in RULES)
                + f" ({time.time() - t0:.0f} s)", flush=True)
    for st in res:
        r = res[st]
        r["rows"] = np.concatenate(r["rows"])
        for v in r["rules"].values():
            for k in ("nested_s", "nested_p"):
                v[k] = np.concatenate(v[k])
        for k in ("cand_s", "cand_p"):
            r[k] = {c: np.concatenate(v) for c, v in r[k].items()}
    return res


# ---------------------------------------------------------------- the shipped graph

N_BLOCKS = 4  # graph design columns: raw x, T(x), raw x - b, T(x) - T(b) (T: log of POSITIVE), then z


def n_columns(F: int) -> int:
    """Graph design columns for F features: the blocks, then one for `Design.hr_z`."""
    return N_BLOCKS * F + 1


def folded_head(design: Design, m: dict, c: Candidate, setting: str, offset: float):
    """A fitted candidate as one affine function of the graph's design columns for one setting
    (standardisation folded into the weights, exact): weights [4 * F + 1], bias (minus offset)."""
    F = len(design.names)
    use_abs, use_rel, log = REPS[c.rep]
    j = design.idx[c.subset]
    h = 1.0 if setting == "with" else 0.0
    cols = []  # (graph column or None for the constant h, factor) of each model column
    if c.rep == Z_REP:
        cols.append((N_BLOCKS * F, 1.0))
    else:
        if use_abs:
            cols += [((F if log else 0) + k, 1.0) for k in j]
        if use_rel:
            factor = h if c.structure == "shared" else 1.0
            cols += [((3 * F if log else 2 * F) + k, factor) for k in j]
    if c.structure == "shared":
        cols.append((None, h))
    w = np.zeros(n_columns(F))
    bias = m["intercept"] - offset
    for (col, factor), coef, mu, sd in zip(cols, m["coef"], m["mean"], m["std"]):
        bias -= coef * mu / sd
        if col is None:
            bias += coef * factor / sd
        else:
            w[col] += coef * factor / sd
    return w, bias


def graph_columns(design: Design, x: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The graph's design columns in numpy (for checks)."""
    tx, tb = design.transform(x, True), design.transform(b, True)
    return np.concatenate([x, tx, x - b, tx - tb, design.hr_z(x, b)[:, None]], 1)


def required_features(design: Design, W: np.ndarray) -> list[str]:
    """The features the graph's output depends on (`required_features` in stress.json): those with
    a non-zero weight in any block, and hr/meanNN/SDNN when `hr_z` has one."""
    F = len(design.names)
    used = np.abs(np.asarray(W)) > 0
    need = [used[[b * F + k for b in range(N_BLOCKS)]].any() for k in range(F)]
    if used[N_BLOCKS * F].any():
        for k in (design.hr, design.nn, design.sdnn):
            need[k] = True
    return [n for n, r in zip(design.names, need) if r]


def export_onnx(design: Design, W: np.ndarray, bias: np.ndarray, path: Path) -> None:
    """features, baseline, has_baseline -> probabilities [calm, stress]; W [4F + 1, 2] and bias [2]
    are the without / with heads, gated by has_baseline."""
    import torch

    class Heads(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("log_mask", torch.from_numpy(design.log_mask))
            self.register_buffer("W", torch.from_numpy(W.astype(np.float32)))
            self.register_buffer("bias", torch.from_numpy(bias.astype(np.float32)))

        def transform(self, v):
            return torch.where(self.log_mask, torch.log(torch.clamp(v, min=LOG_FLOOR)), v)

        def hr_z(self, f, b):
            hr, nn, sdnn = (b[:, k:k + 1] for k in (design.hr, design.nn, design.sdnn))
            scale = torch.clamp(hr * sdnn / torch.clamp(nn, min=Z_MIN_NN_MS), min=Z_MIN_SCALE_BPM)
            return (f[:, design.hr:design.hr + 1] - hr) / scale

        def forward(self, features, baseline, has_baseline):
            tx, tb = self.transform(features), self.transform(baseline)
            d = torch.cat([features, tx, features - baseline, tx - tb, self.hr_z(features, baseline)], 1)
            logits = d @ self.W + self.bias  # [n, 2]: without, with
            logit = has_baseline * logits[:, 1:2] + (1 - has_baseline) * logits[:, 0:1]
            return torch.softmax(torch.cat([torch.zeros_like(logit), logit], 1), 1)

    import onnx
    F = len(design.names)
    names = ["features", "baseline", "has_baseline"]
    torch.onnx.export(Heads().eval(), (torch.ones(1, F), torch.ones(1, F), torch.zeros(1, 1)), str(path),
                      input_names=names, output_names=["probabilities"],
                      dynamic_axes={n: {0: "batch"} for n in names + ["probabilities"]},
                      opset_version=onnx_export.OPSET, do_constant_folding=True)
    model = onnx.load(str(path))
    model.producer_name = "stressbeat-train"
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def quantize_like_onnx(W: np.ndarray) -> np.ndarray:
    """W after onnx_export.weights_int8 (symmetric int8 per output column of a MatMul)."""
    scale = np.maximum(np.abs(W).max(0), 1e-12) / 127.0
    return np.clip(np.round(W / scale), -127, 127) * scale


def calibration_scale(y: np.ndarray, margin: np.ndarray) -> float:
    """The slope a > 0 for which sigmoid(a * margin) best fits y (class-balanced log-likelihood):
    rescales probabilities without moving the 0.5 decision point or changing any ranking."""
    from scipy.optimize import minimize_scalar
    w = np.where(y == 1, len(y) / (2.0 * max(y.sum(), 1)), len(y) / (2.0 * max((y == 0).sum(), 1)))

    def loss(log_a):
        t = np.exp(log_a) * margin
        return float(np.sum(w * (np.logaddexp(0, t) - y * t)))
    return float(np.exp(minimize_scalar(loss, bounds=(-8.0, 8.0), method="bounded").x))


def train_heads(data, design, base_rows, subjects, chosen: dict[str, str], offsets: dict[str, float]):
    """Fits each setting's candidate on `subjects` and folds both into W [4F + 1, 2], bias [2]."""
    W, bias = [], []
    for st in ("without", "with"):
        c = Candidate.from_key(chosen[st])
        m, _ = fit_candidate(data, design, base_rows, subjects, st, c)
        w, b0 = folded_head(design, m, c, st, offsets[st])
        W.append(w); bias.append(b0)
    return np.stack(W, 1), np.array(bias)


def heads_logit(design, W, bias, x, b, h):
    """The graph's logit in numpy: the with head where h is 1, the without head elsewhere."""
    l = graph_columns(design, x, b) @ W + bias
    return np.where(h > 0.5, l[:, 1], l[:, 0])


def replay_nested(data, design, base_rows, report: dict, quantize: bool):
    """The nested LOSO scores rebuilt from the report's per-fold choices through the folded
    graph weights (optionally int8-quantized): checks the folding and measures int8."""
    sets = {st: report["nested"][f"{st}_baseline"] for st in ("without", "with")}
    subs = [int(s) for s in data.subjects if np.any(data.eval_mask() & (data.subject == s))]
    pop_all = {}
    rows, s0, s1 = [], [], []
    for k, test in enumerate(subs):
        train = np.array([s for s in data.subjects if s != test])
        chosen = {st: sets[st]["chosen_in_order"][k] for st in sets}
        offsets = {st: sets[st]["offsets"][k] for st in sets}
        W, bias = train_heads(data, design, base_rows, train, chosen, offsets)
        if quantize:
            W = quantize_like_onnx(W)
        t = np.flatnonzero(data.eval_mask() & (data.subject == test))
        pop_all[test] = population_baseline(data, train)
        x = data.features[t]
        has = np.isfinite(base_rows[t]).all(1)
        b = np.where(has[:, None], base_rows[t], pop_all[test])
        rows.append(t)
        s0.append(heads_logit(design, W, bias, x, np.broadcast_to(pop_all[test], x.shape), np.zeros(len(t))))
        s1.append(heads_logit(design, W, bias, x, b, has.astype(float)))
    return np.concatenate(rows), np.concatenate(s0), np.concatenate(s1)


def export(data, design, base_rows, report: dict, out_dir: Path, work: Path) -> dict:
    """Ships the per-setting candidate chosen most often across the outer folds, trained on all
    subjects, offsets and probability scales from a grouped CV over all subjects; float and
    int8-weight graphs."""
    import onnxruntime  # noqa: F401  (fail early when absent)
    subjects = data.subjects
    chosen = {st: Counter(report["nested"][f"{st}_baseline"]["chosen_in_order"]).most_common(1)[0][0]
              for st in ("without", "with")}
    cands = {st: [Candidate.from_key(chosen[st])] for st in chosen}
    inner = inner_oof(data, design, base_rows, subjects, cands)
    offsets = {st: metrics.best_threshold(inner[st][0], inner[st][1][chosen[st]]) for st in chosen}
    W, bias = train_heads(data, design, base_rows, subjects, chosen, offsets)
    # probability scale of each head from the same out-of-fold scores (decisions unchanged)
    scales = {st: calibration_scale(inner[st][0], inner[st][1][chosen[st]] - offsets[st]) for st in chosen}
    W, bias = W * np.array([scales["without"], scales["with"]]), bias * np.array([scales["without"], scales["with"]])
    pop = population_baseline(data, subjects)
    work.mkdir(parents=True, exist_ok=True)
    float_path, int8_path = work / "stress_float.onnx", work / "stress_int8_weights.onnx"
    export_onnx(design, W, bias, float_path)
    onnx_export.weights_int8(float_path, int8_path)
    # the graphs must reproduce the numpy model, both settings, every scorable window
    r = np.flatnonzero(data.scorable)
    x = data.features[r]
    has = np.isfinite(base_rows[r]).all(1)
    checks = {}
    for name, path, Wq in (("float", float_path, W), ("int8_weights", int8_path, quantize_like_onnx(W))):
        sess = onnx_export.ort_session(path)
        for st, b, h in (("without", np.broadcast_to(pop, x.shape), np.zeros(len(r))),
                         ("with", np.where(has[:, None], base_rows[r], pop), has.astype(float))):
            p_onnx = onnx_export.ort_predict(sess, None, x, b, h[:, None], 0)
            p_np = 1 / (1 + np.exp(-heads_logit(design, Wq, bias, x, b, h)))
            checks[f"{name}_{st}_max_abs_dp"] = float(np.abs(p_onnx - p_np).max())
    print(f"onnx vs numpy: {checks}")
    if max(checks.values()) > 1e-4:
        raise SystemExit("exported graph disagrees with the numpy model")
    return {"chosen": chosen, "offsets": offsets, "calibration_scales": scales, "W": W.tolist(), "bias": bias.tolist(), "checks": checks,
            "population_baseline": pop, "float_path": float_path, "int8_path": int8_path,
            "sizes": {"float": float_path.stat().st_size, "int8_weights": int8_path.stat().st_size}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True, help="JSON report")
    ap.add_argument("--loso", default="", help="stress_loso.json: adds the nested rows for report.py")
    ap.add_argument("--loso-prefix", default="feature_lr", help="method-key prefix of the --loso rows")
    ap.add_argument("--loso-nested-only", action="store_true", help="only the primary rule's nested row")
    ap.add_argument("--export-dir", default="", help="write stress.onnx + stress.json here")
    ap.add_argument("--top", type=int, default=10, help="un-nested candidates listed per setting")
    ap.add_argument("--no-loso", action="store_true", help="reuse the report at --out (export only)")
    ap.add_argument("--work", default="/tmp/stress-feature-work", help="ONNX variants (outside the repo)")
    ap.add_argument("--variant", default="float", choices=["float", "int8_weights"], help="the one shipped")
    ap.add_argument("--exclude", default="", help="comma-separated features no candidate may use")
    ap.add_argument("--no-z", action="store_true", help="without the HR z-score candidates (the v2 family)")
    ap.add_argument("--inner-folds", type=int, default=INNER_FOLDS, help="inner CV folds; 0 = one per subject")
    ap.add_argument("--selection", default=RULES[0], choices=RULES, help="the primary selection rule")
    ap.add_argument("--workers", type=int, default=1, help="outer folds run in parallel")
    ap.add_argument("--folds", type=int, default=0, help="only the first N outer folds (timing runs)")
    args = ap.parse_args()
    data = stress_data.load(args.data)
    data.images = data.beat_images = None  # features only (and cheap to hand to the workers)
    design = Design(data)
    base_rows = data.baseline_rows(data.personal_baselines())
    out = Path(args.out)
    if not args.no_loso:
        run_report(args, data, design, base_rows, out)
    report = json.loads(out.read_text())
    if args.export_dir:
        ship(args, data, design, base_rows, report, out)
    if args.loso:
        add_loso_rows(Path(args.loso), report, args.loso_prefix, args.loso_nested_only)


def run_report(args, data, design, base_rows, out: Path) -> None:
    """The nested and un-nested LOSO of every candidate → the JSON report at out."""
    cands = candidates(tuple(f for f in args.exclude.split(",") if f), z_rep=not args.no_z)
    subjects = data.subjects[: args.folds] if args.folds else data.subjects
    res = run_loso(data, design, base_rows, cands, subjects, args.workers, args.inner_folds)
    for st in res:  # the primary rule's nested result; the other rules are reported beside it
        for k, v in res[st]["rules"][args.selection].items():
            res[st][k] = v
    rows = res["without"]["rows"]
    assert np.array_equal(rows, res["with"]["rows"])
    y, subj = data.label[rows], data.subject[rows]
    has = np.isfinite(base_rows[rows]).all(1)
    # with-setting rows without a personal baseline take the nested without-setting score
    for rule in RULES:
        w0, w1 = res["without"]["rules"][rule], res["with"]["rules"][rule]
        for k in ("nested_s", "nested_p"):
            w1[k] = np.where(has, w1[k], w0[k])
    for k in ("nested_s", "nested_p"):
        res["with"][k] = res["with"]["rules"][args.selection][k]

    # the HR rule and the per-setting HRV LR of loso.py on the same windows (paired comparisons)
    refs = {}
    for name, fn in (("hr_rule", loso.run_hr_rule), ("hrv_lr", loso.run_hrv_lr)):
        s0, p0, s1, p1 = [], [], [], []
        for test in subjects:
            fold = loso.Fold(data, int(test))
            if len(fold.test_rows) == 0:
                continue
            r = fn(data, fold, base_rows)
            nb = ~np.isfinite(base_rows[fold.test_rows]).all(1)
            s0.append(r[0]); p0.append(r[1])
            s1.append(np.where(nb, r[0], r[2])); p1.append(np.where(nb, r[1], r[3]))
        refs[name] = {"without": (np.concatenate(s0), np.concatenate(p0).astype(int)),
                      "with": (np.concatenate(s1), np.concatenate(p1).astype(int))}

    report = {"protocol": {
        "outer": "leave-one-subject-out (25 subjects with scored windows)",
        "inner": (f"{args.inner_folds}-fold subject-grouped CV" if args.inner_folds else "leave-one-subject-out")
                 + " over the outer fold's training subjects",
        "selection": f"primary rule {args.selection} (best_auc: best pooled inner out-of-fold ROC AUC; auc_1se: the "
                     "simplest candidate within one subject-bootstrap SE of it); per setting; decision offset = best "
                     "balanced-accuracy threshold on the chosen candidate's inner out-of-fold scores",
        "candidates": {st: len(cs) for st, cs in cands.items()}, "C_grid": CS, "penalties": PENALTIES,
        "excluded_features": [f for f in args.exclude.split(",") if f],
        "subsets": SUBSETS, "representations": [r for r in REPS if r != Z_REP or not args.no_z],
        "log_features": POSITIVE, "log_floor": LOG_FLOOR,
        "hr_z": {"formula": "(hr - hr_b) / max(hr_b * sdnn_b / max(mean_nn_b, min_nn_ms), min_scale_bpm)",
                 "min_scale_bpm": Z_MIN_SCALE_BPM, "min_nn_ms": Z_MIN_NN_MS},
        "graph_columns": "[x, T(x), x - b, T(x) - T(b), hr_z] (T: log of log_features, floored at log_floor)",
        "bootstrap": f"{metrics.N_BOOT} resamples of subjects"}}
    nested = {}
    for st, setting in (("without", "without_baseline"), ("with", "with_baseline")):
        r = res[st]
        s, p = r["nested_s"], r["nested_p"].astype(int)
        nested[setting] = metrics.summarize(y, s, p, subj)
        nested[setting]["chosen_per_fold"] = dict(Counter(r["chosen"]).most_common())
        nested[setting]["chosen_in_order"] = list(r["chosen"])
        nested[setting]["offsets"] = [float(v) for v in r["offset"]]
        for ref in refs:
            rs, rp = refs[ref][st]
            nested[setting][f"minus_{ref}"] = paired_difference(y, subj, s, p, rs, rp)
        # un-nested: each candidate's own outer LOSO; the best by BA and by AUC are optimistic
        table = []
        for key in r["cand_s"]:
            cs_, cp_ = r["cand_s"][key], r["cand_p"][key].astype(int)
            if st == "with":
                cs_ = np.where(has, cs_, r["nested_s"])  # same fall-through as the nested score
                cp_ = np.where(has, cp_, r["nested_p"])
            table.append((key, metrics.balanced_accuracy(y, cp_), metrics.auc(y, cs_), cs_, cp_))
        by_ba = sorted(table, key=lambda t: -t[1])
        by_auc = sorted(table, key=lambda t: -t[2])
        report.setdefault("unnested", {})[setting] = {
            "best_by_ba": {"candidate": by_ba[0][0], **metrics.summarize(y, by_ba[0][3], by_ba[0][4], subj)},
            "best_by_auc": {"candidate": by_auc[0][0], **metrics.summarize(y, by_auc[0][3], by_auc[0][4], subj)},
            "top_by_ba": [{"candidate": k, "balanced_accuracy": ba, "auc": au} for k, ba, au, _, _ in by_ba[: args.top]],
            "top_by_auc": [{"candidate": k, "balanced_accuracy": ba, "auc": au} for k, ba, au, _, _ in by_auc[: args.top]],
            "candidates": len(table)}
    report["nested"] = nested
    report["nested_by_rule"] = {}
    for rule in RULES:
        report["nested_by_rule"][rule] = {}
        for st, setting in (("without", "without_baseline"), ("with", "with_baseline")):
            v = res[st]["rules"][rule]
            sm = metrics.summarize(y, v["nested_s"], v["nested_p"].astype(int), subj)
            sm["chosen_per_fold"] = dict(Counter(v["chosen"]).most_common())
            sm["chosen_in_order"] = list(v["chosen"])
            sm["offsets"] = [float(o) for o in v["offset"]]
            for ref in refs:
                sm[f"minus_{ref}"] = paired_difference(y, subj, v["nested_s"], v["nested_p"].astype(int), *refs[ref][st])
            report["nested_by_rule"][rule][setting] = sm
    for ref in refs:
        report.setdefault("references", {})[ref] = {
            f"{st}_baseline": metrics.summarize(y, refs[ref][st][0], refs[ref][st][1], subj) for st in ("without", "with")}
    cand_rows = data.eval_candidates() & np.isin(data.subject, subjects)
    report["unscored_windows"] = int(np.sum(cand_rows & ~data.scorable))
    report["candidate_windows"] = int(np.sum(cand_rows))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    for setting in ("without_baseline", "with_baseline"):
        n = nested[setting]
        u = report["unnested"][setting]
        print(f"nested {setting}: BA {n['balanced_accuracy']:.3f} {np.round(n['balanced_accuracy_ci95'], 3)} "
              f"AUC {n['auc']:.3f} {np.round(n['auc_ci95'], 3)}; vs HR rule dBA {n['minus_hr_rule']['balanced_accuracy']:+.3f} "
              f"{np.round(n['minus_hr_rule']['balanced_accuracy_ci95'], 3)} dAUC {n['minus_hr_rule']['auc']:+.3f} "
              f"{np.round(n['minus_hr_rule']['auc_ci95'], 3)}")
        print(f"  chosen: {n['chosen_per_fold']}")
        for rule, v in report["nested_by_rule"].items():
            print(f"  rule {rule}: BA {v[setting]['balanced_accuracy']:.3f} {np.round(v[setting]['balanced_accuracy_ci95'], 3)} "
                  f"AUC {v[setting]['auc']:.3f} {np.round(v[setting]['auc_ci95'], 3)}")
        print(f"  un-nested best BA {u['best_by_ba']['candidate']} {u['best_by_ba']['balanced_accuracy']:.3f}/"
              f"{u['best_by_ba']['auc']:.3f}; best AUC {u['best_by_auc']['candidate']} "
              f"{u['best_by_auc']['balanced_accuracy']:.3f}/{u['best_by_auc']['auc']:.3f}")


def ship(args, data, design, base_rows, report: dict, out: Path) -> None:
    """Exports the final model, checks the folded weights against the nested LOSO, measures the
    int8-weight variant by LOSO, writes stress.onnx / stress.json and the compression report."""
    import shutil
    import train_final
    ex = export(data, design, base_rows, report, Path(args.export_dir), Path(args.work))
    variants = {}
    for name, q in (("float", False), ("int8_weights", True)):
        r, s0, s1 = replay_nested(data, design, base_rows, report, q)
        y, subj = data.label[r], data.subject[r]
        variants[name] = {
            "file": Path(ex[f"{'float' if name == 'float' else 'int8'}_path"]).name,
            "size_bytes": ex["sizes"][name],
            "without_baseline": metrics.summarize(y, s0, (s0 > 0).astype(int), subj),
            "with_baseline": metrics.summarize(y, s1, (s1 > 0).astype(int), subj)}
    # the folded float replay must be the nested result itself (AUC: a tied pair may break apart)
    for st in ("without_baseline", "with_baseline"):
        a, b = variants["float"][st], report["nested"][st]
        if abs(a["balanced_accuracy"] - b["balanced_accuracy"]) > 1e-9 or abs(a["auc"] - b["auc"]) > 1e-4:
            raise SystemExit(f"folded weights do not reproduce the nested LOSO ({st})")
    comp = {"method": "feature_lr_nested", "variants": variants,
            "note": "LOSO of the nested procedure with each fold's chosen models folded into the graph's "
                    "weights (float), and the same weights after int8 quantization"}
    (out.parent / "stress_feature_compression.json").write_text(json.dumps(comp, indent=1))
    report["shipped"] = {"chosen": ex["chosen"], "offsets": ex["offsets"],
                         "calibration_scales": ex["calibration_scales"], "W": ex["W"], "bias": ex["bias"],
                         "onnx_checks": ex["checks"], "sizes": ex["sizes"], "variant": args.variant}
    out.write_text(json.dumps(report, indent=1))
    dst = Path(args.export_dir) / "stress.onnx"
    shutil.copy(ex["float_path"] if args.variant == "float" else ex["int8_path"], dst)
    rows = np.flatnonzero(data.eval_mask())
    loso_metrics = {"loso": {"method": "feature_lr_nested (nested leave-one-subject-out selection)",
                             "without_baseline": report["nested"]["without_baseline"],
                             "with_baseline": report["nested"]["with_baseline"],
                             "unscored_windows": report["unscored_windows"],
                             "candidate_windows": report["candidate_windows"]},
                    "protocol": report["protocol"],
                    "final_training": {"chosen": ex["chosen"], "offsets": ex["offsets"],
                                       "calibration_scales": ex["calibration_scales"], "windows": int(len(rows)),
                                       "subjects": int(len(np.unique(data.subject[rows])))},
                    "compression": comp}
    for st in ("without_baseline", "with_baseline"):  # keep the metadata small
        for k in ("chosen_per_fold", "chosen_in_order", "offsets"):
            loso_metrics["loso"][st] = {kk: v for kk, v in loso_metrics["loso"][st].items() if kk != k}
    train_final.write_metadata(Path(args.export_dir) / "stress.json", dst, data, [], ex["population_baseline"],
                               base_rows, rows, "stress-hrv-lr",
                               "none (float32)" if args.variant == "float" else "int8 weights, float activations",
                               loso_metrics, version=MODEL_VERSION,
                               required_features=required_features(design, np.asarray(ex["W"])))
    print(f"wrote {dst} ({dst.stat().st_size} bytes), sizes {ex['sizes']}, chosen {ex['chosen']}, "
          f"offsets {ex['offsets']}, calibration scales {ex['calibration_scales']}")
    for v, r in variants.items():
        print(f"  {v}: without {r['without_baseline']['balanced_accuracy']:.3f}/{r['without_baseline']['auc']:.3f} "
              f"with {r['with_baseline']['balanced_accuracy']:.3f}/{r['with_baseline']['auc']:.3f}")


def add_loso_rows(path: Path, report: dict, prefix: str, nested_only: bool = False) -> None:
    """Adds the nested results and the un-nested bests (not with `nested_only`) as rows
    `<prefix>_...` of the LOSO comparison report (the primary rule's row last)."""
    loso_rep = json.loads(path.read_text())
    extra = {"unscored_windows": report["unscored_windows"], "candidate_windows": report["candidate_windows"]}
    settings = ("without_baseline", "with_baseline")
    primary = report["protocol"]["selection"].split()[2]
    rows = {} if nested_only else {
        f"{prefix}_unnested_ba": {st: report["unnested"][st]["best_by_ba"] for st in settings},
        f"{prefix}_unnested_auc": {st: report["unnested"][st]["best_by_auc"] for st in settings}}
    for rule, v in report["nested_by_rule"].items():  # the primary rule's row last
        if rule != primary and not nested_only:
            rows[f"{prefix}_nested_{rule}"] = {st: v[st] for st in settings}
    rows[f"{prefix}_nested"] = {st: report["nested"][st] for st in settings}
    for k, v in rows.items():
        loso_rep["methods"].pop(k, None)  # re-added at the end (table order)
        loso_rep["methods"][k] = {**v, **extra, "source": "feature_models.py"}
    path.write_text(json.dumps(loso_rep, indent=1))


if __name__ == "__main__":
    main()
