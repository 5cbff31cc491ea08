"""95% intervals: Wilson for an accuracy, paired bootstrap for differences and ratios."""

import pytest

from rewardspec.uncertainty import paired_difference, paired_ratio, wilson


def test_wilson_matches_the_textbook_values():
    assert wilson(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)  # never below 0, unlike p ± z·se
    assert wilson(10, 10)[1] == pytest.approx(1.0) and wilson(0, 0) is None


def test_a_paired_difference_keeps_what_the_two_methods_share():
    # The same 40 problems: b gets 20 right, a those and 8 more. Unpaired, the two 95% intervals
    # overlap widely; paired, the difference is certainly positive.
    b = [1.0] * 20 + [0.0] * 20
    a = [1.0] * 28 + [0.0] * 12
    diff, (lo, hi) = paired_difference(a, b)
    assert diff == pytest.approx(0.2) and 0.05 < lo < 0.2 < hi < 0.35
    same, interval = paired_difference(a, a)
    assert same == 0 and interval == (0.0, 0.0)
    with pytest.raises(ValueError):
        paired_difference([1.0], [1.0, 0.0])


def test_a_paired_ratio_of_costs():
    ours = [50.0, 60.0, 55.0, 45.0] * 10
    theirs = [100.0, 110.0, 100.0, 90.0] * 10
    ratio, (lo, hi) = paired_ratio(ours, theirs)
    assert ratio == pytest.approx(210 / 400) and lo < ratio < hi and hi - lo < 0.05
    assert paired_ratio([1.0], [2.0]) == (0.5, None)  # one problem: no interval to speak of


def test_an_interval_always_holds_its_own_point():
    for n in (1, 3, 7, 10, 30, 100):
        for k in (0, n):
            lo, hi = wilson(k, n)
            assert lo <= k / n <= hi


def test_the_plot_takes_accuracies_of_0_and_100_percent(tmp_path):
    from rewardspec.eval.plots import accuracy_vs_flops, sweep_plot
    from rewardspec.eval.records import MethodMetrics

    ends = [MethodMetrics(n=3, accuracy=a, accuracy_ci95=wilson(int(3 * a), 3), flops_per_question=f)
            for a, f in ((0.0, 1e9), (1.0, 2e9))]
    assert accuracy_vs_flops(dict(zip(("rsd", "target"), ends)), tmp_path / "a.png", "t").stat().st_size
    assert sweep_plot([0.3, 0.7], ends, {"target": ends[1]}, tmp_path / "s.png", "t").stat().st_size
