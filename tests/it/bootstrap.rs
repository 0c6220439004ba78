//! Seeded percentile-bootstrap confidence intervals of the calibration metrics.

use crate::common::*;
use advcal::Error;
use advcal::metrics::*;
use advcal::rng::{seeded_rng, uniform_values};
use burn::prelude::*;
use rand::Rng;

/// `n` images of an overconfident model: confidence ~ U(0.6, 1), right with probability
/// `confidence − 0.2`, true-class probability = confidence when right, below `1 − confidence`
/// otherwise. Every bin's gap is about +0.2, so ECE ≈ MCS and no bin changes sign on resamples.
fn overconfident(n: usize, seed: u64) -> CalibrationSamples {
    let mut rng = seeded_rng(seed);
    let mut s = CalibrationSamples::with_capacity(n);
    for _ in 0..n {
        let c = 0.6 + 0.4 * rng.random::<f64>();
        let ok = rng.random::<f64>() < c - 0.2;
        let gt = if ok {
            c
        } else {
            (1.0 - c) * rng.random::<f64>()
        };
        s.push(c, ok, gt).unwrap();
    }
    s
}

/// `(name, point estimate, interval)` of every metric.
fn pairs(e: &CalibrationEstimate, ci: &ConfidenceIntervals) -> [(&'static str, f64, [f64; 2]); 6] {
    [
        ("ACC", e.accuracy, ci.accuracy),
        ("CONF", e.confidence, ci.confidence),
        ("ECE", e.ece, ci.ece),
        ("MCS", e.mcs, ci.mcs),
        ("GT-CONF", e.gt_confidence, ci.gt_confidence),
        (
            "CONF | correct",
            e.correct_confidence.unwrap(),
            ci.correct_confidence.unwrap(),
        ),
    ]
}

#[test]
fn all_correct_and_certain_gives_point_intervals() {
    let mut s = CalibrationSamples::new();
    for _ in 0..50 {
        s.push(1.0, true, 1.0).unwrap();
    }
    let ci = s
        .bootstrap(&BootstrapConfig::new().with_resamples(200))
        .unwrap();
    assert_eq!(ci.accuracy, [1.0, 1.0]);
    assert_eq!(ci.confidence, [1.0, 1.0]);
    assert_eq!(ci.gt_confidence, [1.0, 1.0]);
    assert_eq!(ci.ece, [0.0, 0.0]);
    assert_eq!(ci.mcs, [0.0, 0.0]);
    assert_eq!(ci.correct_confidence, Some([1.0, 1.0]));
    assert_eq!((ci.level, ci.resamples), (0.95, 200));
}

#[test]
fn json_written_before_conf_correct_existed_still_reads() {
    let ci: ConfidenceIntervals = serde_json::from_str(
        r#"{"accuracy": [0.1, 0.2], "confidence": [0.3, 0.4], "ece": [0.0, 0.1],
            "mcs": [0.1, 0.3], "gt_confidence": [0.2, 0.3], "level": 0.95, "resamples": 10}"#,
    )
    .unwrap();
    assert_eq!(ci.correct_confidence, None);
    assert_eq!((ci.nll, ci.brier), (None, None));
    let report =
        CalibrationReport::from_probabilities(&[0.9, 0.1, 0.3, 0.7], 2, &[0, 0], 15).unwrap();
    let mut json = serde_json::to_value(&report).unwrap();
    json.as_object_mut().unwrap().remove("correct_confidence");
    let old: CalibrationReport = serde_json::from_value(json).unwrap();
    assert_eq!(old.correct_confidence, None);
    // Approximate equality tells a report with CONF | correct from one without.
    assert!(approx::relative_ne!(
        report,
        old,
        epsilon = 1.0,
        max_relative = 1.0
    ));
    assert!(approx::relative_eq!(report, report.clone()));
}

#[test]
fn confidence_of_correct_samples_by_hand() {
    // Correct at 0.9 and 0.7, wrong at 0.6: CONF | correct = (0.9 + 0.7) / 2 = 0.8.
    let mut s = CalibrationSamples::new();
    s.push(0.9, true, 0.9).unwrap();
    s.push(0.7, true, 0.7).unwrap();
    s.push(0.6, false, 0.3).unwrap();
    let e = s.estimate(15).unwrap();
    assert!((e.correct_confidence.unwrap() - 0.8).abs() < 1e-15);
    // Resamples hold 0.7 and 0.9 in any proportion (or no correct sample at all, left out), so
    // the interval lies within [0.7, 0.9] and reaches both ends with 1000 resamples of 3.
    let [lo, hi] = s
        .bootstrap(&BootstrapConfig::new())
        .unwrap()
        .correct_confidence
        .unwrap();
    assert!(
        (lo - 0.7).abs() < 1e-12 && (hi - 0.9).abs() < 1e-12,
        "[{lo}, {hi}]"
    );
    // No correct sample: undefined, not 0, and left out of the JSON.
    let mut wrong = CalibrationSamples::new();
    wrong.push(0.6, false, 0.3).unwrap();
    wrong.push(0.8, false, 0.1).unwrap();
    assert_eq!(wrong.estimate(15).unwrap().correct_confidence, None);
    let ci = wrong.bootstrap(&BootstrapConfig::new()).unwrap();
    assert_eq!(ci.correct_confidence, None);
    let json = serde_json::to_value(ci).unwrap();
    assert!(json.get("correct_confidence").is_none());
    // The report agrees: two classes, probabilities [0.9, 0.1], [0.3, 0.7], [0.6, 0.4].
    let r =
        CalibrationReport::from_probabilities(&[0.9, 0.1, 0.3, 0.7, 0.6, 0.4], 2, &[0, 1, 1], 15)
            .unwrap();
    assert!((r.correct_confidence.unwrap() - 0.8).abs() < 1e-12);
    let none = CalibrationReport::from_probabilities(&[0.9, 0.1], 2, &[1], 15).unwrap();
    assert_eq!(none.correct_confidence, None);
}

#[test]
fn two_certain_images_one_wrong_give_full_intervals() {
    // Resampled ACC is 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4: with 1000 resamples the
    // 2.5 % and 97.5 % quantiles are 0 and 1. Both images sit in the last bin at confidence 1, so
    // ECE = MCS = 1 − ACC on every resample, and CONF is always 1.
    let mut s = CalibrationSamples::new();
    s.push(1.0, true, 1.0).unwrap();
    s.push(1.0, false, 0.0).unwrap();
    let e = s.estimate(15).unwrap();
    assert_eq!((e.n, e.accuracy, e.ece, e.mcs), (2, 0.5, 0.5, 0.5));
    let ci = s.bootstrap(&BootstrapConfig::new()).unwrap();
    assert_eq!(ci.accuracy, [0.0, 1.0]);
    assert_eq!(ci.confidence, [1.0, 1.0]);
    assert_eq!(ci.ece, [0.0, 1.0]);
    assert_eq!(ci.mcs, [0.0, 1.0]);
    assert_eq!(ci.gt_confidence, [0.0, 1.0]);
    // The correct image is the only correct one: CONF | correct is 1 wherever it is defined.
    assert_eq!(ci.correct_confidence, Some([1.0, 1.0]));
}

#[test]
fn intervals_contain_the_estimate_and_shrink_as_one_over_sqrt_n() {
    let config = BootstrapConfig::new().with_seed(3);
    let mut widths = Vec::new();
    for (n, seed) in [(400, 11), (6400, 12)] {
        let s = overconfident(n, seed);
        let e = s.estimate(config.bins).unwrap();
        let ci = s.bootstrap(&config).unwrap();
        let metrics = pairs(&e, &ci);
        for (name, point, [lo, hi]) in metrics {
            assert!(
                lo < point && point < hi,
                "{name}, N = {n}: {point} not inside [{lo}, {hi}]"
            );
        }
        widths.push(metrics.map(|(name, _, [lo, hi])| (name, hi - lo)));
    }
    // sqrt(6400 / 400) = 4.
    for ((name, small), (_, large)) in widths[0].iter().zip(&widths[1]) {
        let ratio = small / large;
        assert!(
            (3.0..5.0).contains(&ratio),
            "{name}: width {small} at N = 400, {large} at N = 6400, ratio {ratio}"
        );
    }
}

#[test]
fn accuracy_interval_matches_the_normal_approximation() {
    let n = 2000;
    let mut rng = seeded_rng(5);
    let mut s = CalibrationSamples::new();
    for _ in 0..n {
        let ok = rng.random::<f64>() < 0.7;
        s.push(0.7, ok, if ok { 0.7 } else { 0.2 }).unwrap();
    }
    let e = s.estimate(15).unwrap();
    let p = e.accuracy;
    let half = 1.96 * (p * (1.0 - p) / n as f64).sqrt();
    let ci = s.bootstrap(&BootstrapConfig::new().with_seed(9)).unwrap();
    let [lo, hi] = ci.accuracy;
    assert!((lo - (p - half)).abs() < 0.01, "lower {lo} vs {}", p - half);
    assert!((hi - (p + half)).abs() < 0.01, "upper {hi} vs {}", p + half);
    // A constant confidence is the same on every resample...
    assert_eq!(ci.confidence, [e.confidence, e.confidence]);
    // ...and, all in one bin, MCS = CONF − ACC mirrors the accuracy interval.
    assert!(
        (ci.mcs[0] - (e.confidence - hi)).abs() < 1e-9,
        "{:?}",
        ci.mcs
    );
    assert!(
        (ci.mcs[1] - (e.confidence - lo)).abs() < 1e-9,
        "{:?}",
        ci.mcs
    );
}

#[test]
fn bootstrap_is_deterministic_per_seed() {
    let s = overconfident(300, 21);
    let config = BootstrapConfig::new().with_resamples(200).with_seed(4);
    let a = s.bootstrap(&config).unwrap();
    assert_eq!(a, s.bootstrap(&config).unwrap());
    assert_eq!(a, s.clone().bootstrap(&config.clone()).unwrap());
    let b = s.bootstrap(&config.clone().with_seed(5)).unwrap();
    assert_ne!(a, b);
    // CONF is continuous, so its bounds differ between seeds.
    assert_ne!(a.confidence, b.confidence);
}

#[test]
fn invalid_configs_and_inputs_are_typed_errors() {
    let s = overconfident(10, 1);
    let expect_param = |config: BootstrapConfig, expected: &str| {
        match config.validate() {
            Err(Error::InvalidParameter { name, .. }) => assert_eq!(name, expected),
            other => panic!("{config:?}: expected `{expected}` error, got {other:?}"),
        }
        match s.bootstrap(&config) {
            Err(Error::InvalidParameter { name, .. }) => assert_eq!(name, expected),
            other => panic!("{config:?}: expected `{expected}` error, got {other:?}"),
        }
    };
    for resamples in [0, 1] {
        expect_param(
            BootstrapConfig::new().with_resamples(resamples),
            "resamples",
        );
    }
    for level in [0.0, 1.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
        expect_param(BootstrapConfig::new().with_level(level), "level");
    }
    assert!(matches!(
        s.bootstrap(&BootstrapConfig::new().with_bins(0)),
        Err(Error::InvalidBins)
    ));
    assert!(BootstrapConfig::new().validate().is_ok());
    assert!(matches!(s.estimate(0), Err(Error::InvalidBins)));

    let empty = CalibrationSamples::new();
    assert!(matches!(
        empty.bootstrap(&BootstrapConfig::new()),
        Err(Error::NoSamples)
    ));
    assert!(matches!(empty.estimate(15), Err(Error::NoSamples)));

    // Samples: rejected values leave the set unchanged.
    let mut s = CalibrationSamples::new();
    for (c, gt) in [
        (1.5, 0.5),
        (-0.1, 0.0),
        (f64::NAN, 0.5),
        (0.5, f64::NAN),
        (0.5, 2.0),
    ] {
        assert!(matches!(
            s.push(c, true, gt),
            Err(Error::InvalidProbabilities(_))
        ));
    }
    assert!(s.is_empty());
    assert!(matches!(
        s.extend_from_logits(&[] as &[f32], 0, &[]),
        Err(Error::InvalidParameter {
            name: "num_classes",
            ..
        })
    ));
    assert!(matches!(
        s.extend_from_logits(&[0.0; 5], 2, &[0, 1]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        s.extend_from_logits(&[0.0; 4], 2, &[0, 2]),
        Err(Error::LabelOutOfRange {
            label: 2,
            num_classes: 2
        })
    ));
    // A bad second row adds nothing, not even the first row.
    assert!(matches!(
        s.extend_from_logits(&[1.0, 0.0, f32::INFINITY, 0.0], 2, &[0, 1]),
        Err(Error::InvalidProbabilities(_))
    ));
    assert!(s.is_empty());
    let z = Tensor::<NB, 2>::zeros([3, 2], &dev());
    assert!(matches!(
        s.add_batch(z.clone(), labels::<NB>(&[0, 1], &dev())),
        Err(Error::BatchSizeMismatch {
            images: 3,
            labels: 2
        })
    ));
    assert!(matches!(
        s.add_batch(z, labels::<NB>(&[0, -1, 1], &dev())),
        Err(Error::LabelOutOfRange { label: -1, .. })
    ));
    assert!(s.is_empty());
}

#[test]
fn point_estimates_match_the_report() {
    let (n, k) = (1000, 10);
    let logits = uniform_values(n * k, 4.0, 17);
    let mut rng = seeded_rng(18);
    let targets: Vec<usize> = (0..n).map(|_| rng.random_range(0..k)).collect();

    let mut s = CalibrationSamples::new();
    s.extend_from_logits(&logits, k, &targets).unwrap();
    assert_eq!(s.len(), n);
    for bins in [1, 10, 15, 40] {
        let r = CalibrationReport::from_logits(&logits, k, &targets, bins).unwrap();
        let e = s.estimate(bins).unwrap();
        assert_eq!(e.n, r.n);
        for (name, a, b) in [
            ("ACC", e.accuracy, r.accuracy),
            ("CONF", e.confidence, r.confidence),
            ("ECE", e.ece, r.ece),
            ("MCS", e.mcs, r.mcs),
            ("GT-CONF", e.gt_confidence, r.gt_confidence),
            (
                "CONF | correct",
                e.correct_confidence.unwrap(),
                r.correct_confidence.unwrap(),
            ),
            ("NLL", e.nll.unwrap(), r.nll),
            ("Brier", e.brier.unwrap(), r.brier),
        ] {
            assert!((a - b).abs() <= 1e-12, "{name}, {bins} bins: {a} vs {b}");
        }
    }

    // The tensor path, in two batches, against the accumulator fed the same batches.
    let mut from_tensors = CalibrationSamples::new();
    let mut acc = CalibrationAccumulator::new(k, 15).unwrap();
    for rows in [0..600, 600..n] {
        let z = Tensor::<NB, 1>::from_floats(&logits[rows.start * k..rows.end * k], &dev())
            .reshape([rows.len(), k]);
        let ys: Vec<i64> = targets[rows].iter().map(|&v| v as i64).collect();
        let y = labels::<NB>(&ys, &dev());
        from_tensors.add_batch(z.clone(), y.clone()).unwrap();
        acc.add_batch(z, y).unwrap();
    }
    assert_eq!(from_tensors, s);
    let (e, r) = (from_tensors.estimate(15).unwrap(), acc.report().unwrap());
    for (name, a, b) in [
        ("ACC", e.accuracy, r.accuracy),
        ("CONF", e.confidence, r.confidence),
        ("ECE", e.ece, r.ece),
        ("MCS", e.mcs, r.mcs),
    ] {
        assert!((a - b).abs() <= 1e-12, "{name}: {a} vs {b}");
    }
    // The interval of each metric contains its estimate on this realistic (random-logit) set.
    let ci = s.bootstrap(&BootstrapConfig::new()).unwrap();
    for (name, point, [lo, hi]) in pairs(&e, &ci) {
        assert!(
            lo <= point && point <= hi,
            "{name}: {point} not in [{lo}, {hi}]"
        );
    }
    // NLL and Brier are means over images: their percentile intervals agree with the normal
    // approximation mean ± 1.96 sd / √n (computed here from the per-image values) within 10 %.
    let per_image: Vec<(f64, f64)> = logits
        .chunks(k)
        .zip(&targets)
        .map(|(row, &y)| {
            let m = row.iter().fold(f32::MIN, |a, &b| a.max(b)) as f64;
            let z: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
            let p: Vec<f64> = row.iter().map(|&v| (v as f64 - m).exp() / z).collect();
            let brier: f64 = (0..k)
                .map(|j| (p[j] - f64::from(u8::from(j == y))).powi(2))
                .sum();
            (-p[y].ln(), brier)
        })
        .collect();
    for (name, values, point, [lo, hi]) in [
        (
            "NLL",
            per_image.iter().map(|v| v.0).collect::<Vec<_>>(),
            e.nll.unwrap(),
            ci.nll.unwrap(),
        ),
        (
            "Brier",
            per_image.iter().map(|v| v.1).collect(),
            e.brier.unwrap(),
            ci.brier.unwrap(),
        ),
    ] {
        let mean = values.iter().sum::<f64>() / n as f64;
        assert!((mean - point).abs() < 1e-9, "{name}: {mean} vs {point}");
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        let half = 1.96 * sd / (n as f64).sqrt();
        assert!(
            lo <= point && point <= hi,
            "{name}: {point} not in [{lo}, {hi}]"
        );
        assert!(
            ((hi - lo) / (2.0 * half) - 1.0).abs() < 0.1,
            "{name}: width {} vs normal approximation {}",
            hi - lo,
            2.0 * half
        );
    }
    // Samples added without logits carry neither: no estimate, no interval.
    let mut pushed = s.clone();
    pushed.push(0.5, true, 0.5).unwrap();
    assert_eq!(pushed, pushed.clone());
    assert_ne!(pushed, s);
    let (e, ci) = (
        pushed.estimate(15).unwrap(),
        pushed
            .bootstrap(&BootstrapConfig::new().with_resamples(50))
            .unwrap(),
    );
    assert_eq!((e.nll, e.brier, ci.nll, ci.brier), (None, None, None, None));
}
