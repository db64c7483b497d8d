"""Reference cells of the paper-style results table, recomputed with numpy and scipy from the per-seed values.

stdin JSON: {"digits": D, "rows": [{"acc": [...], "f1": [...], "ref": index of the reference row or null,
             "pubAcc": number or null, "pubF1": number or null}, ...]}
stdout JSON: per row {"acc": "0.812 ± 0.004**", "f1": ..., "dAcc": "+0.012" or "", "dF1": ..., "pAcc": p or null, "pF1": ...}
Marks: *** p < 0.001, ** p < 0.01, * p < 0.05 (Welch's t-test, scipy.stats.ttest_ind(equal_var=False)).
"""
import json
import sys

import numpy as np
from scipy import stats


def mean_ci(values, level=0.95):
    a = np.asarray(values, dtype=float)
    m = float(np.mean(a))
    if len(a) < 2:
        return m, None
    lo, hi = stats.t.interval(level, len(a) - 1, loc=m, scale=stats.sem(a))
    return m, (hi - lo) / 2


def mark(p):
    if p is None:
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def diff(ours, published, digits):
    if published is None:
        return ""
    text = f"{abs(ours - published):.{digits}f}"
    if float(text) == 0:
        return text
    return ("+" if ours > published else "-") + text


def main():
    req = json.load(sys.stdin)
    d = req["digits"]
    out = []
    for row in req["rows"]:
        cells = {}
        for key, pub, dkey, pkey in (("acc", "pubAcc", "dAcc", "pAcc"), ("f1", "pubF1", "dF1", "pF1")):
            m, half = mean_ci(row[key])
            p = None
            ref = row["ref"]
            if ref is not None and len(row[key]) > 1 and len(req["rows"][ref][key]) > 1:
                p = float(stats.ttest_ind(row[key], req["rows"][ref][key], equal_var=False).pvalue)
            text = f"{m:.{d}f}" + (f" ± {half:.{d}f}" if half is not None else "") + mark(p)
            cells[key] = text
            cells[pkey] = p
            cells[dkey] = diff(m, row[pub], d)
        out.append(cells)
    print(json.dumps(out))


main()
