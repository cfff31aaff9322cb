import json, numpy as np
from sklearn import metrics
from sklearn.calibration import calibration_curve
rng = np.random.default_rng(7)
n = 40
y = rng.integers(0, 2, n)
s = np.round(np.clip(0.3*y + rng.random(n)*0.7, 0, 1), 1)  # coarse: many ties
pred = (s >= 0.5).astype(int)
g = np.array(['a','b','c'])[rng.integers(0,3,n)]
out = dict(y=y.tolist(), s=s.tolist(), pred=pred.tolist(), g=g.tolist())
out['auc'] = metrics.roc_auc_score(y, s)
out['ap'] = metrics.average_precision_score(y, s)
out['logloss'] = metrics.log_loss(y, s.clip(0.05, 0.95))
out['brier'] = metrics.brier_score_loss(y, s)
out['acc'] = metrics.accuracy_score(y, pred)
p, r, f, sup = metrics.precision_recall_fscore_support(y, pred)
out['prf'] = [p.tolist(), r.tolist(), f.tolist(), sup.tolist()]
out['f1_macro'] = metrics.f1_score(y, pred, average='macro')
pt, pp = calibration_curve(y, s, n_bins=10)
out['calib'] = [pp.tolist(), pt.tolist()]
fpr, tpr, th = metrics.roc_curve(y, s, drop_intermediate=False)
out['roc'] = [fpr.tolist(), tpr.tolist()]
y3 = rng.integers(0, 3, 30)
P = rng.random((30,3)) + np.eye(3)[y3]*0.8
P = np.round(P / P.sum(1, keepdims=True), 3)
out['y3'] = y3.tolist(); out['P'] = P.tolist()
P6 = np.array(out['P'])
out['auc_ovr'] = metrics.roc_auc_score(y3, P6 / P6.sum(1, keepdims=True), multi_class='ovr', average='macro')
out['logloss3'] = metrics.log_loss(y3, P6)
pred3 = P6.argmax(1)
out['f1_macro3'] = metrics.f1_score(y3, pred3, average='macro')
out['prec_macro3'] = metrics.precision_score(y3, pred3, average='macro')
out['cm3'] = metrics.confusion_matrix(y3, pred3).tolist()
yt = np.round(rng.normal(10, 3, 25), 2); yp = np.round(yt + rng.normal(0, 1, 25), 2)
out['yt'] = yt.tolist(); out['yp'] = yp.tolist()
out['mae'] = metrics.mean_absolute_error(yt, yp); out['rmse'] = metrics.mean_squared_error(yt, yp) ** 0.5; out['r2'] = metrics.r2_score(yt, yp)
sel = {k: pred[g==k].mean() for k in 'abc'}
tpr_ = {k: pred[(g==k)&(y==1)].mean() for k in 'abc'}
fpr_ = {k: pred[(g==k)&(y==0)].mean() for k in 'abc'}
out['dpd'] = max(sel.values())-min(sel.values()); out['dpr'] = min(sel.values())/max(sel.values())
out['eod'] = max(max(tpr_.values())-min(tpr_.values()), max(fpr_.values())-min(fpr_.values()))
out['sel'] = sel
print(json.dumps(out))
