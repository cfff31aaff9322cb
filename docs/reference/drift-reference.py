"""Reference values for server/monitoring/drift.test.ts, computed once with SciPy 1.10.1
(Debian bookworm's python3-scipy). Run: /usr/bin/python3 docs/reference/drift-reference.py
The samples are deterministic (written out below), so the literals in the test are exact."""
import json
import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

def lcg(n, seed):
    out, s = [], seed
    for _ in range(n):
        s = (s * 1103515245 + 12345) % 2147483648
        out.append(s / 2147483648)
    return out

ref = [20 + 40 * u for u in lcg(500, 1)]            # uniform 20..60
cur = [25 + 45 * u for u in lcg(300, 7)]            # shifted, wider
same = [20 + 40 * u for u in lcg(400, 99)]          # same distribution

def edges(r, bins=10):
    e = []
    for i in range(1, bins):
        q = float(np.quantile(r, i / bins))
        if not e or q > e[-1]:
            e.append(q)
    return e

def hist(v, e):
    counts = [0] * (len(e) + 1)
    for x in v:
        counts[int(np.searchsorted(e, x, side="left"))] += 1
    return counts

def props(c, eps=0.0):
    t = sum(c)
    p = [max(x / t, eps) for x in c]
    s = sum(p)
    return [x / s for x in p]

def psi(r, c):
    rp, cp = props(r, 1e-4), props(c, 1e-4)
    return sum((ci - ri) * np.log(ci / ri) for ri, ci in zip(rp, cp))

out = {}
for name, c in [("shifted", cur), ("same", same)]:
    e = edges(ref)
    hr, hc = hist(ref, e), hist(c, e)
    # The asymptotic Kolmogorov distribution (as R's ks.test(exact = FALSE)); SciPy's own
    # method="asymp" uses the finite-n kstwo at round(n·m/(n+m)) instead.
    d = stats.ks_2samp(ref, c).statistic
    ks = type("KS", (), {"statistic": d, "pvalue": stats.kstwobign.sf(np.sqrt(len(ref) * len(c) / (len(ref) + len(c))) * d)})
    out[name] = {
        "edges": e, "ref_counts": hr, "cur_counts": hc,
        "psi": psi(hr, hc),
        "js": float(jensenshannon(props(hr), props(hc), base=2)),
        "ks_stat": float(ks.statistic), "ks_p": float(ks.pvalue),
        "wasserstein": float(stats.wasserstein_distance(ref, c)),
    }

# Empty bins: a current window entirely inside one reference bin.
e = edges(ref)
inside = [30.0] * 150
hr, hc = hist(ref, e), hist(inside, e)
out["one_bin"] = {"cur_counts": hc, "psi": psi(hr, hc), "js": float(jensenshannon(props(hr), props(hc), base=2))}

# Categorical: chi-square of homogeneity on the 2×k table (no correction), with an unseen category.
ref_cat = [120, 80, 50, 0]   # north, south, east, (not in reference)
cur_cat = [40, 90, 30, 40]
chi2, p, dof, _ = stats.chi2_contingency(np.array([ref_cat, cur_cat]), correction=False)
out["chi2"] = {"stat": float(chi2), "p": float(p), "dof": int(dof), "psi": psi(ref_cat, cur_cat)}

# Benjamini–Hochberg (same as statsmodels fdr_bh).
pv = [0.01, 0.04, 0.03, 0.20, 0.001, 0.5]
ranked = np.argsort(pv)
n = len(pv)
adj = np.empty(n)
m = 1.0
for k in range(n - 1, -1, -1):
    i = ranked[k]
    m = min(m, pv[i] * n / (k + 1))
    adj[i] = min(1.0, m)
out["bh"] = {"p": pv, "adjusted": adj.tolist()}

print(json.dumps(out, indent=1))
