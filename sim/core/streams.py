"""Random numbers that hold firm by firm: common random numbers at the level of one firm.

Every draw of the yearly step is a pure function of (run seed, year, draw site, firm id): a
counter-based generator (the SplitMix64 finaliser, Steele, Lea & Flood 2014) hashes the four
into 64 random bits, which are turned into a uniform, normal, Laplace, Poisson or binomial draw
by inversion or Box–Muller. So a lever that draws random numbers, or that changes one firm's
fate (its size, its exit, its certificates), leaves every other firm's draws unchanged: two
runs of one economy that differ in their policy package see the same shocks firm by firm, and
"would this firm have been certified without the award?" has an answer.

Cohorts (the initial population and each year's entrants) are drawn from one sequential stream
per attribute, seeded by (run seed, year, cohort, attribute): entrant *k* of a year gets the same
attributes in every run, however many entrants the year has. Draws that couple firms anyway (a
capped lottery of grants) use a generator of their own per (run seed, year, site), so they shift
no other stream.

Firm ids are stable across runs for the same reason: the initial firms are 1..N and entrant *k*
of year *t* is ``t·10⁸ + k + 1`` (:func:`entrant_ids`), whatever happened before.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy.special import bdtr, gammaln, pdtr

ID_STRIDE = 100_000_000  # entrant k of year t has id t·ID_STRIDE + k + 1; initial firms < ID_STRIDE

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11, _S32 = (np.uint64(s) for s in (30, 27, 31, 11, 32))
_TO_UNIT53 = 1.0 / 2.0**53
_TO_UNIT32 = 1.0 / 2.0**32
MODE_START = 3.0  # above this mean, inversion starts at the mode instead of at 0 (fewer steps)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser, in place: 64 well-mixed bits from a 64-bit counter."""
    t = z >> _S30
    z ^= t
    z *= _M1
    np.right_shift(z, _S27, out=t)
    z ^= t
    z *= _M2
    np.right_shift(z, _S31, out=t)
    z ^= t
    return z


def _scalar_mix(x: int) -> int:
    """The same finaliser on one Python integer (for keys)."""
    return int(_mix(np.array([x % 2**64], dtype=np.uint64))[0])


def site_code(site: str) -> int:
    """A draw site's 32-bit code, fixed by its name (not by the order sites are used in)."""
    return zlib.crc32(site.encode("utf-8"))


def entrant_ids(year: int, n: int) -> np.ndarray:
    """Firm ids of a year's ``n`` entrants: the same ids in every run of the economy."""
    return year * ID_STRIDE + 1 + np.arange(n, dtype=np.int64)


class Streams:
    """All random numbers of one run, keyed by the run's seed."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed) % 2**63
        self._key = _scalar_mix(self.seed ^ 0x5EED)

    def year(self, year: int) -> YearDraws:
        """Draws of one calendar year."""
        return YearDraws(self, year)

    def cohort(self, year: int, cohort: str) -> CohortDraws:
        """Sequential per-attribute streams for the firms created in ``year`` (initial or entrants)."""
        return CohortDraws(self.seed, year, cohort)

    def key(self, year: int, site: str) -> int:
        """The 64-bit key of one (year, site): what firm ids are hashed with."""
        return _scalar_mix(self._key ^ _scalar_mix((year % 2**32) << 32 | site_code(site)))


class YearDraws:
    """Draws of one year: each a function of (seed, year, site, firm id) only."""

    def __init__(self, streams: Streams, year: int) -> None:
        self.streams = streams
        self.year = year

    def bits(self, site: str, ids: np.ndarray, sub: np.ndarray | None = None) -> np.ndarray:
        """64 random bits per id (``sub`` separates several draws of one firm at one site)."""
        z = np.asarray(ids, dtype=np.int64).astype(np.uint64) * _GOLDEN
        if sub is not None:
            z += (np.asarray(sub, dtype=np.int64).astype(np.uint64) + np.uint64(1)) * _M2
        z += np.uint64(self.streams.key(self.year, site))
        return _mix(z)

    def uniform(self, site: str, ids: np.ndarray, sub: np.ndarray | None = None) -> np.ndarray:
        """Uniform on the open interval (0, 1), 53-bit resolution."""
        z = self.bits(site, ids, sub) >> _S11
        return (z.astype(np.float64) + 0.5) * _TO_UNIT53

    def normal(self, site: str, ids: np.ndarray) -> np.ndarray:
        """Standard normal by Box–Muller on the two 32-bit halves of one hash."""
        z = self.bits(site, ids)
        u1 = ((z >> _S32).astype(np.float64) + 0.5) * _TO_UNIT32
        u2 = ((z & np.uint64(0xFFFFFFFF)).astype(np.float64) + 0.5) * _TO_UNIT32
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)

    def laplace(self, site: str, ids: np.ndarray) -> np.ndarray:
        """Standard Laplace (location 0, scale 1) by inversion."""
        u = self.uniform(site, ids) - 0.5
        return -np.sign(u) * np.log1p(-2.0 * np.abs(u))

    def poisson(self, site: str, ids: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """Poisson(λ) per firm by inversion of its CDF (exact)."""
        lam = np.broadcast_to(np.asarray(lam, dtype=np.float64), np.shape(ids))
        return poisson_quantile(self.uniform(site, ids), lam)

    def binomial(self, site: str, ids: np.ndarray, n: np.ndarray, p: float) -> np.ndarray:
        """Binomial(n, p) per firm by inversion of its CDF (exact)."""
        return binomial_quantile(self.uniform(site, ids), np.asarray(n, dtype=np.int64), p)

    def generator(self, site: str) -> np.random.Generator:
        """A generator of its own for draws that couple firms anyway (e.g. a capped lottery)."""
        return np.random.default_rng([self.streams.seed, self.year % 2**32, site_code(site)])


class CohortDraws:
    """One sequential generator per attribute of a cohort: entrant k's draws do not depend on n."""

    def __init__(self, seed: int, year: int, cohort: str) -> None:
        self._entropy = (seed, year % 2**32, site_code(cohort))
        self._gens: dict[str, np.random.Generator] = {}

    def __call__(self, attribute: str) -> np.random.Generator:
        """The stream of one attribute (created on first use)."""
        if attribute not in self._gens:
            self._gens[attribute] = np.random.default_rng([*self._entropy, site_code(attribute)])
        return self._gens[attribute]


# ---------------------------------------------------------------------------- inversion


def poisson_quantile(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Smallest k with P(X ≤ k) ≥ u for X ~ Poisson(λ), elementwise.

    The search starts at the mode (P(X ≤ ⌊λ⌋) from the regularised gamma function), so it takes
    a few steps of the pmf recursion p(k+1) = p(k)·λ/(k+1) for any λ, small or large.
    """
    u = np.asarray(u, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    out = np.zeros(u.shape, dtype=np.int64)
    live = np.flatnonzero(lam > 0)
    if not len(live):
        return out
    lv, uv = lam[live], u[live]
    k = np.where(lv < MODE_START, 0.0, np.floor(lv))
    pmf = np.exp(-lv)  # P(X = 0), the start below MODE_START
    cdf = pmf.copy()
    big = np.flatnonzero(lv >= MODE_START)
    if len(big):
        kb, lb = k[big], lv[big]
        cdf[big] = pdtr(kb, lb)
        pmf[big] = np.exp(kb * np.log(lb) - lb - gammaln(kb + 1.0))
    k, cdf = _search(uv, k, cdf, pmf, lambda kk, r: lv[r] / (kk + 1.0), lambda kk, r: kk / lv[r])
    out[live] = k.astype(np.int64)
    return out


def binomial_quantile(u: np.ndarray, n: np.ndarray, p: float) -> np.ndarray:
    """Smallest k with P(X ≤ k) ≥ u for X ~ Binomial(n, p), elementwise, started at the mode."""
    u = np.asarray(u, dtype=np.float64)
    n = np.asarray(n, dtype=np.int64)
    out = np.zeros(u.shape, dtype=np.int64)
    if p <= 0.0:
        return out
    if p >= 1.0:
        return n.copy()
    live = np.flatnonzero(n > 0)
    if not len(live):
        return out
    nv, uv = n[live].astype(np.float64), u[live]
    k = np.where(nv * p < MODE_START, 0.0, np.minimum(np.floor((nv + 1.0) * p), nv))
    pmf = np.exp(nv * np.log1p(-p))  # P(X = 0), the start below MODE_START
    cdf = pmf.copy()
    big = np.flatnonzero(nv * p >= MODE_START)
    if len(big):
        kb, nb = k[big], nv[big]
        cdf[big] = bdtr(kb, nb.astype(np.int64), p)
        logpmf = (
            gammaln(nb + 1)
            - gammaln(kb + 1)
            - gammaln(nb - kb + 1)
            + kb * np.log(p)
            + (nb - kb) * np.log1p(-p)
        )
        pmf[big] = np.exp(logpmf)
    odds = p / (1.0 - p)
    k, cdf = _search(
        uv,
        k,
        cdf,
        pmf,
        lambda kk, r: (nv[r] - kk) / (kk + 1.0) * odds,
        lambda kk, r: kk / ((nv[r] - kk + 1.0) * odds),
        top=nv,
    )
    out[live] = k.astype(np.int64)
    return out


def _search(u, k, cdf, pmf, up_ratio, down_ratio, top=None):
    """Walk from a start k (with its CDF and pmf) to the quantile of each u.

    Up while u > F(k): p ← p·up(k), k ← k+1, F ← F+p. Down while F(k−1) = F(k) − p(k) ≥ u.
    ``up_ratio(k, rows)`` = p(k+1)/p(k) and ``down_ratio(k, rows)`` = p(k−1)/p(k) for the rows
    that move (a rounding tolerance sends a draw on a CDF step to the lower value).
    """
    k, cdf, pmf = k.copy(), cdf.copy(), pmf.copy()
    tol = 1e-12
    rows = np.flatnonzero(u > cdf + tol)
    while len(rows):
        if top is not None:
            rows = rows[k[rows] < top[rows]]
            if not len(rows):
                break
        pmf[rows] *= up_ratio(k[rows], rows)
        k[rows] += 1.0
        cdf[rows] += pmf[rows]
        rows = rows[u[rows] > cdf[rows] + tol]
    rows = np.flatnonzero((k > 0) & (cdf - pmf >= u - tol))
    while len(rows):
        cdf[rows] -= pmf[rows]
        pmf[rows] *= down_ratio(k[rows], rows)
        k[rows] -= 1.0
        rows = rows[(k[rows] > 0) & (cdf[rows] - pmf[rows] >= u[rows] - tol)]
    return k, cdf
