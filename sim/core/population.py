"""Population synthesis: the initial firms and each year's entrants (docs/ODD.md §5).

Every distribution and its parameters come from the scenario's ``[population]`` and
``[dynamics]`` sections; this module only turns them into columns. Each attribute is drawn from
its own stream of the cohort (:class:`~sim.core.streams.CohortDraws`), so firm *k* of a cohort
gets the same attributes however many firms the cohort has.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.special import expit, logit, ndtr, ndtri

from sim.core.dynamics import size_factor
from sim.core.firms import MAX_DEBT_RATIO, blank
from sim.core.scenario import Dynamics, Population, SizeTilted
from sim.core.streams import CohortDraws


def heavy_tailed_revenue(
    rng: np.random.Generator, n: int, median: float, sigma: float, tail_share: float, alpha: float
) -> np.ndarray:
    """Log-normal body with a Pareto upper tail of index ``alpha`` above the top ``tail_share``.

    The tail is a monotone transform of the same normal draw, so ranks are kept and sizes
    are continuous where the tail starts (the Zipf-like upper tail of firm sizes).
    """
    z = rng.standard_normal(n)
    revenue = median * np.exp(sigma * z)
    if tail_share > 0.0:
        z_cut = ndtri(1.0 - tail_share)
        x_cut = median * np.exp(sigma * z_cut)
        in_tail = z > z_cut
        exceed = (1.0 - ndtr(z[in_tail])) / tail_share  # in (0, 1]
        revenue[in_tail] = x_cut * exceed ** (-1.0 / alpha)
    return revenue


def _categorical(rng: np.random.Generator, shares: list[float], n: int) -> np.ndarray:
    """Category codes 0..k-1 drawn with the given shares (inverse CDF of one uniform each)."""
    cdf = np.cumsum(shares)
    return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(shares) - 1)


def _size_tilted(rng: np.random.Generator, trait: SizeTilted, log_rel_size: np.ndarray) -> np.ndarray:
    share = np.clip(trait.share_at_median, 1e-9, 1 - 1e-9)
    p = expit(logit(share) + trait.size_slope * log_rel_size)
    return rng.random(len(log_rel_size)) < p


def synthesise(
    draws: CohortDraws,
    ids: np.ndarray,
    pop: Population,
    dyn: Dynamics,
    year: int,
    newborn: bool = False,
    given: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Columns for the firms ``ids`` observed at the end of ``year``.

    ``newborn`` firms (entrants) are age 0, small (the entrant revenue distribution), with no
    history, IP, equity or certificates; initial firms carry a consistent history instead.

    ``given`` holds what is known of the firms (a firm file: one array per attribute, NaN where
    a firm's value is unknown). A known value replaces the draw, and every attribute drawn
    after it is drawn conditional on it the way the synthetic population is: the history from
    the given revenue, R&D propensity from the given R&D ÷ revenue, IP from the R&D, the R&D
    institution from the R&D, employees' productivity from revenue ÷ employees, size-tilted
    traits from the revenue, the firm's long-run debt and margin from the observed ones, its
    rivals' sales from its national niche share. Every draw is made whether used or not, so
    firm *k* meets the same random numbers whatever the file gives.
    """
    n = len(ids)
    f = blank(ids, year)
    known = given or {}

    def pick(name: str, drawn: np.ndarray) -> np.ndarray:
        value = known.get(name)
        return drawn if value is None else np.where(np.isnan(value), drawn, value)

    if newborn:
        revenue = dyn.entrant_revenue_median * np.exp(
            dyn.entrant_revenue_sigma * draws("revenue").standard_normal(n)
        )
        age = np.zeros(n, dtype=np.int32)
    else:
        revenue = pick(
            "revenue",
            heavy_tailed_revenue(
                draws("revenue"), n, pop.revenue_median, pop.revenue_sigma, pop.tail_share, pop.tail_alpha
            ),
        )
        age = pick("age", draws("age").geometric(1.0 / pop.age_mean, n)).astype(np.int32)
    log_rel = np.log(revenue / pop.revenue_median)
    f["age"] = age
    f["born_year"] = year - age
    f["revenue"] = revenue
    effect = dyn.growth_firm_sd * draws("growth_effect").standard_normal(n) if dyn.growth_firm_sd > 0 else 0.0
    f["growth_effect"] = effect
    if newborn:
        f["revenue_prev"] = revenue
        f["revenue_prev2"] = revenue
    else:
        g1 = np.exp(dyn.growth_drift + effect + dyn.growth_scale * draws("g1").laplace(size=n))
        g2 = np.exp(dyn.growth_drift + effect + dyn.growth_scale * draws("g2").laplace(size=n))
        f["revenue_prev"] = pick("revenue_prev", revenue / g1)
        f["revenue_prev2"] = pick("revenue_prev2", f["revenue_prev"] / g2)
    f["main_share"] = pick("main_share", draws("main_share").beta(pop.main_share_a, pop.main_share_b, n))

    above = revenue >= pop.above_scale_revenue
    p_perf = np.where(above, pop.rd_performer_share_above_scale, pop.rd_performer_share)
    performer = draws("performer").random(n) < p_perf
    intensity = pop.rd_intensity_median * np.exp(
        pop.rd_intensity_sigma * draws("intensity").standard_normal(n)
    )
    propensity = np.where(performer, np.minimum(intensity, 1.0), 0.0)
    # A known R&D ÷ revenue is the firm's target intensity at its size: its propensity (the target
    # at the median size) is that divided by the size factor.
    known_intensity = known.get("rd_propensity")
    if known_intensity is not None:
        at_size = known_intensity / size_factor(revenue, dyn, pop.revenue_median)
        propensity = np.where(np.isnan(known_intensity), propensity, at_size)
    f["rd_propensity"] = propensity
    noise = np.exp(dyn.rd_noise * draws("rd_noise").standard_normal((n, 3)).T - 0.5 * dyn.rd_noise**2)

    # Intensity as the R&D submodel sets it: propensity times the size factor (docs/ODD.md §7.5).
    def rd_of(rev: np.ndarray, shock: np.ndarray) -> np.ndarray:
        return propensity * size_factor(rev, dyn, pop.revenue_median) * rev * shock

    f["rd"] = pick("rd", rd_of(revenue, noise[0]))
    f["rd_prev"] = np.zeros(n) if newborn else pick("rd_prev", rd_of(f["revenue_prev"], noise[1]))
    f["rd_prev2"] = np.zeros(n) if newborn else pick("rd_prev2", rd_of(f["revenue_prev2"], noise[2]))
    # Perpetual-inventory start: the stock a constant R&D flow settles at (Hall & Mairesse).
    f["rd_stock"] = f["rd"] if newborn else f["rd"] / dyn.rd_depreciation
    f["rd_staff_share"] = pick(
        "rd_staff_share", np.clip(dyn.rd_staff_per_intensity * f["rd"] / revenue, 0.0, 1.0)
    )
    per_employee = pop.revenue_per_employee * np.exp(
        pop.revenue_per_employee_sigma * draws("revenue_per_employee").standard_normal(n)
    )
    employees = known.get("employees")
    if employees is not None:  # a known headcount fixes the firm's revenue per employee
        per_employee = np.where(np.isnan(employees), per_employee, revenue / np.maximum(employees, 1.0))
    f["revenue_per_employee"] = per_employee
    f["employees"] = pick("employees", np.maximum(1, np.rint(revenue / per_employee))).astype(np.int32)

    if not newborn:
        # IP held: yearly grants of the knowledge production function over the patents' lives.
        grants = dyn.patent_scale * f["rd_stock"] ** dyn.patent_elasticity
        life1 = np.minimum(age, 1.0 / max(dyn.class1_lapse, 1e-9))
        life2 = np.minimum(age, 1.0 / max(dyn.class2_lapse, 1e-9))
        f["class1_ip"] = pick("class1_ip", draws("class1_ip").poisson(grants * dyn.class1_share * life1))
        f["class2_ip"] = pick(
            "class2_ip", draws("class2_ip").poisson(grants * (1.0 - dyn.class1_share) * life2)
        )
        niche = draws("niche").geometric(max(dyn.niche_switch_rate, 1e-9), n)
        f["niche_years"] = pick("niche_years", np.minimum(age, niche))
        raised = draws("raised").random(n) < pop.equity_3y_share
        amount = dyn.equity_amount_median * np.exp(
            dyn.equity_amount_sigma * draws("amount").standard_normal(n)
        )
        when = draws("when").integers(0, 3, n)
        for k, col in enumerate(("equity", "equity_prev", "equity_prev2")):
            f[col] = pick(col, np.where(raised & (when == k), amount, 0.0))

    # The niche's national market apart from the firm: its rivals' sales (a share below 1).
    rivals = pop.niche_market_median * np.exp(
        pop.niche_market_sigma * draws("niche_market").standard_normal(n)
    )
    share = known.get("national_share")
    if share is not None:  # own main-business sales ÷ (own + rivals') = the known share
        own = revenue * f["main_share"]
        rivals = np.where(np.isnan(share), rivals, own * (1.0 / np.where(np.isnan(share), 1.0, share) - 1.0))
    f["niche_rivals"] = rivals
    # A firm's long-run debt ratio and margin: the observed ones where known (the best guess of
    # a persistent level from one year), else drawn.
    f["debt_mean"] = pick(
        "debt_ratio",
        np.clip(pop.debt_ratio_mean + pop.debt_ratio_sd * draws("debt_mean").standard_normal(n), 0, 1),
    )
    f["debt_ratio"] = pick(
        "debt_ratio",
        np.clip(f["debt_mean"] + dyn.debt_sd * draws("debt_ratio").standard_normal(n), 0.0, MAX_DEBT_RATIO),
    )
    f["margin_mean"] = pick(
        "net_margin", pop.net_margin_mean + pop.net_margin_sd * draws("margin_mean").standard_normal(n)
    )
    f["net_margin"] = pick(
        "net_margin", f["margin_mean"] + dyn.margin_sd * draws("net_margin").standard_normal(n)
    )

    has_inst = draws("has_inst").random(n) < 1.0 - np.exp(-f["rd"] / pop.rd_institution_scale)
    level = 1 + _categorical(draws("rd_institution_level"), pop.rd_institution_levels, n)
    f["rd_institution"] = pick("rd_institution", np.where(has_inst & ~np.bool_(newborn), level, 0))
    f["digital_level"] = pick("digital_level", _categorical(draws("digital_level"), pop.digital_levels, n))
    f["chain_position"] = pick(
        "chain_position", _categorical(draws("chain_position"), pop.chain_positions, n)
    )
    f["quality_items"] = pick("quality_items", draws("quality_items").poisson(pop.quality_items_mean, n))
    f["distinctiveness"] = pick(
        "distinctiveness", draws("distinctiveness").beta(pop.distinctiveness_a, pop.distinctiveness_b, n)
    )
    f["high_tech_revenue_share"] = pick(
        "high_tech_revenue_share",
        draws("high_tech_revenue_share").beta(pop.high_tech_revenue_a, pop.high_tech_revenue_b, n),
    )
    f["new_product_ratio"] = pick(
        "new_product_ratio", draws("new_product_ratio").beta(pop.new_product_a, pop.new_product_b, n)
    )
    f["st_award_year"] = pick("st_award_year", f["st_award_year"])
    for trait in ("strategic_emerging", "mgmt_cert", "own_brand", "listed", "standard_drafted"):
        f[trait] = pick(trait, _size_tilted(draws(trait), getattr(pop, trait), log_rel)).astype(bool)
    return f
