"""Bootstrap intervals: the vectorised metrics against a plain loop over the same resamples, coverage of a known
difference, identical scorers, one-class resamples, and the intervals in the evaluation report."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import average_precision_score, roc_auc_score

from parasim.errors import ParasimError
from parasim.evaluation.bootstrap import METRICS, bootstrap_interval, paired_bootstrap, resample_indices
from parasim.evaluation.report import markdown, scorer_metrics


def binormal(rng: np.random.Generator, n: int, mu_a: float = 1.0, mu_b: float = 1.4,
             rho: float = 0.7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels 0/1 (p = ½) and two correlated scorers: score = mu·label + N(0, 1) noise, noise correlation rho.

    True ROC-AUC Φ(mu/√2); true MSE against the label ½(mu − 1)² + 1."""
    labels = (rng.random(n) < 0.5).astype(float)
    noise_a = rng.normal(size=n)
    noise_b = rho * noise_a + np.sqrt(1 - rho**2) * rng.normal(size=n)
    return labels, mu_a * labels + noise_a, mu_b * labels + noise_b


def reference(labels: np.ndarray, a: np.ndarray, b: np.ndarray, n_resamples: int, seed: int) -> dict[str, list]:
    """Per resample, b − a of each metric with sklearn/NumPy on the resampled pairs (one-class resamples skipped
    for the ranking metrics)."""
    out: dict[str, list] = {m: [] for m in METRICS}
    for block in resample_indices(len(labels), n_resamples, seed):
        for index in block:
            y, sa, sb = labels[index], a[index], b[index]
            out["mse"].append(np.mean((sb - y) ** 2) - np.mean((sa - y) ** 2))
            positive = y >= 0.5
            if 0 < positive.sum() < len(y):
                out["roc_auc"].append(roc_auc_score(positive, sb) - roc_auc_score(positive, sa))
                ap = (average_precision_score(positive, s) for s in (sb, sa))
                out["avg_precision"].append(next(ap) - next(ap))
    return out


def test_vectorised_intervals_equal_a_plain_loop_over_the_same_resamples() -> None:
    """Graded labels and scores rounded to 1 decimal (many ties): ties, thresholds and the label cut at 0.5 are
    handled exactly as sklearn does. 40 pairs, so some resamples hold one class and are dropped in both."""
    rng = np.random.default_rng(3)
    labels = np.round(rng.random(40) ** 3, 2)  # mostly below 0.5: one-class resamples happen
    a = np.round(labels + rng.normal(0, 0.4, 40), 1)
    b = np.round(labels + rng.normal(0, 0.3, 40), 1)
    n_resamples, seed = 300, 7
    got = paired_bootstrap(labels, a, b, n_resamples=n_resamples, seed=seed)
    expected = reference(labels, a, b, n_resamples, seed)
    assert len(expected["roc_auc"]) < n_resamples  # the one-class case is exercised
    positive = labels >= 0.5
    values = {"roc_auc": roc_auc_score(positive, b) - roc_auc_score(positive, a),
              "avg_precision": average_precision_score(positive, b) - average_precision_score(positive, a),
              "mse": np.mean((b - labels) ** 2) - np.mean((a - labels) ** 2)}
    for metric in METRICS:
        low, high = np.percentile(expected[metric], [2.5, 97.5])
        assert got[metric].value == pytest.approx(values[metric], abs=1e-9), metric
        assert got[metric].low == pytest.approx(low, abs=1e-9), metric
        assert got[metric].high == pytest.approx(high, abs=1e-9), metric
    single = bootstrap_interval(labels, b, "avg_precision", n_resamples=n_resamples, seed=seed)
    assert single.value == pytest.approx(average_precision_score(positive, b), abs=1e-9)


def test_resamples_do_not_depend_on_the_block_size(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = np.concatenate(list(resample_indices(50, 300, seed=1)))
    monkeypatch.setattr("parasim.evaluation.bootstrap.BLOCK_COUNTS", 50 * 7)  # blocks of 7 resamples
    blocks = list(resample_indices(50, 300, seed=1))
    assert len(blocks) == 43 and np.array_equal(np.concatenate(blocks), whole)


def test_the_95_percent_interval_covers_the_true_difference_about_95_percent_of_the_time() -> None:
    """200 synthetic test sets of 150 pairs from a known binormal model, 500 resamples each (kept cheap; the
    percentile tails need ≥ 1,000 in real use); the truth of AP comes from 200,000 pairs."""
    truth = {"roc_auc": norm.cdf(1.4 / np.sqrt(2)) - norm.cdf(1.0 / np.sqrt(2)), "mse": 0.5 * (0.4**2 - 0.0**2)}
    labels, a, b = binormal(np.random.default_rng(99), 200_000)
    truth["avg_precision"] = average_precision_score(labels, b) - average_precision_score(labels, a)
    rng = np.random.default_rng(0)
    covered = dict.fromkeys(METRICS, 0)
    for dataset in range(200):
        intervals = paired_bootstrap(*binormal(rng, 150), n_resamples=500, seed=dataset)
        for metric, interval in intervals.items():
            covered[metric] += interval.low <= truth[metric] <= interval.high
    for metric, hits in covered.items():
        assert 0.90 <= hits / 200 <= 0.99, (metric, hits)


def test_identical_scorers_differ_by_exactly_zero() -> None:
    labels, a, _ = binormal(np.random.default_rng(1), 100)
    for interval in paired_bootstrap(labels, a, a.copy()).values():
        assert (interval.value, interval.low, interval.high) == (0.0, 0.0, 0.0)


def test_same_seed_same_interval_and_a_clear_difference_excludes_zero() -> None:
    labels, a, b = binormal(np.random.default_rng(2), 400, mu_a=0.5, mu_b=2.0)
    first, again = paired_bootstrap(labels, a, b, seed=5), paired_bootstrap(labels, a, b, seed=5)
    assert first == again
    assert first["roc_auc"].low > 0 and first["avg_precision"].low > 0  # b ranks better, beyond resampling noise
    assert paired_bootstrap(labels, a, b, seed=6)["roc_auc"] != first["roc_auc"]


def test_one_class_resamples_are_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    labels = np.array([1.0] + [0.0] * 9)  # one positive in 10 pairs: (9/10)^10 ≈ 35 % of resamples lack it
    scores = np.linspace(0, 1, 10)
    with caplog.at_level(logging.WARNING):
        interval = bootstrap_interval(labels, scores, "roc_auc", n_resamples=1000)
    assert "hold one class only" in caplog.text and "roc_auc" in caplog.text
    dropped = int(caplog.text.split("bootstrap: ")[1].split(" of ")[0])
    assert 250 < dropped < 450
    assert interval.low <= interval.value <= interval.high
    everything_dropped = bootstrap_interval(np.zeros(10), scores, "roc_auc", n_resamples=100)
    assert np.isnan([everything_dropped.value, everything_dropped.low, everything_dropped.high]).all()
    assert bootstrap_interval(np.zeros(10), scores, "mse", n_resamples=100).low > 0  # MSE keeps every resample


def test_bad_input_is_one_clear_error() -> None:
    with pytest.raises(ParasimError, match="unknown bootstrap metric"):
        bootstrap_interval(np.ones(3), np.ones(3), "f1")
    with pytest.raises(ParasimError, match="differ in length"):
        paired_bootstrap(np.ones(3), np.ones(3), np.ones(4))


def test_scorer_table_shows_intervals_and_differences_from_sef1() -> None:
    labels, sef1, cosine = binormal(np.random.default_rng(4), 300, mu_a=2.0, mu_b=0.5)
    val_labels, val_sef1, val_cosine = binormal(np.random.default_rng(5), 100, mu_a=2.0, mu_b=0.5)
    metrics = scorer_metrics({"sef1": val_sef1, "cosine": val_cosine}, val_labels, {"sef1": sef1, "cosine": cosine},
                             labels)
    diff = paired_bootstrap(labels, sef1, cosine, ("roc_auc", "avg_precision"))
    assert metrics["test/scorers/cosine/diff_roc_auc"] == pytest.approx(diff["roc_auc"].value)
    assert metrics["test/scorers/cosine/diff_roc_auc_high"] == pytest.approx(diff["roc_auc"].high)
    assert diff["roc_auc"].high < 0  # cosine (mu 0.5) is clearly worse than SE-F1 (mu 2) here
    assert "test/scorers/sef1/diff_roc_auc" not in metrics
    for name in ("sef1", "cosine"):
        prefix = f"test/scorers/{name}/"
        assert metrics[prefix + "roc_auc_low"] < metrics[prefix + "roc_auc"] < metrics[prefix + "roc_auc_high"]
    report = markdown(metrics, ["all"], "SE-F1", "none", "test model")
    assert "Δ ROC-AUC vs SE-F1 [95 % CI]" in report
    cosine_row = next(line for line in report.splitlines() if line.startswith("| paragraph cosine |"))
    assert f"{diff['roc_auc'].value:+.4f}".replace("-", "−") in cosine_row
