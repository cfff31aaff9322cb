"""Reference values for the edge conventions in server/pipelines/metrics.test.ts.

Run:  python3 server/pipelines/reference/gen_metrics_reference.py > server/pipelines/reference/metrics-reference.json

scikit-learn and fairlearn are not installed on the machine that wrote this file (NumPy
only), so their definitions are written out below with NumPy, following their documented
behaviour, and say which function they stand for:
- macro averages (precision_recall_fscore_support(average="macro")): over
  unique_labels(y_true, y_pred) by default, or over `labels=`; zero_division=0;
- fairlearn.metrics: selection_rate, true_positive_rate / false_positive_rate (from
  sklearn's confusion_matrix(normalize="true"), whose 0/0 rows become 0),
  demographic_parity_difference / _ratio (between groups: max − min, min / max — NaN
  when every rate is 0), equalized_odds_difference (the larger of the TPR and FPR gaps).
The main sklearn literals of metrics.test.ts come from docs/reference/metrics-reference.py.
"""
import json

import numpy as np


def prf(y_true, y_pred, labels=None):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if labels is None:
        labels = np.unique(np.concatenate([y_true, y_pred]))  # sklearn's unique_labels
    p, r, f = [], [], []
    for c in labels:
        tp = np.sum((y_true == c) & (y_pred == c))
        pred = np.sum(y_pred == c)
        true = np.sum(y_true == c)
        pc = tp / pred if pred else 0.0
        rc = tp / true if true else 0.0
        p.append(pc)
        r.append(rc)
        f.append(2 * pc * rc / (pc + rc) if pc + rc else 0.0)
    return {"labels": [int(x) for x in labels], "precision": float(np.mean(p)), "recall": float(np.mean(r)), "f1": float(np.mean(f))}


rng = np.random.default_rng(20)
# Four classes in the label set; class 3 never occurs, class 2 only in predictions.
y4 = rng.integers(0, 2, 60)
p4 = np.where(rng.random(60) < 0.8, y4, 1 - y4)
p4[:5] = 2
macro = {"y_true": y4.tolist(), "y_pred": p4.tolist(), "k": 4,
         "present": prf(y4, p4), "all_labels": prf(y4, p4, labels=[0, 1, 2, 3])}


def fair(y, pred, g):
    y, pred, g = np.asarray(y), np.asarray(pred), np.asarray(g)
    groups = sorted(set(g.tolist()))
    sel, tpr, fpr = [], [], []
    for k in groups:
        m = g == k
        sel.append(float(np.mean(pred[m] == 1)))
        pos, neg = m & (y == 1), m & (y == 0)
        tpr.append(float(np.mean(pred[pos] == 1)) if pos.any() else 0.0)   # normalize="true": 0/0 → 0
        fpr.append(float(np.mean(pred[neg] == 1)) if neg.any() else 0.0)
    mx, mn = max(sel), min(sel)
    return {"y": y.tolist(), "pred": pred.tolist(), "g": g.tolist(), "selection": dict(zip(groups, sel)),
            "dpd": mx - mn, "dpr": (mn / mx) if mx > 0 else None,
            "eod": max(max(tpr) - min(tpr), max(fpr) - min(fpr))}


y = rng.integers(0, 2, 50)
pred = np.where(rng.random(50) < 0.7, y, 1 - y)
g = np.array(["a", "b", "c"])[rng.integers(0, 3, 50)]
y_nopos = y.copy()
y_nopos[g == "c"] = 0                        # group c has no positive labels
fairness = {
    "ordinary": fair(y, pred, g),
    "group_without_positives": fair(y_nopos, pred, g),
    "nobody_selected": fair(y, np.zeros(50, dtype=int), g),
}
print(json.dumps({"numpy": np.__version__, "macro": macro, "fairness": fairness}))
