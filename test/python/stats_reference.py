"""numpy/scipy/mpmath reference values for test/unit/stats: reads a JSON list of requests on stdin."""
import json
import sys

import mpmath
import numpy as np
from scipy import stats

mpmath.mp.dps = 50
np.seterr(all="ignore")  # scipy.stats.t.pdf overflows harmlessly in its own formula at |t| = 1e8


def exact_cdf(t, df):
    t, df = mpmath.mpf(t), mpmath.mpf(df)
    tail = mpmath.betainc(df / 2, mpmath.mpf(1) / 2, 0, df / (df + t * t), regularized=True) / 2
    return tail if t < 0 else 1 - tail


def exact_ppf(p, df):
    """40-digit root of the exact CDF: scipy 1.10's t.ppf itself is only good to ~1e-9 relative."""
    if p == 0.5:
        return 0.0
    q = mpmath.mpf(min(p, 1 - p)) if p < 0.5 else 1 - mpmath.mpf(p)
    df_m = mpmath.mpf(df)

    def log_tail_gap(t):  # log P(T > t) - log q for t > 0, well scaled however small q is
        return mpmath.log(mpmath.betainc(df_m / 2, mpmath.mpf(1) / 2, 0, df_m / (df_m + t * t), regularized=True) / 2) - mpmath.log(q)

    start = mpmath.mpf(abs(float(stats.t.ppf(p, df))))
    t = mpmath.findroot(log_tail_gap, (start, start * (1 + mpmath.mpf(10) ** -6)), solver="secant",
                        tol=mpmath.mpf(10) ** -60, verify=False)
    assert abs(log_tail_gap(t)) < mpmath.mpf(10) ** -25, (p, df)
    return -t if p < 0.5 else t


def run(req):
    kind = req["kind"]
    if kind == "moments":
        a = np.array(req["values"], dtype=np.float64)
        return {"sum": float(a.sum()), "mean": float(np.mean(a)), "std": float(np.std(a, ddof=1)) if len(a) > 1 else None}
    if kind == "summary":
        a = np.array(req["values"], dtype=np.float64)
        # t.interval is loc -+ ppf * scale; taking (hi - lo) / 2 would cancel digits when the mean is large.
        q = (1 + req["level"]) / 2
        half = stats.t.ppf(q, len(a) - 1) * stats.sem(a)
        return {"mean": float(np.mean(a)), "std": float(np.std(a, ddof=1)), "half": float(half),
                "half_exact": float(exact_ppf(q, len(a) - 1) * stats.sem(a)), "ppf_exact": float(exact_ppf(q, len(a) - 1)),
                "ppf": float(stats.t.ppf((1 + req["level"]) / 2, len(a) - 1))}
    if kind == "welch":
        r = stats.ttest_ind(req["a"], req["b"], equal_var=False)
        v1, v2 = np.var(req["a"], ddof=1) / len(req["a"]), np.var(req["b"], ddof=1) / len(req["b"])
        df = (v1 + v2) ** 2 / (v1 ** 2 / (len(req["a"]) - 1) + v2 ** 2 / (len(req["b"]) - 1))
        return {"statistic": float(r.statistic), "pvalue": float(r.pvalue), "df": float(df)}
    if kind == "paired":
        r = stats.ttest_rel(req["a"], req["b"])
        return {"statistic": float(r.statistic), "pvalue": float(r.pvalue), "df": float(r.df)}
    if kind == "t":
        return {"ppf": [float(stats.t.ppf(p, req["df"])) for p in req["p"]],
                "ppf_exact": [float(exact_ppf(p, req["df"])) for p in req["p"]],
                "cdf": [float(stats.t.cdf(t, req["df"])) for t in req["t"]],
                "pdf": [float(stats.t.pdf(t, req["df"])) for t in req["t"]]}
    # Special functions against 40-digit mpmath (scipy's betaln loses ~1e-11 for very unequal arguments).
    if kind == "gammaln":
        return [float(mpmath.loggamma(x)) for x in req["x"]]
    if kind == "betaln":
        return [float(mpmath.log(mpmath.beta(a, b))) for a, b in req["ab"]]
    if kind == "betainc":
        return [float(mpmath.betainc(a, b, 0, x, regularized=True)) for a, b, x in req["abx"]]
    raise ValueError(kind)


print(json.dumps([run(r) for r in json.load(sys.stdin)]))
