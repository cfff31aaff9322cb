"""Reference values for server/monitoring/drift.test.ts, from SciPy's own functions.

Run:  python3 server/monitoring/reference/gen_drift_reference.py > server/monitoring/reference/drift-reference.json
(written with SciPy 1.17.1 and NumPy 2.4.6; the versions are recorded in the JSON).

What comes from a library, and what is our convention re-typed:
- KS statistic and p-value: scipy.stats.ks_2samp(method="auto") (nan_policy="omit" where a
  sample holds NaN); Wasserstein: scipy.stats.wasserstein_distance; Jensen–Shannon:
  scipy.spatial.distance.jensenshannon(base=2); chi-square: scipy.stats.chi2_contingency
  (correction=True, SciPy's default, and False); Benjamini–Hochberg:
  scipy.stats.false_discovery_control(method="bh"); bin edges: numpy.quantile (linear).
- Our conventions, written out here because no library defines them: the bins (reference
  deciles; top 30 reference categories, "(other)" for the rarer reference ones, one bin for
  values never seen in the reference), and PSI with empty bins smoothed to 1e-4 (PSI has
  no SciPy implementation: Σ (c − r)·ln(c / r)).
"""
import json
import math
import warnings

import numpy as np
import scipy
from scipy import stats
from scipy.spatial.distance import jensenshannon


def lcg(n, seed):
    # The same generator as drift.test.ts, in exact integer arithmetic.
    out, s = [], seed
    for _ in range(n):
        s = (s * 1103515245 + 12345) % 2147483648
        out.append(s / 2147483648)
    return out


def ks(a, b, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = stats.ks_2samp(a, b, method="auto", **kw)
    n1, n2 = np.sum(~np.isnan(a)), np.sum(~np.isnan(b))
    # "auto" is exact up to 10,000 a side unless the exact count fails (SciPy then warns).
    fell_back = any("Exact calculation unsuccessful" in str(w.message) for w in caught)
    method = "exact" if max(n1, n2) <= 10000 and not fell_back else "asymptotic"
    return {"statistic": float(r.statistic), "p": float(r.pvalue), "method": method}


# --- KS p-values over a grid of sizes, shifts and ties ---------------------------------
rng = np.random.default_rng(20)
sizes = [(5, 5), (5, 8), (7, 13), (10, 10), (20, 30), (50, 50), (60, 90), (100, 100), (100, 150), (250, 400),
         (500, 500), (1000, 999), (1000, 3000), (5000, 5000), (3000, 10000), (10000, 10000), (100, 20000),
         (20, 20000), (5, 20000), (1000, 20000), (10001, 10001), (20000, 20000), (20000, 100000),
         (50000, 60000), (200000, 200000)]
grid = []
for n1, n2 in sizes:
    for shift in (0.0, 0.1, 0.3, 1.0):
        for ties in (False, True):
            a = rng.normal(0, 1, n1)
            b = rng.normal(shift, 1, n2)
            if ties:  # ties-heavy: a handful of integer values
                a, b = np.round(a * 2), np.round(b * 2)
            r = ks(a, b)
            grid.append({"n1": n1, "n2": n2, "shift": shift, "ties": ties, **r})

# --- kstwo.sf(x, n) itself, across every branch of SciPy's _kolmogn -------------------
kstwo = []
for n in (1, 2, 3, 5, 10, 50, 140, 141, 500, 1000, 10000, 100000, 100001, 250000):
    for z in (0.2, 0.5, 0.8, 0.9, 1.2, 1.6, 2.2, 3.0, 5.0):   # x = z / √n
        x = z / math.sqrt(n)
        if x < 1:
            kstwo.append({"n": n, "x": x, "sf": float(stats.kstwo.sf(x, n))})
    for x in (0.55, 0.75, 1 - 0.5 / n):                          # the one-sided tail and Ruben–Gambino ends
        if 0 < x < 1:
            kstwo.append({"n": n, "x": x, "sf": float(stats.kstwo.sf(x, n))})

# --- Whole samples (the test regenerates them with the same LCG) ------------------------
ref = [20 + 40 * u for u in lcg(500, 1)]
shifted = [25 + 45 * u for u in lcg(300, 7)]
same = [20 + 40 * u for u in lcg(400, 99)]
ties_a = [math.floor(10 * u) for u in lcg(200, 3)]
ties_b = [math.floor(10 * u + 1) for u in lcg(300, 4)]
big = [20 + 40 * u for u in lcg(20000, 5)]
small = [22 + 40 * u for u in lcg(100, 11)]
constant = [30.0] * 150
samples = {
    "shifted": (ref, shifted), "same": (ref, same), "ties": (ties_a, ties_b),
    "constant_vs_varying": (constant, ref), "small_vs_20000": (small, big),
}


def edges(r, bins=10):
    e = []
    for i in range(1, bins):
        q = float(np.quantile(r, i / bins))
        if not e or q > e[-1]:
            e.append(q)
    return e


def hist(v, e):
    counts = [0] * (len(e) + 1)
    for i in np.searchsorted(e, v, side="left"):
        counts[int(i)] += 1
    return counts


def props(c, eps=0.0):
    t = sum(c)
    p = [max(x / t, eps) for x in c]
    s = sum(p)
    return [x / s for x in p]


def psi(r, c):
    rp, cp = props(r, 1e-4), props(c, 1e-4)
    return float(sum((ci - ri) * math.log(ci / ri) for ri, ci in zip(rp, cp)))


whole = {}
for name, (a, b) in samples.items():
    e = edges(a)
    hr, hc = hist(a, e), hist(b, e)
    whole[name] = {"ks": ks(a, b), "wasserstein": float(stats.wasserstein_distance(a, b)), "edges": e,
                   "ref_counts": hr, "cur_counts": hc, "psi": psi(hr, hc),
                   "js": float(jensenshannon(props(hr), props(hc), base=2))}
    # Input outliers: the reference's 0.1% and 99.9% quantiles (numpy.quantile, linear) and the
    # share of the current sample outside them.
    lo, hi = (float(x) for x in np.quantile(a, [0.001, 0.999]))
    whole[name]["outside"] = {"range": [lo, hi], "share": float(np.mean([(x < lo or x > hi) for x in b]))}

# Missing values: NaN in the samples; SciPy leaves them out with nan_policy="omit".
with_nan = ref[:]
for i in range(0, 500, 7):
    with_nan[i] = float("nan")
whole["nan_omitted"] = {"ks": ks(with_nan, shifted, nan_policy="omit"),
                        "wasserstein": float(stats.wasserstein_distance([x for x in with_nan if x == x], shifted))}


# --- Chi-square of homogeneity ---------------------------------------------------------
def chi2(table, correction):
    t = np.array(table)
    t = t[:, t.sum(axis=0) > 0]  # categories absent from both sides are dropped first
    r = stats.chi2_contingency(t, correction=correction)
    return {"statistic": float(r.statistic), "p": float(r.pvalue), "dof": int(r.dof)}


tables = {
    "unseen": [[120, 80, 50, 0], [40, 90, 30, 40]],
    "two_by_two": [[30, 70], [45, 55]],
    "two_by_two_small": [[3, 5], [4, 4]],       # |O − E| < 0.5 somewhere: Yates moves it by less than 0.5
    "two_by_two_empty_column": [[10, 0, 5], [12, 0, 9]],
    "large": [[5000, 3000, 2000], [4800, 3300, 1900]],
}
chi = {k: {"table": v, "yates": chi2(v, True), "plain": chi2(v, False)} for k, v in tables.items()}

# --- Many categories, unseen ones beyond the 30 kept ------------------------------------
cat_rng = np.random.default_rng(7)
names = [f"c{i:02d}" for i in range(60)]
w = 1 / np.arange(1, 61)
ref_cats = list(cat_rng.choice(names, 3000, p=w / w.sum()))
cur_names = names + ["new_a", "new_b", "new_c"]
w2 = np.concatenate([w, [0.05, 0.03, 0.01]])
cur_cats = list(cat_rng.choice(cur_names, 2000, p=w2 / w2.sum()))
freq = {}
for c in ref_cats:
    freq[c] = freq.get(c, 0) + 1
order = sorted(freq, key=lambda k: (-freq[k], k))
top, rest = order[:30], set(order[30:])
bins = top + ["(other)", "(not in reference)"]


def cat_counts(values):
    idx = {b: i for i, b in enumerate(top)}
    counts = [0] * len(bins)
    for v in values:
        counts[idx[v] if v in idx else (30 if v in rest else 31)] += 1
    return counts


rc, cc = cat_counts(ref_cats), cat_counts(cur_cats)
unseen = {}
for v in cur_cats:
    if v not in freq:
        unseen[v] = unseen.get(v, 0) + 1
many = {"reference": [str(x) for x in ref_cats], "current": [str(x) for x in cur_cats], "bins": bins,
        "ref_counts": rc, "cur_counts": cc, "chi2": chi2([rc, cc], True), "psi": psi(rc, cc),
        "js": float(jensenshannon(props(rc), props(cc), base=2)),
        "unseen": {k: v / len(cur_cats) for k, v in sorted(unseen.items())}}

# --- Missing share: a 2×2 chi-square (missing / present, reference / current), Yates ----
missing = {"reference": [480, 20], "current": [260, 40]}   # present, missing
missing["chi2"] = chi2([missing["reference"], missing["current"]], True)

# --- Benjamini–Hochberg ------------------------------------------------------------------
pv = [0.01, 0.04, 0.03, 0.20, 0.001, 0.5, 0.04]
bh = {"p": pv, "adjusted": [float(x) for x in stats.false_discovery_control(pv, method="bh")]}

print(json.dumps({"scipy": scipy.__version__, "numpy": np.__version__, "ks_grid": grid, "kstwo": kstwo, "whole": whole,
                  "chi2": chi, "many_categories": many, "missing": missing, "bh": bh}))
