"""Yearly firm dynamics: pure, vectorised functions of state, parameters and the year's draws.

Each function implements one submodel of docs/ODD.md §7 over all live firms at once and
mutates the columns in place. They take the year's draws explicitly (:class:`YearDraws`): each
draw is keyed by its submodel (the site) and the firm id, so a firm's shocks do not depend on
any other firm, and the functions can be tested without a model.
"""

from __future__ import annotations

import numpy as np

from sim.core.firms import MAX_DEBT_RATIO, FirmState
from sim.core.scenario import Dynamics
from sim.core.streams import YearDraws

MIN_RD_PRICE = 1e-3  # subsidies never make R&D free: keeps price^(−η) finite


def roll_history(s: FirmState) -> None:
    """Last year's accounts become the previous year's (3-year windows for rules)."""
    for cur, prev, prev2 in (
        ("revenue", "revenue_prev", "revenue_prev2"),
        ("rd", "rd_prev", "rd_prev2"),
        ("equity", "equity_prev", "equity_prev2"),
    ):
        s[prev2] = s[prev]
        s[prev] = s[cur]
    s["equity"] = 0.0


def grow_revenue(s: FirmState, p: Dynamics, d: YearDraws, ref_revenue: float) -> None:
    """Gibrat growth with Laplace shocks whose scale falls with size, raised by innovation.

    Δln R = μ + δ_i + β_K·K/R + β_IP·ln(1 + new Class I IP) + b·(R/R_ref)^(−α)·ε,
    ε ~ Laplace(0, 1), with δ_i the firm's own persistent drift (``growth_effect``): the growth
    that qualified a firm for a tier partly lasts to its review.
    """
    rev = s["revenue"]
    knowledge = np.divide(s["rd_stock"], rev, out=np.zeros_like(rev), where=rev > 0)
    scale = p.growth_scale * (rev / ref_revenue) ** (-p.growth_size_exponent)
    dlog = (
        p.growth_drift
        + s["growth_effect"]
        + p.growth_rd_effect * knowledge
        + p.growth_ip_effect * np.log1p(s["new_class1"])
        + scale * d.laplace("growth", s["firm_id"])
    )
    s["revenue"] = rev * np.exp(dlog)
    # The firm's rivals grow with the niche, not with the firm: a firm that outgrows its niche
    # takes share from them (national share = own ÷ (own + rivals), below 1).
    s["niche_rivals"] = s["niche_rivals"] * (1.0 + p.niche_market_growth)


def rd_price(s: FirmState, p: Dynamics, subsidy_rate: np.ndarray | float = 0.0) -> np.ndarray:
    """After-tax price of one yuan of R&D relative to the always-on super-deduction baseline.

    A profitable firm saves τ·d per yuan (policy-facts §2.8); a loss-making one saves nothing
    this year. ``subsidy_rate`` is the hook for R&D subsidies (a share of R&D refunded).
    """
    baseline = 1.0 - p.tax_rate * p.super_deduction
    saving = np.where(s["net_margin"] > 0.0, p.tax_rate * p.super_deduction, 0.0)
    return np.maximum(1.0 - saving - subsidy_rate, MIN_RD_PRICE) / baseline


def size_factor(revenue: np.ndarray, p: Dynamics, ref_revenue: float) -> np.ndarray:
    """How a firm's target R&D intensity scales with its size: (R / R_ref)^(ε − 1).

    With an R&D–revenue elasticity ε below 1 a firm ten times the reference size spends a
    smaller share of revenue on R&D; R_ref (the population's median revenue) keeps a firm's
    propensity its intensity at the median size. ε = 1 gives 1 for every firm.
    """
    if p.rd_size_elasticity == 1.0:
        return np.ones_like(revenue)
    return np.maximum(revenue / ref_revenue, 1e-6) ** (p.rd_size_elasticity - 1.0)


def spend_on_rd(
    s: FirmState,
    p: Dynamics,
    d: YearDraws,
    price: np.ndarray,
    notches: np.ndarray,
    extra_liquidity: np.ndarray | float = 0.0,
    years_elapsed: int = 0,
    ref_revenue: float = 1.0,
) -> None:
    """Choose this year's R&D: partial adjustment to a price-elastic target, bunching, liquidity.

    target ρ* = propensity · s(R) · (1 + g)^t · price^(−η), with s the size factor of
    :func:`size_factor` (R_ref = ``ref_revenue``), g the secular trend of R&D intensity
    and t the years since the population was drawn, up to the trend's last year (the caller
    stops t there: the trend is history, not a forecast); ρ = ρ_prev + λ(ρ* − ρ_prev), times a
    mean-one shock;
    firms just below a certification notch θ (within θ·(1 − w)) move to θ with probability p_b;
    R&D ≤ revenue · (liquidity share + max(margin, 0)) + extra liquidity (grants, credit),
    plus R&D funded by last year's project grants (``rd_bonus``).
    """
    rev = s["revenue"]
    prev = np.divide(s["rd_prev"], s["revenue_prev"], out=np.zeros_like(rev), where=s["revenue_prev"] > 0)
    trend = (1.0 + p.rd_intensity_trend) ** years_elapsed
    size = size_factor(rev, p, ref_revenue)
    target = s["rd_propensity"] * size * trend * price ** (-p.rd_price_elasticity)
    shock = np.exp(p.rd_noise * d.normal("rd_noise", s["firm_id"]) - 0.5 * p.rd_noise**2)
    intensity = np.maximum(prev + p.rd_adjustment * (target - prev), 0.0) * shock
    intensity = np.where(s["rd_propensity"] > 0.0, intensity, 0.0)
    if len(notches) and p.bunching_probability > 0.0:
        intensity = bunch(
            intensity, notches, p.bunching_window, p.bunching_probability, d.uniform("bunching", s["firm_id"])
        )
    cash = rev * (p.rd_liquidity_share + np.maximum(s["net_margin"], 0.0)) + extra_liquidity
    s["rd"] = np.minimum(intensity * rev, cash) + s["rd_bonus"]
    s["rd_stock"] = (1.0 - p.rd_depreciation) * s["rd_stock"] + s["rd"]


def bunch(x: np.ndarray, notches: np.ndarray, window: float, prob: float, u: np.ndarray) -> np.ndarray:
    """Move values just below a notch up to it (the bunching documented at R&D notches).

    ``u`` holds one uniform draw per firm: a firm within the window moves when ``u < prob``.
    """
    idx = np.searchsorted(notches, x, side="right")  # first notch strictly above x
    has_next = idx < len(notches)
    theta = notches[np.minimum(idx, len(notches) - 1)]
    near = has_next & (x >= theta * (1.0 - window)) & (u < prob)
    # nextafter: the firm lands on the notch, not a rounding error below it
    return np.where(near, np.nextafter(theta, np.inf), x)


def produce_ip(s: FirmState, p: Dynamics, d: YearDraws, productivity: np.ndarray | float = 1.0) -> None:
    """Knowledge production: grants ~ Poisson(m·a·K^b), Class I share q, yearly lapse by class.

    ``productivity`` (m) is the hook for grant-funded talent (1 without it).
    """
    # Draws only where they can be non-zero: most firms hold no patents and do no R&D.
    knows = np.flatnonzero(s["rd_stock"] > 0)
    lam = p.patent_scale * s["rd_stock"][knows] ** p.patent_elasticity
    lam = lam * (productivity[knows] if isinstance(productivity, np.ndarray) else productivity)
    ids = s["firm_id"]
    grants = np.zeros(s.n, dtype=np.int64)
    grants[knows] = d.poisson("patents", ids[knows], lam)
    class1 = np.zeros(s.n, dtype=np.int64)
    granted = np.flatnonzero(grants)
    class1[granted] = d.binomial("patent_class", ids[granted], grants[granted], p.class1_share)
    s["new_class1"] = class1
    s["class1_ip"] = s["class1_ip"] - _thin(s["class1_ip"], p.class1_lapse, d, "lapse_class1", ids) + class1
    s["class2_ip"] = (
        s["class2_ip"] - _thin(s["class2_ip"], p.class2_lapse, d, "lapse_class2", ids) + grants - class1
    )


def _thin(counts: np.ndarray, p: float, d: YearDraws, site: str, ids: np.ndarray) -> np.ndarray:
    """Binomial(counts, p) drawn only for the non-zero counts."""
    out = np.zeros(len(counts), dtype=np.int64)
    held = np.flatnonzero(counts)
    out[held] = d.binomial(site, ids[held], counts[held], p)
    return out


def adjust_staff(s: FirmState, p: Dynamics) -> None:
    """R&D staff share follows R&D intensity; headcount follows revenue."""
    intensity = np.divide(s["rd"], s["revenue"], out=np.zeros(s.n), where=s["revenue"] > 0)
    target = np.minimum(p.rd_staff_per_intensity * intensity, 1.0)
    s["rd_staff_share"] = s["rd_staff_share"] + p.rd_staff_adjustment * (target - s["rd_staff_share"])
    s["employees"] = np.maximum(1, np.rint(s["revenue"] / s["revenue_per_employee"]))


def evolve_finance(s: FirmState, p: Dynamics, d: YearDraws) -> None:
    """Debt ratio and net margin mean-revert (AR(1)); equity is raised by some firms."""
    ids = s["firm_id"]
    s["debt_ratio"] = np.clip(
        s["debt_mean"]
        + p.debt_persistence * (s["debt_ratio"] - s["debt_mean"])
        + p.debt_sd * d.normal("debt", ids),
        0.0,
        MAX_DEBT_RATIO,
    )
    s["net_margin"] = (
        s["margin_mean"]
        + p.margin_persistence * (s["net_margin"] - s["margin_mean"])
        + p.margin_sd * d.normal("margin", ids)
    )
    rate = p.equity_raise_rate * (1.0 + p.equity_ip_tilt * (s["class1_ip"] > 0))
    raises = np.flatnonzero(d.uniform("equity_raise", ids) < np.minimum(rate, 1.0))
    equity = np.zeros(s.n)
    equity[raises] = p.equity_amount_median * np.exp(
        p.equity_amount_sigma * d.normal("equity_amount", ids[raises])
    )
    s["equity"] = equity


def specialise(s: FirmState, p: Dynamics, d: YearDraws, anchored: np.ndarray | None = None) -> None:
    """Years in the niche accumulate (or restart on a switch); main-business share drifts up.

    ``anchored`` firms hold a title earned in their niche (one whose rule counts niche years):
    they stay in it, so their niche years never reset at random.
    """
    ids = s["firm_id"]
    years = s["niche_years"]
    years += 1
    free = np.flatnonzero(~anchored) if anchored is not None else np.arange(s.n)
    years[free[d.uniform("niche_switch", ids[free]) < p.niche_switch_rate]] = 0
    m = s["main_share"]
    s["main_share"] = np.clip(
        m + p.specialisation_rate * (1.0 - m) + p.main_share_sd * d.normal("main_share", ids), 0.0, 1.0
    )


def upgrade_capabilities(s: FirmState, p: Dynamics, d: YearDraws, year: int) -> None:
    """R&D institutions, digital level, certifications, brands, standards and S&T awards.

    Each draw is made only for the firms it can change (an R&D performer below the top
    institution level, a firm without the trait, ...): draws are keyed by firm, so the others'
    draws would have been thrown away and every firm's outcome is the same.
    """
    ids = s["firm_id"]
    rd, inst = s["rd"], s["rd_institution"]
    rows = np.flatnonzero((rd > 0) & (inst < 4))
    up = d.uniform("institution", ids[rows]) < 1.0 - np.exp(-rd[rows] / p.institution_upgrade_scale)
    inst[rows[up]] += 1
    digital = s["digital_level"]
    rows = np.flatnonzero(digital < 3)
    digital[rows[d.uniform("digital", ids[rows]) < p.digital_upgrade_rate]] += 1
    for trait in ("mgmt_cert", "own_brand", "standard_drafted"):
        held = s[trait]
        rows = np.flatnonzero(~held)
        held[rows[d.uniform(trait, ids[rows]) < p.trait_acquisition_rate]] = True
    rows = np.flatnonzero(s["class1_ip"] > 0)
    s["st_award_year"][rows[d.uniform("st_award", ids[rows]) < p.st_award_rate]] = year
    s["age"] += 1


def exit_hazard(s: FirmState, p: Dynamics, ref_revenue: float) -> np.ndarray:
    """Each live firm's exit hazard this year: an age profile scaled by size.

    h = min(k · h_age[a] · z / z̄_a, 1), z = (R/R_ref)^(−c), a = min(age, K − 1),

    with h_age the hazard in each year of life (index 0 the founding year; the profile can
    peak in the first years, as Chinese enterprise survival does), k a scale, and z̄_a the mean
    of z over the live firms of the same age bucket: the published profile is an average over
    firms of every size, so size moves the hazard between firms of one age without changing
    the age profile. Firms are tested after they have aged this year, so a firm founded last
    year (age 1) meets the hazard of its second year of life; no firm is tested at age 0, so the
    founding-year value (index 0) is never applied (entrants join after the year's exit test).
    """
    table = np.asarray(p.exit_hazard_by_age)
    bucket = np.minimum(s["age"], len(table) - 1)
    z = np.maximum(s["revenue"] / ref_revenue, 1e-6) ** (-p.exit_size_exponent)
    mean_z = np.bincount(bucket, z, len(table)) / np.maximum(np.bincount(bucket, minlength=len(table)), 1)
    return np.minimum(p.exit_hazard_scale * table[bucket] * z / mean_z[bucket], 1.0)


def exit_firms(s: FirmState, p: Dynamics, d: YearDraws, ref_revenue: float) -> np.ndarray:
    """Exit with the hazard of :func:`exit_hazard`; returns the exit mask (not yet archived)."""
    leaving = d.uniform("exit", s["firm_id"]) < exit_hazard(s, p, ref_revenue)
    s["alive"] = ~leaving
    return leaving


def entrants(p: Dynamics, d: YearDraws, n_before: int, n_exits: int) -> int:
    """New small firms this year: Poisson(exits + g · firms alive before exit), one draw a year.

    Entry replaces the year's exits and adds the population's net growth rate g, so the
    number of firms grows at g on average whatever the exit rate (founding-year exits are
    netted out: entrants join after this year's exit test).
    """
    mean = max(n_exits + p.population_growth * n_before, 0.0)
    return int(d.poisson("entry", np.zeros(1, np.int64), np.array([mean]))[0])
