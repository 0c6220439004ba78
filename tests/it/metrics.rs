//! Calibration metrics against the spec's hand-computed vectors (§6.8).

use crate::common::*;
use advcal::Error;
use advcal::metrics::*;
use approx::assert_abs_diff_eq;
use burn::prelude::*;
use proptest::prelude::*;

const V1_PROBS: [f32; 16] = [
    0.95, 0.02, 0.02, 0.01, //
    0.01, 0.95, 0.02, 0.02, //
    0.30, 0.25, 0.25, 0.20, //
    0.20, 0.50, 0.20, 0.10,
];
const V1_LABELS: [usize; 4] = [0, 0, 0, 2];

#[test]
fn v1_hand_computed_metrics() {
    let r = CalibrationReport::from_probabilities(&V1_PROBS, 4, &V1_LABELS, 15).unwrap();
    let tol = 1e-6;
    assert_eq!(r.n, 4);
    assert_abs_diff_eq!(r.accuracy, 0.5, epsilon = tol);
    assert_abs_diff_eq!(r.confidence, 0.675, epsilon = tol);
    assert_abs_diff_eq!(r.ece, 0.525, epsilon = tol);
    assert_abs_diff_eq!(r.mce, 0.7, epsilon = tol);
    assert_abs_diff_eq!(r.mcs, 0.175, epsilon = tol);
    assert_abs_diff_eq!(r.over, 0.35, epsilon = tol);
    assert_abs_diff_eq!(r.under, -0.175, epsilon = tol);
    assert_abs_diff_eq!(r.nll, 1.8674685, epsilon = tol);
    assert_abs_diff_eq!(r.brier, 0.87045, epsilon = tol);
    // Bins #4, #7 and #14 hold the samples.
    let counts: Vec<usize> = r.bins.iter().map(|b| b.count).collect();
    let mut expected = vec![0; 15];
    expected[4] = 1;
    expected[7] = 1;
    expected[14] = 2;
    assert_eq!(counts, expected);
    assert_eq!(r.bins[14].accuracy, Some(0.5));
    assert_abs_diff_eq!(r.bins[14].confidence.unwrap(), 0.95, epsilon = tol);
    assert_eq!(r.bins[0].accuracy, None);
}

#[test]
fn accumulator_on_logits_agrees_with_probabilities() {
    // Feeding ln(p) as logits must reproduce the probability-based report, in two batches.
    let logits: Vec<f32> = V1_PROBS.iter().map(|p| p.ln()).collect();
    let mut acc = CalibrationAccumulator::new(4, 15).unwrap();
    for (rows, ys) in [(0..2, &V1_LABELS[..2]), (2..4, &V1_LABELS[2..])] {
        let z = Tensor::<NB, 1>::from_floats(&logits[rows.start * 4..rows.end * 4], &dev())
            .reshape([rows.len(), 4]);
        let y = labels::<NB>(&ys.iter().map(|&v| v as i64).collect::<Vec<_>>(), &dev());
        acc.add_batch(z, y).unwrap();
    }
    let a = acc.report().unwrap();
    let b = CalibrationReport::from_probabilities(&V1_PROBS, 4, &V1_LABELS, 15).unwrap();
    for (x, y) in [
        (a.accuracy, b.accuracy),
        (a.confidence, b.confidence),
        (a.ece, b.ece),
        (a.mce, b.mce),
        (a.mcs, b.mcs),
        (a.nll, b.nll),
        (a.brier, b.brier),
    ] {
        assert_abs_diff_eq!(x, y, epsilon = 1e-6);
    }
    let c = CalibrationReport::from_logits(&logits, 4, &V1_LABELS, 15).unwrap();
    assert_abs_diff_eq!(c.ece, b.ece, epsilon = 1e-6);
}

#[test]
fn v2_confidence_exactly_one_goes_to_last_bin() {
    // Confidences 1.0 (correct) and 0.94 (wrong) share bin 14: acc 0.5, conf 0.97.
    let probs = [1.0, 0.0, 0.94, 0.06];
    let r = CalibrationReport::from_probabilities(&probs, 2, &[0, 1], 15).unwrap();
    assert_eq!(r.bins[14].count, 2);
    assert_abs_diff_eq!(r.ece, 0.47, epsilon = 1e-6);
    assert_abs_diff_eq!(r.mcs, 0.47, epsilon = 1e-6);
    assert_abs_diff_eq!(r.mce, 0.47, epsilon = 1e-6);
}

#[test]
fn confidence_zero_goes_to_first_bin() {
    // An all-zero row has confidence 0 (not a softmax output, but must not be lost).
    let r = CalibrationReport::from_probabilities(&[0.0, 0.0, 0.7, 0.3], 2, &[0, 0], 10).unwrap();
    assert_eq!(r.bins[0].count, 1);
    assert_eq!(r.bins.iter().map(|b| b.count).sum::<usize>(), 2);
}

#[test]
fn invalid_metric_inputs_are_typed_errors() {
    assert!(matches!(
        CalibrationAccumulator::new(4, 0),
        Err(Error::InvalidBins)
    ));
    assert!(matches!(
        CalibrationReport::from_probabilities(&V1_PROBS, 4, &V1_LABELS, 0),
        Err(Error::InvalidBins)
    ));
    assert!(matches!(
        CalibrationReport::from_probabilities(&V1_PROBS, 4, &[0, 0, 0, 4], 15),
        Err(Error::LabelOutOfRange {
            label: 4,
            num_classes: 4
        })
    ));
    assert!(matches!(
        CalibrationReport::from_probabilities(&V1_PROBS, 4, &[0, 0, 0], 15),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        CalibrationReport::from_probabilities(&[] as &[f32], 4, &[], 15),
        Err(Error::NoSamples)
    ));
    assert!(matches!(
        CalibrationReport::from_probabilities(&[f32::NAN, 1.0], 2, &[0], 15),
        Err(Error::InvalidProbabilities(_))
    ));
    let mut acc = CalibrationAccumulator::new(3, 15).unwrap();
    let z = Tensor::<NB, 2>::zeros([2, 3], &dev());
    assert!(matches!(
        acc.add_batch(z.clone(), labels::<NB>(&[0], &dev())),
        Err(Error::BatchSizeMismatch { .. })
    ));
    assert!(matches!(
        acc.add_batch(z, labels::<NB>(&[0, 3], &dev())),
        Err(Error::LabelOutOfRange { .. })
    ));
}

#[test]
fn v5_temperature_scaling_optimum() {
    let logits = [4.0f32, 0.0, 4.0, 0.0, 4.0, 0.0, 4.0, 0.0];
    let y = [0, 0, 0, 1];
    let t = fit_temperature(&logits, 2, &y).unwrap();
    assert_abs_diff_eq!(t, 3.6409569, epsilon = 1e-4);
    assert_abs_diff_eq!(
        nll_at_temperature(&logits, 2, &y, t).unwrap(),
        0.5623351,
        epsilon = 1e-6
    );
    assert_abs_diff_eq!(
        nll_at_temperature(&logits, 2, &y, 1.0).unwrap(),
        1.0181499,
        epsilon = 1e-6
    );
    // Scaling never changes predictions, hence accuracy.
    let z = Tensor::<NB, 2>::from_floats([[4.0, 0.0], [4.0, 0.0], [4.0, 0.0], [4.0, 0.0]], &dev());
    let scaled = to_vec(apply_temperature(z, t).unwrap());
    let before = CalibrationReport::from_logits(&logits, 2, &y, 15).unwrap();
    let after = CalibrationReport::from_logits(&scaled, 2, &y, 15).unwrap();
    assert_eq!(before.accuracy, after.accuracy);
    assert!(after.nll < before.nll);
    assert!(apply_temperature(Tensor::<NB, 2>::zeros([1, 2], &dev()), 0.0).is_err());
    assert!(fit_temperature(&logits, 2, &[0, 0, 0, 2]).is_err());
}

fn probs_strategy() -> impl Strategy<Value = (Vec<f32>, Vec<usize>, usize)> {
    (2usize..6, 1usize..40).prop_flat_map(|(k, n)| {
        (
            proptest::collection::vec(0.01f32..1.0, n * k),
            proptest::collection::vec(0..k, n),
            Just(k),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn ece_bounds_mcs_and_mcs_is_conf_minus_acc((raw, y, k) in probs_strategy(), bins in 1usize..30) {
        // Normalise rows to probabilities.
        let mut p = raw.clone();
        for row in p.chunks_mut(k) {
            let s: f32 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= s);
        }
        let r = CalibrationReport::from_probabilities(&p, k, &y, bins).unwrap();
        prop_assert!(r.ece + 1e-12 >= r.mcs.abs());
        prop_assert!((r.mcs - (r.confidence - r.accuracy)).abs() < 1e-9);
        prop_assert!((r.ece - (r.over - r.under)).abs() < 1e-9);
        prop_assert!(r.mce + 1e-12 >= r.ece);
        prop_assert_eq!(r.bins.iter().map(|b| b.count).sum::<usize>(), y.len());
    }
}
