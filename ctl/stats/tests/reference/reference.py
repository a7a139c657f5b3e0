"""Reference values for veer-stats, from SciPy and statsmodels (pinned in requirements.txt).

Prints one JSON document: {"versions": ..., "cases": [{"name", "kind", "input", "expect"}]}.
tests/reference.rs runs this with the project's .venv/bin/python and checks every number of the
Rust implementation against it.

Where a library has the method, the library computes it. Where none does (the mixture SPRT, the
Bayesian chance to beat and expected loss), this file implements the published definition
independently of the Rust closed forms, by numerical integration with scipy:
- always-valid p-value: 1/Λ with Λ = ∫ N(z; θ, 1)/N(z; 0, 1) · N(θ; 0, r) dθ (Johari et al.),
  integrated with scipy.integrate.quad; the interval's half-width by brentq on Λ(θ₀) = 1/α;
- the mixture's tuning y: brentq on the derivative of the closed-form width (Howard et al.), and the
  critical value at the plan from the integral above;
- P(B > A) = ∫ f_B(x) F_A(x) dx and E[max(C − T, 0)] = ∫ F_T(u) (1 − F_C(u)) du, with the Beta
  density and CDF from scipy.stats.beta, integrated with quad.
"""

import json
import math
import sys

import numpy as np
import scipy
import statsmodels
from scipy import integrate, optimize, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import normal_sample_size_one_tail
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
    samplesize_proportions_2indep_onetail,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

QUAD = dict(epsabs=0.0, epsrel=1e-13, limit=500)


def f(x):
    return float(x)


# ---------- the mixture SPRT, from its definition ----------


def mixture_lambda(z, r):
    """Λ for a z statistic (estimate / se) and mixture variance r (in units of the estimate's)."""
    center = z * r / (1.0 + r)  # where the integrand peaks
    spread = math.sqrt(r / (1.0 + r))

    def log_integrand(t):
        return t * z - t * t / 2.0 + stats.norm.logpdf(t, 0.0, math.sqrt(r))

    peak = log_integrand(center)
    value, _ = integrate.quad(
        lambda t: math.exp(log_integrand(t) - peak),
        center - 40 * spread,
        center + 40 * spread,
        points=[center],
        **QUAD,
    )
    return value, peak  # Λ = value · e^peak


def always_valid_p(z, r):
    value, peak = mixture_lambda(z, r)
    log_lambda = math.log(value) + peak
    return min(1.0, math.exp(-log_lambda))


def always_valid_multiplier(r, alpha):
    """The |z| at which Λ reaches 1/α: the interval's half-width in standard errors."""
    target = math.log(1.0 / alpha)

    def excess(z):
        value, peak = mixture_lambda(z, r)
        return math.log(value) + peak - target

    return optimize.brentq(excess, 0.0, 100.0, xtol=1e-15, rtol=1e-15, maxiter=500)


def mixture_tuning(alpha):
    """y = τ²/V* making the interval narrowest at the plan: minimise the squared half-width
    (1 + 1/y) ln((1 + y)/α²) over y, via the root of its derivative."""

    def derivative(y):
        return -math.log((1 + y) / alpha**2) / y**2 + (1 + 1 / y) / (1 + y)

    return optimize.brentq(derivative, 1e-3, 1e4, xtol=1e-15, rtol=1e-15, maxiter=500)


# ---------- Bayesian, by integration ----------


def beta_span(a, b):
    d = stats.beta(a, b)
    return d, f(d.ppf(1e-16)), f(d.isf(1e-16))


def prob_greater(b_post, a_post):
    """P(B > A) = ∫ f_B(x) F_A(x) dx."""
    fb, lo, hi = beta_span(*b_post)
    fa = stats.beta(*a_post)
    mode = (b_post[0] - 1) / (b_post[0] + b_post[1] - 2) if sum(b_post) > 2 else 0.5
    value, _ = integrate.quad(
        lambda x: fb.pdf(x) * fa.cdf(x), lo, hi, points=[min(max(mode, lo), hi)], **QUAD
    )
    return value


def expected_loss(chosen, other):
    """E[max(other − chosen, 0)] = ∫ F_chosen(u) (1 − F_other(u)) du."""
    fc, lo_c, _ = beta_span(*chosen)
    fo, _, hi_o = beta_span(*other)
    lo, hi = lo_c, hi_o
    if hi <= lo:
        return 0.0
    points = [p for p in (fc.mean(), fo.mean()) if lo < p < hi]
    value, _ = integrate.quad(lambda u: fc.cdf(u) * fo.sf(u), lo, hi, points=points or None, **QUAD)
    return value


def normal_loss(d, se):
    """E[max(−D, 0)] for D ~ N(d, se²), by integration."""
    value, _ = integrate.quad(
        lambda x: -x * stats.norm.pdf(x, d, se), d - 40 * se, min(0.0, d + 40 * se), **QUAD
    )
    return max(value, 0.0) if d - 40 * se < 0 else 0.0


# ---------- the cases ----------

RATES = [  # (control converted, control exposed, arm converted, arm exposed, alpha)
    (30, 200, 45, 210, 0.05),
    (1000, 10000, 1100, 10050, 0.05),
    (0, 40, 3, 38, 0.05),
    (12, 12, 9, 15, 0.1),
    (5, 1000, 0, 980, 0.01),
    (480, 5000, 540, 5000, 0.001),
]


def rate_cases():
    cases = []
    for xc, nc, xa, na, alpha in RATES:
        inp = dict(control=[xc, nc], arm=[xa, na], alpha=alpha)
        for name, (x, n) in (("control", (xc, nc)), ("arm", (xa, na))):
            lo, hi = proportion_confint(x, n, alpha=alpha, method="wilson")
            cases.append(case(f"wilson {x}/{n}", "wilson", dict(counts=[x, n], alpha=alpha),
                              lower=lo, upper=hi))
        z, p = proportions_ztest([xa, xc], [na, nc])
        cases.append(case(f"z-test {xa}/{na} vs {xc}/{nc}", "z_test", inp, z=z, p=p))
        lo, hi = confint_proportions_2indep(xa, na, xc, nc, method="agresti-caffo",
                                            compare="diff", alpha=alpha)
        cases.append(case(f"agresti-caffo {xa}/{na} vs {xc}/{nc}", "difference_interval", inp,
                          lower=lo, upper=hi))
        lo, hi = confint_proportions_2indep(xa, na, xc, nc, method="log-adjusted",
                                            compare="ratio", alpha=alpha)
        cases.append(case(f"log ratio {xa}/{na} vs {xc}/{nc}", "ratio_interval", inp,
                          lower=lo - 1, upper=hi - 1))
    return cases


def revenue(seed, n, buy_rate, scale):
    """n users: most spend 0, buyers spend a log-normal amount, rounded to cents."""
    rng = np.random.default_rng(seed)
    buys = rng.random(n) < buy_rate
    amounts = np.round(rng.lognormal(math.log(scale), 0.8, n), 2)
    return np.where(buys, amounts, 0.0)


VALUES = [  # (seed, control n, arm n, buy rate control, buy rate arm, scale, alpha)
    (1, 400, 380, 0.2, 0.25, 30.0, 0.05),
    (2, 3000, 3100, 0.05, 0.05, 80.0, 0.05),
    (3, 2, 3, 1.0, 1.0, 10.0, 0.1),
    (4, 50, 45, 0.5, 0.3, 5.0, 0.01),
]


def value_cases():
    cases = []
    for seed, nc, na, bc, ba, scale, alpha in VALUES:
        c = revenue(seed, nc, bc, scale)
        a = revenue(seed + 100, na, ba, scale)
        inp = dict(control=values_input(c), arm=values_input(a), alpha=alpha)
        t = stats.ttest_ind(a, c, equal_var=False)
        cm = CompareMeans(DescrStatsW(a), DescrStatsW(c))
        lo, hi = cm.tconfint_diff(alpha=alpha, usevar="unequal")
        # Delta method for mean_a / mean_c − 1 (independent arms), written from its definition.
        se_a2, se_c2 = a.var(ddof=1) / na, c.var(ddof=1) / nc
        ratio = a.mean() / c.mean()
        se_rel = math.sqrt(se_a2 / c.mean() ** 2 + ratio**2 * se_c2 / c.mean() ** 2)
        z = stats.norm.isf(alpha / 2)
        cases.append(case(f"welch seed {seed}", "welch", inp, t=t.statistic, p=t.pvalue,
                          df=t.df, lower=lo, upper=hi, se=cm.std_meandiff_separatevar,
                          rel_lower=ratio - 1 - z * se_rel, rel_upper=ratio - 1 + z * se_rel))
        for name, x in (("control", c), ("arm", a)):
            lo, hi = DescrStatsW(x).tconfint_mean(alpha=alpha)
            cases.append(case(f"t interval seed {seed} {name}", "mean_interval",
                              dict(values=values_input(x), alpha=alpha),
                              mean=x.mean(), sd=x.std(ddof=1), lower=lo, upper=hi))
        d, se = a.mean() - c.mean(), cm.std_meandiff_separatevar
        cases.append(case(f"normal posterior seed {seed}", "bayes_means", dict(d=d, se=se),
                          beat=stats.norm.cdf(d / se), loss=normal_loss(d, se),
                          loss_control=normal_loss(-d, se)))
    return cases


def values_input(x):
    """Per-user values as the Rust side gets them: the non-zero ones, the zeros as a count, and
    the same as sufficient statistics."""
    nonzero = [float(v) for v in x if v != 0.0]
    return dict(nonzero=nonzero, zeros=int(len(x) - len(nonzero)), n=int(len(nonzero)),
                sum=float(np.sum(nonzero)), sum_of_squares=float(np.sum(np.square(nonzero))))


def srm_cases():
    cases = []
    for exposed, shares in (
        ([5020, 4980], [1, 1]),
        ([4000, 2050, 1990], [50, 25, 25]),
        ([5300, 4700], [0.5, 0.5]),
        ([812, 190], [8000, 2000]),
    ):
        total = sum(exposed)
        expected = [total * s / sum(shares) for s in shares]
        chi2, p = stats.chisquare(exposed, expected)
        cases.append(case(f"chi-square {exposed}", "srm", dict(exposed=exposed, shares=shares),
                          chi2=chi2, p=p))
    return cases


def holm_cases():
    cases = []
    for p in ([0.01, 0.04, 0.03, 1.0], [0.001, 0.2, 0.0004, 0.05, 0.049], [0.3]):
        cases.append(case(f"holm {p}", "holm", dict(p=p),
                          adjusted=list(multipletests(p, method="holm")[1])))
    return cases


def sequential_cases():
    cases = []
    for alpha in (0.05, 0.01, 0.1, 0.0125):
        y = mixture_tuning(alpha)
        cases.append(case(f"tuning alpha {alpha}", "mixture_tuning", dict(alpha=alpha), y=y,
                          critical=always_valid_multiplier(y, alpha)))
    for z, r in ((0.0, 1.0), (1.5, 0.2), (2.5, 8.2), (3.2, 8.2), (4.0, 30.0), (6.0, 0.05)):
        cases.append(case(f"mixture p z={z} r={r}", "always_valid_p", dict(z=z, r=r),
                          p=always_valid_p(z, r)))
    for r, alpha in ((0.2, 0.05), (8.2, 0.05), (30.0, 0.01), (1.0, 0.1)):
        cases.append(case(f"mixture width r={r} alpha={alpha}", "always_valid_multiplier",
                          dict(r=r, alpha=alpha), multiplier=always_valid_multiplier(r, alpha)))
    return cases


BETAS = [  # posteriors (alpha, beta) for control and arm
    ((1, 1), (1, 1)),
    ((31, 171), (46, 166)),
    ((3, 39), (1, 40)),
    ((1001, 9001), (1101, 8951)),
    ((13, 1), (10, 7)),
    ((481, 4521), (541, 4461)),
    ((20001, 180001), (20401, 179601)),
]


def bayes_cases():
    cases = []
    for c, a in BETAS:
        cases.append(case(f"beta {a} vs {c}", "bayes_rates", dict(control=c, arm=a),
                          beat=prob_greater(a, c), loss=expected_loss(a, c),
                          loss_control=expected_loss(c, a)))
    return cases


POWER_RATES = [  # (control rate, absolute effect, control per arm, alpha, power)
    (0.10, 0.03, 1.0, 0.05, 0.8),
    (0.10, 0.01, 2.0, 0.0125, 0.9),
    (0.50, -0.05, 0.5, 0.05, 0.8),
    (0.02, 0.004, 1.0, 0.01, 0.95),
]


def power_cases():
    cases = []
    for pc, d, k, alpha, power in POWER_RATES:
        y = mixture_tuning(alpha)
        critical = always_valid_multiplier(y, alpha)
        # statsmodels' arm 1 is the arm (pc + d), arm 2 the control, ratio = n_control / n_arm.
        fixed = samplesize_proportions_2indep_onetail(d, pc, power, ratio=k, alpha=alpha)
        seq = samplesize_proportions_2indep_onetail(d, pc, power, ratio=k,
                                                    alpha=2 * stats.norm.sf(critical))
        inp = dict(control_rate=pc, effect=d, control_per_arm=k, alpha=alpha, power=power)
        cases.append(case(f"rates n {pc}+{d}", "power_rates", inp, fixed_arm=fixed,
                          always_valid_arm=seq))
    for sd, d, k, alpha, power in ((25.0, 2.0, 1.0, 0.05, 0.8), (3.0, 0.1, 3.0, 0.01, 0.9)):
        fixed = normal_sample_size_one_tail(d, power, alpha / 2, std_null=sd * math.sqrt(1 + 1 / k))
        cases.append(case(f"means n sd={sd} d={d}", "power_means",
                          dict(sd=sd, effect=d, control_per_arm=k, alpha=alpha, power=power),
                          fixed_arm=fixed))
    return cases


def case(name, kind, inp, **expect):
    def plain(v):
        return [plain(x) for x in v] if isinstance(v, (list, tuple)) else f(v)

    return dict(name=name, kind=kind, input=inp, expect={k: plain(v) for k, v in expect.items()})


def main():
    from analysis_case import analysis_case  # the whole pipeline on one experiment

    cases = (rate_cases() + value_cases() + srm_cases() + holm_cases() + sequential_cases()
             + bayes_cases() + power_cases())
    cases.append(analysis_case(sys.modules[__name__]))
    json.dump(dict(versions=dict(scipy=scipy.__version__, statsmodels=statsmodels.__version__,
                                 numpy=np.__version__), cases=cases), sys.stdout)


if __name__ == "__main__":
    main()
