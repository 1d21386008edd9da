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

import math
import zlib

import numpy as np
from numba import njit
from scipy.special import bdtr, bdtrik, pdtr, pdtrik

ID_STRIDE = 100_000_000  # entrant k of year t has id t·ID_STRIDE + k + 1; initial firms < ID_STRIDE

_NO_SUB = np.zeros(0, dtype=np.int64)
FROM_ZERO = 30.0  # below this mean, inversion searches from 0; above, from the mode
HUGE = 1e4  # from this mean, quantiles come from SciPy's inverse incomplete gamma / beta functions


_MASK = 2**64 - 1


def _scalar_mix(x: int) -> int:
    """The same finaliser on one Python integer (for keys)."""
    x &= _MASK
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & _MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


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
        self._keys: dict[str, np.uint64] = {}  # site -> its key, computed once a year

    def _key(self, site: str) -> np.uint64:
        key = self._keys.get(site)
        if key is None:
            key = self._keys[site] = np.uint64(self.streams.key(self.year, site))
        return key

    def uniform(self, site: str, ids: np.ndarray, sub: np.ndarray | None = None) -> np.ndarray:
        """Uniform on the open interval (0, 1), 53-bit resolution.

        ``sub`` separates several draws of one firm at one site (e.g. its payments in a queue).
        """
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        subs = _NO_SUB if sub is None else np.ascontiguousarray(sub, dtype=np.int64)
        out = np.empty(len(ids))
        _hash_uniform(ids, subs, self._key(site), out)
        return out

    def normal(self, site: str, ids: np.ndarray) -> np.ndarray:
        """Standard normal by Box–Muller on two 24-bit uniforms from one hash.

        Computed in single precision (a shock needs no more than 7 digits), returned as float64.
        """
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        u1, u2 = np.empty(len(ids), np.float32), np.empty(len(ids), np.float32)
        _hash_pair(ids, self._key(site), u1, u2)
        return (np.sqrt(np.float32(-2.0) * np.log(u1)) * np.cos(np.float32(2.0 * np.pi) * u2)).astype(
            np.float64
        )

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
        self._key = _scalar_mix(_scalar_mix(seed ^ 0xC0407) ^ ((year % 2**32) << 32 | site_code(cohort)))
        self._gens: dict[str, np.random.Generator] = {}

    def __call__(self, attribute: str) -> np.random.Generator:
        """The stream of one attribute (created on first use)."""
        gen = self._gens.get(attribute)
        if gen is None:
            seed = _scalar_mix(self._key ^ site_code(attribute))
            gen = self._gens[attribute] = np.random.Generator(np.random.PCG64(seed))
        return gen


# ---------------------------------------------------------------------------- kernels
# Compiled with numba (cached on disk): one pass per array instead of a dozen NumPy temporaries,
# and inversion loops that stop per firm. Each kernel is exact; docs/ODD.md §4.8 states the method.

_GOLDEN_I = 0x9E3779B97F4A7C15
_M1_I = 0xBF58476D1CE4E5B9
_M2_I = 0x94D049BB133111EB


@njit(cache=True)
def _hash_uniform(ids, subs, key, out):  # pragma: no cover - compiled
    for i in range(ids.shape[0]):
        z = np.uint64(ids[i]) * np.uint64(_GOLDEN_I) + np.uint64(key)
        if subs.shape[0]:
            z += (np.uint64(subs[i]) + np.uint64(1)) * np.uint64(_M2_I)
        z ^= z >> np.uint64(30)
        z *= np.uint64(_M1_I)
        z ^= z >> np.uint64(27)
        z *= np.uint64(_M2_I)
        z ^= z >> np.uint64(31)
        out[i] = (np.float64(z >> np.uint64(12)) + 0.5) * 2.220446049250313e-16  # (k + ½)/2⁵²: never 0 or 1


@njit(cache=True)
def _hash_pair(ids, key, u1, u2):  # pragma: no cover - compiled
    for i in range(ids.shape[0]):
        z = np.uint64(ids[i]) * np.uint64(_GOLDEN_I) + np.uint64(key)
        z ^= z >> np.uint64(30)
        z *= np.uint64(_M1_I)
        z ^= z >> np.uint64(27)
        z *= np.uint64(_M2_I)
        z ^= z >> np.uint64(31)
        u1[i] = (np.float32(z >> np.uint64(41)) + np.float32(0.5)) * np.float32(1.1920929e-07)  # (k + ½)/2²³
        u2[i] = np.float32((z >> np.uint64(8)) & np.uint64(0xFFFFFF)) * np.float32(5.9604645e-08)


@njit(cache=True)
def _poisson_inv(u, lam, out):  # pragma: no cover - compiled
    for i in range(u.shape[0]):
        m = lam[i]
        if m <= 0.0:
            out[i] = 0
            continue
        if m < FROM_ZERO:
            k = 0
            p = math.exp(-m)
            cdf = p
        else:  # start at the mode; its CDF by summing the pmf downwards until terms vanish
            k = int(math.floor(m))
            p = math.exp(k * math.log(m) - m - math.lgamma(k + 1.0))
            cdf, term, j = p, p, k
            while j > 0 and term > 1e-18 * cdf:
                term *= j / m
                j -= 1
                cdf += term
        while u[i] > cdf + 1e-12:
            k += 1
            p *= m / k
            if cdf + p == cdf:  # the pmf no longer moves the CDF (rounding): this is the tail's end
                break
            cdf += p
        while k > 0 and p > 0.0 and cdf - p >= u[i] * (1.0 - 1e-12):
            cdf -= p
            p *= k / m
            k -= 1
        out[i] = k


@njit(cache=True)
def _binomial_inv(u, n, prob, out):  # pragma: no cover - compiled
    odds = prob / (1.0 - prob)
    for i in range(u.shape[0]):
        trials = n[i]
        if trials <= 0:
            out[i] = 0
            continue
        mean = trials * prob
        if mean < FROM_ZERO:
            k = 0
            p = math.exp(trials * math.log1p(-prob))
            cdf = p
        else:
            k = min(int(math.floor(mean)), trials)
            p = math.exp(
                math.lgamma(trials + 1.0)
                - math.lgamma(k + 1.0)
                - math.lgamma(trials - k + 1.0)
                + k * math.log(prob)
                + (trials - k) * math.log1p(-prob)
            )
            cdf, term, j = p, p, k
            while j > 0 and term > 1e-18 * cdf:
                term *= j / ((trials - j + 1.0) * odds)
                j -= 1
                cdf += term
        while k < trials and u[i] > cdf + 1e-12:
            p *= (trials - k) / (k + 1.0) * odds
            k += 1
            if cdf + p == cdf:  # the pmf no longer moves the CDF (rounding): this is the tail's end
                break
            cdf += p
        while k > 0 and p > 0.0 and cdf - p >= u[i] * (1.0 - 1e-12):
            cdf -= p
            p *= k / ((trials - k + 1.0) * odds)
            k -= 1
        out[i] = k


def poisson_quantile(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Smallest k with P(X ≤ k) ≥ u for X ~ Poisson(λ), elementwise (exact inversion).

    Means below :data:`FROM_ZERO` are searched from 0 with the pmf recursion p(k+1) = p(k)·λ/(k+1);
    larger ones start at the mode, whose CDF is summed downwards from it.
    """
    u = np.ascontiguousarray(u, dtype=np.float64)
    lam = np.ascontiguousarray(np.broadcast_to(lam, u.shape), dtype=np.float64)
    if not np.isfinite(lam).all():
        raise ValueError("a Poisson mean is not finite (the run's state holds NaN or inf)")
    out = _invert_huge(lam, lambda q, r: pdtrik(q, lam[r]), lambda k, r: pdtr(k, lam[r]), u)
    rest = np.flatnonzero(out < 0)
    kernel_out = np.empty(len(rest), dtype=np.int64)
    _poisson_inv(u[rest], lam[rest], kernel_out)
    out[rest] = kernel_out
    return out


def binomial_quantile(u: np.ndarray, n: np.ndarray, p: float) -> np.ndarray:
    """Smallest k with P(X ≤ k) ≥ u for X ~ Binomial(n, p), elementwise (exact inversion, as Poisson)."""
    u = np.ascontiguousarray(u, dtype=np.float64)
    n = np.ascontiguousarray(np.broadcast_to(n, u.shape), dtype=np.int64)
    if p <= 0.0:
        return np.zeros(u.shape, dtype=np.int64)
    if p >= 1.0:
        return n.copy()
    out = _invert_huge(n * p, lambda q, r: bdtrik(q, n[r], p), lambda k, r: bdtr(k, n[r], p), u, top=n)
    rest = np.flatnonzero(out < 0)
    kernel_out = np.empty(len(rest), dtype=np.int64)
    _binomial_inv(u[rest], n[rest], float(p), kernel_out)
    out[rest] = kernel_out
    return out


def _invert_huge(mean: np.ndarray, inverse, cdf, u: np.ndarray, top: np.ndarray | None = None) -> np.ndarray:
    """Quantiles for means of :data:`HUGE` and more (−1 for the others, which the kernel inverts).

    There summing the pmf loses the far tails to rounding, so the regularised incomplete gamma or
    beta function (SciPy) is inverted instead, then checked one step down (as SciPy's own ppf).
    """
    known = np.full(mean.shape, -1, dtype=np.int64)
    rows = np.flatnonzero(mean >= HUGE)
    if len(rows):
        k = np.ceil(inverse(u[rows], rows))
        if top is not None:
            k = np.minimum(k, top[rows])
        below = np.maximum(k - 1, 0)
        known[rows] = np.where(cdf(below, rows) >= u[rows], below, k).astype(np.int64)
    return known
