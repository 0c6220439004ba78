//! The calibration-robustness report (`advcal::report`): rows, agreement with `evaluate`
//! and `evaluate_under`, the worst-case row, intervals, files, and an untouched model.

use crate::common::*;
use advcal::Error;
use advcal::data::ImageDataset;
use advcal::eval::{EvaluationConfig, evaluate, evaluate_under};
use advcal::metrics::{BootstrapConfig, CalibrationSamples};
use advcal::model::SmallCnn;
use advcal::report::*;
use burn::module::AutodiffModule;

const EPSILONS: [f32; 2] = [0.02, 0.05];
const BATCH: usize = 8;
const BINS: usize = 10;

fn config() -> RobustnessConfig {
    RobustnessConfig::new()
        .with_epsilons(EPSILONS.to_vec())
        .with_steps(2)
        .with_batch_size(BATCH)
        .with_bins(BINS)
        .with_seed(11)
        .with_progress(false)
        .with_bootstrap(BootstrapConfig::new().with_resamples(200).with_seed(3))
}

/// 20 images in 3 batches (8, 8, 4), so several batch seeds are exercised.
fn data() -> ImageDataset {
    toy_dataset(20, 7)
}

fn model() -> SmallCnn<AD> {
    tiny_cnn(2, 21)
}

fn run() -> (SmallCnn<AD>, ImageDataset, RobustnessReport) {
    let (model, data) = (model(), data());
    let report = robustness_report(&model, &data, &config(), &dev()).unwrap();
    (model, data, report)
}

/// Per-image calibration gaps `|confidence − correctness|`.
fn gaps(samples: &CalibrationSamples) -> Vec<f64> {
    samples
        .confidences()
        .iter()
        .zip(samples.correct())
        .map(|(&c, &ok)| (c - if ok { 1.0 } else { 0.0 }).abs())
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn rows_cover_every_attack_and_radius_plus_the_worst_case() {
    let (_, data, report) = run();
    let names: Vec<(&str, f32)> = report
        .rows
        .iter()
        .map(|r| (r.attack.as_str(), r.epsilon))
        .collect();
    let mut expected = Vec::new();
    for eps in EPSILONS {
        for name in ["pgd", "iaa", "uca", "robust", "worst"] {
            expected.push((name, eps));
        }
    }
    assert_eq!(names, expected);
    assert_eq!((report.n, report.num_classes), (data.len(), 10));
    assert_eq!(
        (report.clean.attack.as_str(), report.clean.epsilon),
        ("clean", 0.0)
    );
    assert_eq!(report.clean.max_linf, 0.0);
    for row in std::iter::once(&report.clean).chain(&report.rows) {
        assert_eq!(row.n, 20, "{}", row.attack);
        assert_eq!(row.report.n, 20);
        assert_eq!(row.samples.len(), 20);
        assert_eq!(row.report.bins.len(), BINS);
        assert!(
            row.max_linf <= f64::from(row.epsilon) + 1e-6,
            "{}",
            row.attack
        );
        assert_eq!(row.sources.is_some(), row.attack == "worst");
    }
    for eps in EPSILONS {
        let sources = report.row("worst", eps).unwrap().sources.clone().unwrap();
        let keys: Vec<&str> = sources.keys().map(String::as_str).collect();
        assert_eq!(keys, ["clean", "iaa", "pgd", "uca"]);
        assert_eq!(sources.values().sum::<usize>(), 20);
        assert!(report.row("pgd", eps).unwrap().max_linf > 0.0);
    }

    // A subset of attacks, one radius and a limit.
    let small = config()
        .with_epsilons(vec![0.03])
        .with_attacks(vec![ReportAttack::Iaa])
        .with_limit(Some(5));
    let r = robustness_report(&model(), &data, &small, &dev()).unwrap();
    let names: Vec<&str> = r.rows.iter().map(|r| r.attack.as_str()).collect();
    assert_eq!(names, ["iaa", "worst"]);
    assert!(r.rows.iter().all(|row| row.n == 5) && r.n == 5);
}

#[test]
fn clean_row_equals_evaluate() {
    let (model, data, report) = run();
    let evaluation = EvaluationConfig::new()
        .with_batch_size(BATCH)
        .with_bins(BINS);
    let expected = evaluate(&model.valid(), &data, &evaluation, &dev())
        .unwrap()
        .report;
    let clean = &report.clean;
    for (got, want, name) in [
        (clean.accuracy, expected.accuracy, "accuracy"),
        (clean.confidence, expected.confidence, "confidence"),
        (clean.ece, expected.ece, "ece"),
        (clean.mcs, expected.mcs, "mcs"),
    ] {
        assert!((got - want).abs() <= 1e-12, "{name}: {got} vs {want}");
    }
    assert_eq!(clean.report, expected);
}

#[test]
fn attack_rows_equal_evaluate_under_with_the_same_seeds() {
    let (model, data, report) = run();
    let config = config();
    for eps in EPSILONS {
        for attack in ReportAttack::DEFAULT {
            let attack_config = config.attack_config(attack, eps);
            let budget = attack_config.budget();
            let evaluation = EvaluationConfig::new()
                .with_batch_size(BATCH)
                .with_bins(BINS);
            let expected =
                evaluate_under(&attack_config, &model, &data, budget, &evaluation, &dev()).unwrap();
            let row = report.row(attack.name(), eps).unwrap();
            assert_eq!(expected.attack, row.attack);
            let r = &expected.report;
            for (got, want, name) in [
                (row.accuracy, r.accuracy, "accuracy"),
                (row.confidence, r.confidence, "confidence"),
                (row.ece, r.ece, "ece"),
                (row.mcs, r.mcs, "mcs"),
                (row.report.nll, r.nll, "nll"),
                (row.report.brier, r.brier, "brier"),
                (row.max_linf, expected.max_linf, "max_linf"),
            ] {
                assert!(
                    (got - want).abs() <= 1e-9,
                    "{}@{eps} {name}: {got} vs {want}",
                    attack.name()
                );
            }
        }
    }
}

#[test]
fn worst_row_is_the_per_image_worst_case_and_uca_keeps_accuracy() {
    let (_, _, report) = run();
    let clean_gaps = gaps(&report.clean.samples);
    for eps in EPSILONS {
        let worst = report.row("worst", eps).unwrap();
        let worst_gaps = gaps(&worst.samples);
        for name in ["pgd", "iaa", "uca"] {
            let row = report.row(name, eps).unwrap();
            let row_gaps = gaps(&row.samples);
            for (i, (w, g)) in worst_gaps.iter().zip(&row_gaps).enumerate() {
                assert!(w >= g, "{name}@{eps}, image {i}: worst gap {w} < {g}");
            }
            assert!(mean(&worst_gaps) >= mean(&row_gaps), "{name}@{eps}");
            // The mean gap bounds the binned ECE of every row from above.
            assert!(row.ece <= mean(&worst_gaps) + 1e-12, "{name}@{eps}");
        }
        assert!(mean(&worst_gaps) >= mean(&clean_gaps));
        // Every worst-case image is one of the candidates, same label.
        for (i, &w) in worst_gaps.iter().enumerate() {
            let candidates = std::iter::once(clean_gaps[i]).chain(
                ["pgd", "iaa", "uca"]
                    .iter()
                    .map(|n| gaps(&report.row(n, eps).unwrap().samples)[i]),
            );
            assert!(candidates.into_iter().any(|g| g == w), "image {i}");
        }
        let uca = report.row("uca", eps).unwrap();
        assert_eq!(
            uca.accuracy, report.clean.accuracy,
            "UCA changed a prediction"
        );
        assert_eq!(uca.samples.correct(), report.clean.samples.correct());
    }
}

#[test]
fn intervals_contain_the_point_estimates() {
    let (_, _, report) = run();
    for row in std::iter::once(&report.clean).chain(&report.rows) {
        let ci = &row.ci95;
        assert_eq!((ci.level, ci.resamples), (0.95, 200));
        for (name, [lo, hi], point) in [
            ("accuracy", ci.accuracy, row.accuracy),
            ("confidence", ci.confidence, row.confidence),
            ("mcs", ci.mcs, row.mcs),
        ] {
            assert!(
                lo - 1e-12 <= point && point <= hi + 1e-12,
                "{}@{} {name}: {point} not in [{lo}, {hi}]",
                row.attack,
                row.epsilon
            );
        }
        assert!(ci.ece[0] <= ci.ece[1]);
    }
    // The intervals are the bootstrap of the row's own samples with the report's bins.
    let pgd = report.row("pgd", EPSILONS[0]).unwrap();
    let again = pgd
        .samples
        .bootstrap(&config().bootstrap.with_bins(BINS))
        .unwrap();
    assert_eq!(again, pgd.ci95);
}

#[test]
fn write_creates_json_markdown_and_one_svg_per_radius() {
    let (_, _, report) = run();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested").join("report");
    report.write(&dir).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "reliability-eps0.02.svg",
            "reliability-eps0.05.svg",
            "report.json",
            "report.md"
        ]
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    for key in ["accuracy", "confidence", "ece", "mcs", "n"] {
        assert!(json["clean"].get(key).is_some(), "clean.{key} missing");
    }
    assert_eq!(
        json["clean"]["accuracy"],
        serde_json::json!(report.clean.accuracy)
    );
    assert_eq!(json["clean"]["n"], 20);
    assert!(json["clean"]["ci95"]["accuracy"].is_array());
    assert!(json["clean"]["report"]["bins"].is_array());
    assert!(json["clean"].get("samples").is_none());
    assert_eq!(json["rows"].as_array().unwrap().len(), 10);
    assert_eq!(json["rows"][3]["attack"], "robust");
    assert_eq!(json["rows"][4]["attack"], "worst");
    assert!(json["rows"][4]["sources"].is_object());
    assert!(json["warnings"].as_array().unwrap().is_empty());
    assert_eq!(
        json["config"]["attacks"],
        serde_json::json!(["pgd", "iaa", "uca"])
    );
    // serde_json may round the last digit of an f64: compare with a tolerance.
    let back: RobustnessReport = serde_json::from_value(json).unwrap();
    assert_eq!((back.n, back.rows.len()), (report.n, report.rows.len()));
    for (b, r) in std::iter::once(&back.clean)
        .chain(&back.rows)
        .zip(std::iter::once(&report.clean).chain(&report.rows))
    {
        assert_eq!(
            (&b.attack, b.epsilon, b.n, &b.sources),
            (&r.attack, r.epsilon, r.n, &r.sources)
        );
        for (x, y) in [
            (b.accuracy, r.accuracy),
            (b.ece, r.ece),
            (b.mcs, r.mcs),
            (b.report.brier, r.report.brier),
            (b.ci95.confidence[0], r.ci95.confidence[0]),
        ] {
            assert!((x - y).abs() <= 1e-12, "{}: {x} vs {y}", b.attack);
        }
        assert!(b.samples.is_empty(), "samples are not serialised");
    }
    assert_eq!(
        report.to_json().unwrap(),
        std::fs::read_to_string(dir.join("report.json")).unwrap()
    );

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert_eq!(md, report.to_markdown());
    assert_eq!(
        md.lines().filter(|l| l.starts_with("| ")).count(),
        1 + 1 + 10
    );
    assert!(md.contains("| clean | 0 |") && md.contains("| worst | 0.05 |"));

    let svg = std::fs::read_to_string(dir.join("reliability-eps0.05.svg")).unwrap();
    assert_eq!(svg, report.reliability_svg(0.05));
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("clean: ECE") && svg.contains("PGD: ECE") && svg.contains("IAA: ECE"));
    assert!(!svg.contains("UCA") && !svg.to_lowercase().contains("#f0e442"));
    assert_eq!(svg.matches('<').count(), svg.matches('>').count());
    // A radius the report does not have: the clean series only.
    let only_clean = report.reliability_svg(0.5);
    assert!(only_clean.contains("clean: ECE") && !only_clean.contains("PGD"));
}

#[test]
fn the_model_is_unchanged() {
    let model = model();
    let before = snapshot::<AD, _>(&model);
    robustness_report(&model, &data(), &config(), &dev()).unwrap();
    assert_eq!(before, snapshot::<AD, _>(&model));
}

#[test]
fn invalid_settings_and_data_are_typed_errors() {
    let (model, data) = (model(), data());
    let err = |c: RobustnessConfig| robustness_report(&model, &data, &c, &dev()).unwrap_err();
    assert!(matches!(
        err(config().with_epsilons(vec![])),
        Error::InvalidParameter {
            name: "epsilons",
            ..
        }
    ));
    assert!(matches!(
        err(config().with_epsilons(vec![0.02, 0.02])),
        Error::InvalidParameter {
            name: "epsilons",
            ..
        }
    ));
    assert!(matches!(
        err(config().with_epsilons(vec![-0.1])),
        Error::InvalidEpsilon(_)
    ));
    assert!(matches!(
        err(config().with_attacks(vec![ReportAttack::Pgd, ReportAttack::Pgd])),
        Error::InvalidParameter {
            name: "attacks",
            ..
        }
    ));
    assert!(matches!(
        err(config().with_steps(0)),
        Error::InvalidSteps(0)
    ));
    assert!(matches!(err(config().with_bins(0)), Error::InvalidBins));
    assert!(matches!(
        err(config().with_lambda(f32::NAN)),
        Error::InvalidLambda(_)
    ));
    assert!(matches!(
        err(config().with_bootstrap(BootstrapConfig::new().with_resamples(1))),
        Error::InvalidParameter {
            name: "resamples",
            ..
        }
    ));
    let gray = ImageDataset::new(vec![0; 2 * 8 * 8], vec![0, 1], [1, 8, 8], 10).unwrap();
    assert!(matches!(
        robustness_report(&model, &gray, &config(), &dev()),
        Err(Error::ChannelMismatch {
            expected: 3,
            found: 1
        })
    ));
    let many = ImageDataset::new(vec![0; 2 * 3 * 8 * 8], vec![0, 11], [3, 8, 8], 12).unwrap();
    assert!(matches!(
        robustness_report(&model, &many, &config(), &dev()),
        Err(Error::InvalidParameter { name: "data", .. })
    ));
}

#[test]
fn robust_row_is_wrong_where_any_misclassification_attack_is() {
    let (model, data) = (model(), data());
    let config = config()
        .with_attacks(vec![
            ReportAttack::Pgd,
            ReportAttack::ApgdCe,
            ReportAttack::ApgdDlr,
            ReportAttack::Square,
            ReportAttack::Iaa,
            ReportAttack::IaaAlg1,
            ReportAttack::Noise,
        ])
        .with_iaa_steps(3)
        .with_queries(15);
    let report = robustness_report(&model, &data, &config, &dev()).unwrap();
    let clean = report.clean.samples.correct().to_vec();
    for eps in EPSILONS {
        let robust = report.row("robust", eps).unwrap();
        let mut expected = clean.clone();
        for attack in ["pgd", "apgd-ce", "apgd-dlr", "square", "noise"] {
            let row = report.row(attack, eps).unwrap();
            assert!(robust.accuracy <= row.accuracy, "{attack}");
            for (e, &ok) in expected.iter_mut().zip(row.samples.correct()) {
                *e &= ok;
            }
        }
        assert_eq!(robust.samples.correct(), expected.as_slice());
        assert!(robust.max_linf <= f64::from(eps) + 1e-6);
        // Eq. 2's IAA keeps every correct prediction; Algorithm 1 need not.
        let iaa = report.row("iaa", eps).unwrap();
        for (&c, &a) in clean.iter().zip(iaa.samples.correct()) {
            assert!(!c || a, "IAA flipped a correct prediction at ε = {eps}");
        }
        assert!(report.row("iaa-alg1", eps).is_some());
    }
    let md = report.to_markdown();
    assert!(md.contains("| robust | 0.02 |") && md.contains("| apgd-dlr | 0.05 |"));
}

#[test]
fn zero_input_gradients_are_warned() {
    // f(x) = 0·x: every input gradient is exactly zero, so no gradient attack can move it.
    let model = LinearToy::<AD>::identity(10, 0.0, &dev());
    let pixels = (0..6 * 10).map(|i| (i * 37 % 256) as u8).collect();
    let data = ImageDataset::new(pixels, (0..6).map(|i| i % 10).collect(), [1, 1, 10], 10).unwrap();
    let config = config().with_epsilons(vec![0.03]);
    let report = robustness_report(&model, &data, &config, &dev()).unwrap();
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].starts_with("6 of 6 images have an all-zero input gradient"));
    assert!(report.to_markdown().contains("**Warning:** 6 of 6 images"));
    // A model with gradients has none.
    assert!(run().2.warnings.is_empty());
}
