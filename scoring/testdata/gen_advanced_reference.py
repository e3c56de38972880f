#!/usr/bin/python3
"""Reference values for the advanced scoring methods (issue 8).

Run with Debian's python3 (numpy, scipy, sklearn, PIL):
    /usr/bin/python3 scoring/testdata/gen_advanced_reference.py [DATASETS_DIR]
DATASETS_DIR defaults to ../shared/datasets next to the repository. Outputs go
to scoring/testdata/advanced/ (small, committed): one JSON per method with the
library versions, plus the few derived inputs (folds, resample indices,
simulated data, image features) the Go tests need to reproduce the splits.
Every random choice is seeded. Real data are read from DATASETS_DIR by both
this script and the Go tests; they are never copied here.
"""
import json, os, sys, zipfile, io
import numpy as np
import scipy, sklearn, PIL
from scipy import stats
from scipy.optimize import nnls
from scipy.spatial.distance import pdist, squareform
from sklearn.model_selection import KFold
from sklearn.linear_model import LinearRegression, Ridge, RidgeCV, RidgeClassifier

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "advanced")
os.makedirs(out, exist_ok=True)
data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "datasets")
VERSIONS = {"numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__, "PIL": PIL.__version__,
            "generator": "scoring/testdata/gen_advanced_reference.py"}


def dump(name, obj):
    obj = dict(obj)
    obj["versions"] = VERSIONS
    with open(os.path.join(out, name), "w") as f:
        json.dump(obj, f, indent=1)


def upper(rdm):
    i, j = np.triu_indices(rdm.shape[-1], 1)
    return rdm[..., i, j]


def pairs(n, idx):
    """Positions in an n-stimulus upper vector of pairs within idx (sorted)."""
    pos = np.full((n, n), -1)
    i, j = np.triu_indices(n, 1)
    pos[i, j] = np.arange(len(i))
    idx = np.sort(idx)
    a, b = np.triu_indices(len(idx), 1)
    return pos[idx[a], idx[b]]


def kfold(n, k, seed):
    f = np.zeros(n, dtype=int)
    for fi, (_, te) in enumerate(KFold(k, shuffle=True, random_state=seed).split(np.arange(n))):
        f[te] = fi
    return f


def spearman(a, b):
    return stats.spearmanr(a, b).correlation


kr = os.path.join(data, "kriegeskorte2008-92", "rdms")
models = upper(np.load(os.path.join(kr, "model_rdms.npy")))            # 8 × 4186
hit = upper(np.load(os.path.join(kr, "hIT_subject_rdms_sessionmean.npy")))  # 4 × 4186
n92 = 92

# ---------------------------------------------------------------- reweighting
rng = np.random.default_rng(8001)
A = rng.standard_normal((50, 8))
b = A @ np.array([1.0, -2, 0.5, 0, 3, -1, 0.2, 0]) + 0.3 * rng.standard_normal(50)
x_rand, rn_rand = nnls(A, b)
x_real, rn_real = nnls(models.T, hit.mean(0))
stim_folds = kfold(n92, 4, 0)
cells = {}
for intercept in (False, True):
    res = []
    for f in range(4):
        tr, te = np.where(stim_folds != f)[0], np.where(stim_folds == f)[0]
        ptr, pte = pairs(n92, tr), pairs(n92, te)
        for g in range(4):
            y = hit[[s for s in range(4) if s != g]][:, ptr].mean(0)
            X = models[:, ptr].T
            if intercept:
                w, _ = nnls(X - X.mean(0), y - y.mean())
                c = y.mean() - X.mean(0) @ w
            else:
                w, _ = nnls(X, y)
                c = 0.0
            pred = models[:, pte].T @ w + c
            score = spearman(pred, hit[g, pte])
            fit = [spearman(models[l, ptr], y) for l in range(8)]
            bl = int(np.nanargmax(fit))
            res.append({"stimulus_fold": f, "subject_fold": g, "weights": w.tolist(), "intercept": c,
                        "score": score, "best_layer": bl, "best_single": spearman(models[bl, pte], hit[g, pte])})
    cells["intercept" if intercept else "no_intercept"] = res
dump("reweight.json", {
    "source": "scipy.optimize.nnls; Kriegeskorte 2008 hIT session-mean subject RDMs vs its 8 model RDMs",
    "nnls_random": {"A": A.tolist(), "b": b.tolist(), "x": x_rand.tolist(), "rnorm": rn_rand},
    "nnls_real": {"x": x_real.tolist(), "rnorm": rn_real},
    "stimulus_folds": stim_folds.tolist(),
    "cv": cells,
})

# ------------------------------------------------------- variance partitioning
def ols_r2(y, X, tr, te):
    lr = LinearRegression().fit(X[tr], y[tr])
    pred = lr.predict(X[te])
    return 1 - np.sum((y[te] - pred) ** 2) / np.sum((y[te] - y[te].mean()) ** 2)  # sklearn r2_score


def partition(r2):
    full = len(r2) - 1
    g = lambda y: 0.0 if y == 0 else r2[full] - r2[full & ~y]
    parts = [0.0] * len(r2)
    for s in range(1, full + 1):
        y = s
        while True:
            parts[s] += (-1) ** bin(s ^ y).count("1") * g(y)
            if y == 0:
                break
            y = (y - 1) & s
    return parts


target = hit.mean(0)
vp_sets = {"two": [[0, 1], [3, 4, 5]], "three": [[0, 1], [3, 4, 5], [2]]}  # categorical | EVA,HMAX,V1 | monkeyIT
vp_folds = kfold(n92, 5, 1)
vp = {"stimulus_folds": vp_folds.tolist(), "sets": vp_sets}
for name, sets in vp_sets.items():
    k = len(sets)
    fold_r2 = []
    for f in range(5):
        tr, te = pairs(n92, np.where(vp_folds != f)[0]), pairs(n92, np.where(vp_folds == f)[0])
        r2 = [0.0] * (1 << k)
        for mask in range(1, 1 << k):
            cols = [c for i in range(k) if mask >> i & 1 for c in sets[i]]
            r2[mask] = ols_r2(target, models[cols].T, tr, te)
        fold_r2.append(r2)
    allp = np.arange(len(target))
    insample = [0.0] + [ols_r2(target, models[[c for i in range(k) if m >> i & 1 for c in sets[i]]].T, allp, allp)
                        for m in range(1, 1 << k)]
    mean_r2 = np.mean(fold_r2, axis=0).tolist()
    vp[name] = {"fold_r2": fold_r2, "r2": mean_r2, "parts": partition(mean_r2),
                "insample_r2": insample, "insample_parts": partition(insample)}
vp["source"] = ("sklearn.linear_model.LinearRegression on the Kriegeskorte 2008 hIT subject-mean RDM; "
                "predictor sets are rows of model_rdms.npy; KFold(5, shuffle=True, random_state=1) over stimuli")
dump("varpart.json", vp)

# ------------------------------------------------------------ model comparison
def bh(p):
    """Benjamini-Hochberg adjusted p-values, transcribed from
    scipy.stats.false_discovery_control (scipy 1.11, method='bh'), which
    Debian's scipy 1.10 lacks."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    ps = p[order]
    m = len(ps)
    ps = ps * m / np.arange(1, m + 1)
    ps = np.minimum.accumulate(ps[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.clip(ps, 0, 1)
    return q


def resample_upper(v, n, idx):
    full = squareform(v, checks=False)
    a, b = np.triu_indices(len(idx), 1)
    keep = idx[a] != idx[b]
    return full[idx[a][keep], idx[b][keep]]


it92 = upper(np.load(os.path.join(data, "algonauts2019-92", "rdms", "IT.npy")))  # 15 × 4186
mc_models = [2, 3, 4, 0]  # monkeyIT, EVA, HMAX, animacy (Kriegeskorte model RDMs; same 92 objects)
rng = np.random.default_rng(8003)
B = 200
res_stim = rng.integers(0, n92, size=(B, n92))
res_subj = rng.integers(0, it92.shape[0], size=(B, it92.shape[0]))
obs = [np.mean([spearman(models[m], s) for s in it92]) for m in mc_models]
boot = np.zeros((B, len(mc_models)))
for bi in range(B):
    subs = [resample_upper(it92[s], n92, res_stim[bi]) for s in res_subj[bi]]
    for k, m in enumerate(mc_models):
        mv = resample_upper(models[m], n92, res_stim[bi])
        boot[bi, k] = np.mean([spearman(mv, s) for s in subs])
mc_pairs = []
for a in range(len(mc_models)):
    for b2 in range(a + 1, len(mc_models)):
        d = boot[:, a] - boot[:, b2]
        p = min(1.0, 2 * (1 + min(np.sum(d <= 0), np.sum(d >= 0))) / (B + 1))
        mc_pairs.append({"a": a, "b": b2, "diff": obs[a] - obs[b2], "p": p,
                         "lower": np.percentile(d, 2.5), "upper": np.percentile(d, 97.5)})
for pr, q in zip(mc_pairs, bh([pr["p"] for pr in mc_pairs])):
    pr["q"] = q
# Benjamini & Hochberg (1995) section 4 example: 15 p-values, 4 rejected at q=0.05.
bh95 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240,
        0.4262, 0.5719, 0.6528, 0.7590, 1.000]
rand_p = rng.random(40) ** 3
dump("modelcmp.json", {
    "source": ("paired bootstrap over stimuli and subjects with scipy.stats.spearmanr; Algonauts 2019 92-image IT "
               "subject RDMs vs Kriegeskorte model RDMs (monkeyIT, EVA, HMAX, animacy); BH transcribed from "
               "scipy 1.11 false_discovery_control"),
    "models": mc_models, "resample_stimuli": res_stim.tolist(), "resample_subjects": res_subj.tolist(),
    "scores": obs, "boot": boot.tolist(), "pairs": mc_pairs,
    "bh1995_p": bh95, "bh1995_q": bh(bh95).tolist(), "random_p": rand_p.tolist(), "random_q": bh(rand_p).tolist(),
})

# ------------------------------------------------------------ time-resolved RSA
# No M/EEG data are available offline: simulate 4 subjects × 31 times × 16
# stimuli where layer A's RDM dominates at 0.14 s and layer B's at 0.30 s.
rng = np.random.default_rng(8004)
ts_n, ts_s = 16, 4
ts_times = np.round(np.arange(31) * 0.02 - 0.1, 10)
ts_models = np.stack([squareform(pdist(rng.standard_normal((ts_n, 10)), "correlation")) for _ in range(2)])
gain = lambda t, mu: np.exp(-(t - mu) ** 2 / (2 * 0.04 ** 2))
ts_rdms = np.zeros((ts_s, len(ts_times), ts_n, ts_n))
for s in range(ts_s):
    for t, tt in enumerate(ts_times):
        noise = np.abs(rng.standard_normal((ts_n, ts_n)))
        r = gain(tt, 0.14) * ts_models[0] + 0.8 * gain(tt, 0.30) * ts_models[1] + 0.6 * (noise + noise.T)
        np.fill_diagonal(r, 0)
        ts_rdms[s, t] = r
np.save(os.path.join(out, "timersa_rdms.npy"), ts_rdms)
np.save(os.path.join(out, "timersa_times.npy"), ts_times)
np.save(os.path.join(out, "timersa_models.npy"), ts_models)
tu = upper(ts_rdms)  # S × T × P
curves = []
for m in range(2):
    mv = upper(ts_models[m])
    subj = [[spearman(mv, tu[s, t]) for t in range(len(ts_times))] for s in range(ts_s)]
    score = np.mean(subj, axis=0)
    curves.append({"subject": subj, "score": score.tolist(), "se": stats.sem(subj, axis=0).tolist(),
                   "peak": int(np.argmax(score)), "peak_time": float(ts_times[np.argmax(score)])})
ceil_u, ceil_l = [], []
for t in range(len(ts_times)):
    mean_all = tu[:, t].mean(0)
    ceil_u.append(np.mean([spearman(tu[s, t], mean_all) for s in range(ts_s)]))
    ceil_l.append(np.mean([spearman(tu[s, t], np.delete(tu[:, t], s, 0).mean(0)) for s in range(ts_s)]))
dump("timersa.json", {"source": "simulated (seeded numpy), scipy.stats.spearmanr and scipy.stats.sem; peaks built in at 0.14 s and 0.30 s",
                      "curves": curves, "ceiling_upper": ceil_u, "ceiling_lower": ceil_l})

# --------------------------------------------------------------------- decoding
# Cowley 2023 V4 session 210305 (70 neurons × 400 images); targets are 8×8
# grey-level pixel features of the shown images (a stand-in for a layer until
# the runner provides activations) or their first 10 principal components.
from PIL import Image
from sklearn.decomposition import PCA

def image_features(zpath, grid=8):
    feats = []
    with zipfile.ZipFile(zpath) as z:
        for name in z.namelist():
            if not name.lower().endswith((".jpg", ".jpeg", ".png")):
                continue
            im = np.asarray(Image.open(io.BytesIO(z.read(name))).convert("L"), dtype=float) / 255
            h, w = im.shape
            feats.append(im[: h - h % grid, : w - w % grid].reshape(grid, h // grid, grid, w // grid).mean((1, 3)).ravel())
    return np.array(feats)

cw = os.path.join(data, "cowley2023-v4")
dec_x = np.load(os.path.join(cw, "responses_repeat_averaged", "responses_210305.npy")).T  # images × neurons
dec_feat = image_features(os.path.join(cw, "images", "images_210305.zip"))
np.save(os.path.join(out, "decode_pixels_210305.npy"), dec_feat)
dec_folds = kfold(dec_x.shape[0], 5, 2)
alphas = 10.0 ** (-2 + np.arange(19) / 2)
dec = {"source": ("sklearn RidgeCV(alphas=10^(-2..7 by 0.5), alpha_per_target=True) per outer fold, "
                  "Cowley 2023 V4 session 210305 responses -> 8x8 grey pixel features and their 10 sklearn PCA components"),
       "folds": dec_folds.tolist()}
for name, Y in (("pixels", dec_feat), ("pcs", PCA(10, svd_solver="full").fit_transform(dec_feat))):
    pred = np.zeros_like(Y)
    fold_r, fold_alpha = [], []
    for f in range(5):
        tr, te = dec_folds != f, dec_folds == f
        m = RidgeCV(alphas=alphas, alpha_per_target=True).fit(dec_x[tr], Y[tr])
        pred[te] = m.predict(dec_x[te])
        fold_r.append([np.corrcoef(pred[te][:, j], Y[te][:, j])[0, 1] for j in range(Y.shape[1])])
        fold_alpha.append(np.atleast_1d(m.alpha_).tolist())
    r = [np.corrcoef(pred[:, j], Y[:, j])[0, 1] for j in range(Y.shape[1])]
    dec[name] = {"r": r, "fold_r": fold_r, "fold_alpha": fold_alpha, "median_r": float(np.median(r)),
                 "pred_first_rows": pred[:20].tolist()}
dump("decode.json", dec)

# ---------------------------------------------------------- feature-weighted RSA
# Features of the Kriegeskorte 92 stimuli: mean RGB in a 6×6 grid (108
# features), grouped by colour channel × image quadrant (12 groups); and the
# first 8 principal components of the same features. Target: hIT subjects.
def grid_rgb(path, grid=6):
    im = np.asarray(Image.open(path).convert("RGB"), dtype=float) / 255
    h, w, _ = im.shape
    im = im[: h - h % grid, : w - w % grid]
    return im.reshape(grid, h // grid, grid, w // grid, 3).mean((1, 3))  # grid × grid × 3


def nnls_cv(comps, subj, folds, n):
    k = folds.max() + 1
    res = []
    for f in range(k):
        ptr, pte = pairs(n, np.where(folds != f)[0]), pairs(n, np.where(folds == f)[0])
        for g in range(len(subj)):
            y = subj[[s for s in range(len(subj)) if s != g]][:, ptr].mean(0)
            w, _ = nnls(comps[:, ptr].T, y)
            res.append({"weights": w.tolist(), "score": spearman(comps[:, pte].T @ w, subj[g, pte])})
    return res


stim_dir = os.path.join(data, "kriegeskorte2008-92", "stimuli")
fw_img = np.stack([grid_rgb(os.path.join(stim_dir, "img_%02d.png" % i)) for i in range(1, 93)])  # 92×6×6×3
fw_x = fw_img.reshape(92, -1)  # feature index = (row*6 + col)*3 + channel
rr, cc, ch = np.meshgrid(np.arange(6), np.arange(6), np.arange(3), indexing="ij")
fw_groups = (ch * 4 + (rr // 3) * 2 + (cc // 3)).ravel()
np.save(os.path.join(out, "fwrsa_features_kriegeskorte92.npy"), fw_x)
fw_comps = np.stack([upper(squareform(pdist(fw_x[:, fw_groups == g], "sqeuclidean"))) for g in range(12)])
pc_scores = PCA(8, svd_solver="full").fit_transform(fw_x)
fw_pc = np.stack([upper(squareform(pdist(pc_scores[:, [c]], "sqeuclidean"))) for c in range(8)])
fw_folds = kfold(n92, 4, 3)
dump("fwrsa.json", {
    "source": ("scipy pdist(sqeuclidean) components per group / per sklearn PCA component, scipy.optimize.nnls, "
               "spearmanr; Kriegeskorte 2008 stimuli (6x6 mean RGB) against hIT subject RDMs; "
               "KFold(4, shuffle=True, random_state=3) stimulus folds, leave-one-subject-out"),
    "groups": fw_groups.tolist(), "stimulus_folds": fw_folds.tolist(),
    "components_first": fw_comps[:, :50].tolist(), "pc_components_first": fw_pc[:, :50].tolist(),
    "groups_cv": nnls_cv(fw_comps, hit, fw_folds, n92), "pcs_cv": nnls_cv(fw_pc, hit, fw_folds, n92),
})

# --------------------------------------------------------------------- remixing
# sklearn RidgeClassifier on the 6x6 RGB features of the Kriegeskorte stimuli:
# trained on the odd-numbered images (not "in the benchmark"), applied to the
# even-numbered ones; 6 categories, and animate vs inanimate (binary).
import csv
with open(os.path.join(data, "kriegeskorte2008-92", "stimuli.csv")) as f:
    cats = [row["category"] for row in csv.DictReader(f)]
cat_names = sorted(set(cats))
cat_id = np.array([cat_names.index(c) for c in cats])
animate = np.array([0 if "inanimate" in c else 1 for c in cats])
tr_idx, te_idx = np.arange(0, 92, 2), np.arange(1, 92, 2)  # img_01, img_03, ... train
remix = {"source": "sklearn.linear_model.RidgeClassifier(alpha) decision_function; scipy pdist",
         "train": tr_idx.tolist(), "test": te_idx.tolist(), "category_names": cat_names}
for name, lab, alpha in (("categories", cat_id, 1.0), ("animate", animate, 10.0)):
    clf = RidgeClassifier(alpha=alpha).fit(fw_x[tr_idx], lab[tr_idx])
    dv = clf.decision_function(fw_x[te_idx])
    dv2 = dv.reshape(len(te_idx), -1)
    remix[name] = {"labels": lab.tolist(), "alpha": alpha, "decision": dv2.tolist(),
                   "rdm_euclidean": pdist(dv2, "euclidean").tolist(),
                   "rdm_correlation": pdist(dv2, "correlation").tolist() if dv2.shape[1] > 2 else None}
dump("remix.json", remix)
