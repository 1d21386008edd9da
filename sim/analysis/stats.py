"""Interval statistics shared by every analysis of replicated runs.

* ``p05``/``p95`` — the 5th and 95th percentiles over replications: where 90 % of outcomes
  fall (the uncertainty a planner faces in one realisation);
* ``ci_low``/``ci_high`` — the 95 % confidence interval of the mean (Student t over
  replications; for ratios a paired percentile bootstrap with a fixed seed).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

BOOTSTRAP = 2000


def mean_interval(values: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Mean, t confidence interval of the mean, and the 5–95 % spread of ``values``."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    mean = float(x.mean()) if n else np.nan
    if n > 1 and np.ptp(x) > 0:
        half = stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n)
    else:
        half = 0.0 if n else np.nan
    lo, hi = np.percentile(x, [5, 95]) if n else (np.nan, np.nan)
    return {
        "mean": mean,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "p05": float(lo),
        "p95": float(hi),
        "n": n,
    }


def ratio_interval(num: np.ndarray, den: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Ratio of means with a paired percentile-bootstrap 95 % interval (NaN if den ≈ 0)."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    n = len(num)
    if n == 0 or abs(den.mean()) < 1e-12:
        return {"mean": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": n}
    idx = np.random.default_rng(seed).integers(0, n, size=(BOOTSTRAP, n))
    d = den[idx].mean(axis=1)
    ratios = np.where(np.abs(d) > 1e-12, num[idx].mean(axis=1) / np.where(d == 0, 1, d), np.nan)
    lo, hi = np.nanpercentile(ratios, [2.5, 97.5])
    return {"mean": float(num.mean() / den.mean()), "ci_low": float(lo), "ci_high": float(hi), "n": n}
