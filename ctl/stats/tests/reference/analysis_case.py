"""The whole pipeline on one experiment: three arms, a primary conversion goal with a minimum
effect and a revenue goal without one, recomputed here from scipy/statsmodels and the reference
mixture so that the wiring (shares, planning level, tuning, Holm family, which interval uses which
multiplier) is checked, not only each formula."""

import math

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
    samplesize_proportions_2indep_onetail,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

ALPHA, POWER, PER_DAY = 0.05, 0.8, 1000.0
ARMS = [  # name, share, exposed, purchases, revenue seed, buy rate
    ("a", 50.0, 4000, 400, 11, 0.10),
    ("b", 25.0, 2050, 228, 12, 0.11),
    ("c", 25.0, 1990, 199, 13, 0.10),
]
DEFAULT_PLANNED = 10_000


def analysis_case(ref):
    revenue = {name: ref.revenue(seed, n, rate, 40.0) for name, _, n, _, seed, rate in ARMS}
    experiment = dict(
        control="a",
        arms=[arm_input(name, share, n, x, revenue[name]) for name, share, n, x, _, _ in ARMS],
        goals=[dict(name="purchase", primary=True, minimum_effect=dict(relative=0.1)),
               dict(name="revenue")],
        settings=dict(alpha=ALPHA, power=POWER, exposures_per_day=PER_DAY),
    )
    family = (len(ARMS) - 1) * 2
    planning_alpha = ALPHA / family
    y = ref.mixture_tuning(planning_alpha)
    critical = ref.always_valid_multiplier(y, planning_alpha)
    control = ARMS[0]
    share_sum = sum(a[1] for a in ARMS)
    comparisons = []
    for arm in ARMS[1:]:
        comparisons.append(purchase(ref, control, arm, y, critical, planning_alpha, share_sum))
        comparisons.append(revenue_goal(ref, revenue["a"], revenue[arm[0]], arm[0], y))
    for mode in ("always_valid", "fixed_horizon"):
        adjusted = multipletests([c[mode]["p"] for c in comparisons], method="holm")[1]
        for c, p in zip(comparisons, adjusted):
            c[mode]["p_holm"] = float(p)
    total = sum(a[2] for a in ARMS)
    chi2, p = stats.chisquare([a[2] for a in ARMS], [total * a[1] / share_sum for a in ARMS])
    summaries = []
    for name, _, n, x, _, _ in ARMS:
        lo, hi = proportion_confint(x, n, alpha=ALPHA, method="wilson")
        tlo, thi = DescrStatsW(revenue[name]).tconfint_mean(alpha=ALPHA)
        summaries.append(dict(arm=name, wilson=[lo, hi], mean=revenue[name].mean(),
                              sd=revenue[name].std(ddof=1), t_interval=[tlo, thi]))
    expect = dict(y=y, planning_alpha=planning_alpha, srm_chi2=chi2, srm_p=p,
                  comparisons=comparisons, arms=summaries)
    return dict(name="whole analysis", kind="analysis", input=experiment,
                expect=plain(expect))


def arm_input(name, share, n, purchases, values):
    nonzero = values[values != 0.0]
    sums = dict(n=int(len(nonzero)), sum=float(nonzero.sum()),
                sum_of_squares=float(np.square(nonzero).sum()))
    return dict(name=name, share=share, exposed=n,
                goals=dict(purchase=dict(converted=purchases), revenue=dict(values=dict(sums=sums))))


def purchase(ref, control, arm, y, critical, planning_alpha, share_sum):
    _, share_c, nc, xc, _, _ = control
    name, share_a, na, xa, _, _ = arm
    k = share_c / share_a
    pc = xc / nc
    d = 0.1 * pc
    fixed_n = samplesize_proportions_2indep_onetail(d, pc, POWER, ratio=k, alpha=planning_alpha)
    seq_n = samplesize_proportions_2indep_onetail(d, pc, POWER, ratio=k,
                                                  alpha=2 * stats.norm.sf(critical))
    fraction = effective(nc, na) / effective(k * seq_n, seq_n)
    r = y * fraction
    z, p_fixed = proportions_ztest([xa, xc], [na, nc])
    m = ref.always_valid_multiplier(r, ALPHA)

    def intervals(alpha):
        diff = confint_proportions_2indep(xa, na, xc, nc, method="agresti-caffo",
                                          compare="diff", alpha=alpha)
        ratio = confint_proportions_2indep(xa, na, xc, nc, method="log-adjusted",
                                           compare="ratio", alpha=alpha)
        return dict(difference=list(diff), relative=[ratio[0] - 1, ratio[1] - 1])

    traffic = (share_c / share_sum, share_a / share_sum)
    return dict(
        arm=name, goal="purchase", statistic=z, information_fraction=fraction,
        difference=xa / na - pc, relative=(xa / na) / pc - 1,
        always_valid=dict(p=ref.always_valid_p(z, r), **intervals(2 * stats.norm.sf(m))),
        fixed_horizon=dict(p=p_fixed, **intervals(ALPHA)),
        bayes=dict(beat=ref.prob_greater((1 + xa, 1 + na - xa), (1 + xc, 1 + nc - xc)),
                   loss=ref.expected_loss((1 + xa, 1 + na - xa), (1 + xc, 1 + nc - xc))),
        plan=dict(always_valid=plan(k * seq_n, seq_n, nc, na, traffic),
                  fixed_horizon=plan(k * fixed_n, fixed_n, nc, na, traffic)),
    )


def revenue_goal(ref, c, a, name, y):
    fraction = effective(len(c), len(a)) / effective(DEFAULT_PLANNED, DEFAULT_PLANNED)
    r = y * fraction
    t = stats.ttest_ind(a, c, equal_var=False)
    cm = CompareMeans(DescrStatsW(a), DescrStatsW(c))
    se = cm.std_meandiff_separatevar
    d = a.mean() - c.mean()
    ratio = a.mean() / c.mean()
    se_rel = math.sqrt(a.var(ddof=1) / len(a) / c.mean() ** 2
                       + ratio**2 * c.var(ddof=1) / len(c) / c.mean() ** 2)
    m = ref.always_valid_multiplier(r, ALPHA)
    z = stats.norm.isf(ALPHA / 2)
    return dict(
        arm=name, goal="revenue", statistic=t.statistic, information_fraction=fraction,
        difference=d, relative=ratio - 1,
        always_valid=dict(p=ref.always_valid_p(t.statistic, r), difference=[d - m * se, d + m * se],
                          relative=[ratio - 1 - m * se_rel, ratio - 1 + m * se_rel]),
        fixed_horizon=dict(p=t.pvalue, difference=list(cm.tconfint_diff(alpha=ALPHA, usevar="unequal")),
                           relative=[ratio - 1 - z * se_rel, ratio - 1 + z * se_rel]),
        bayes=dict(beat=stats.norm.cdf(d / se), loss=ref.normal_loss(d, se)),
    )


def plan(control_n, arm_n, nc, na, traffic):
    pc, pa = math.ceil(control_n), math.ceil(arm_n)
    need_c, need_a = max(pc - nc, 0), max(pa - na, 0)
    days = max(need_c / (PER_DAY * traffic[0]), need_a / (PER_DAY * traffic[1]))
    return dict(planned_control=pc, planned_arm=pa, still_needed_control=need_c,
                still_needed_arm=need_a, days_remaining=days)


def effective(a, b):
    return a * b / (a + b)


def plain(v):
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, str):
        return v
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v)
    return float(v)
