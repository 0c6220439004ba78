//! The calibration-robustness report (`advcal::report`): rows, agreement with `evaluate_clean`
//! and `evaluate_attack`, the worst-case row, intervals, files, and an untouched model.

use crate::common::*;
use advcal::data::ImageDataset;
use advcal::eval::{evaluate_attack, evaluate_clean};
use advcal::metrics::{BootstrapConfig, CalibrationSamples};
use advcal::model::SmallCnn;
use advcal::report::*;
use advcal::Error;
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
        for name in ["pgd", "iaa", "uca", "worst"] {
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
fn clean_row_equals_evaluate_clean() {
    let (model, data, report) = run();
    let expected = evaluate_clean(&model.valid(), &data, BATCH, BINS, &dev()).unwrap();
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
fn attack_rows_equal_evaluate_attack_with_the_same_seeds() {
    let (model, data, report) = run();
    let config = config();
    for eps in EPSILONS {
        for attack in ReportAttack::ALL {
            let expected = evaluate_attack(
                &config.attack_config(attack, eps),
                &model,
                &data,
                eps,
                BATCH,
                BINS,
                &dev(),
            )
            .unwrap();
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
    assert_eq!(json["rows"].as_array().unwrap().len(), 8);
    assert_eq!(json["rows"][3]["attack"], "worst");
    assert!(json["rows"][3]["sources"].is_object());
    assert_eq!(
        json["config"]["attacks"],
        serde_json::json!(["pgd", "iaa", "uca"])
    );
    let back: RobustnessReport = serde_json::from_value(json).unwrap();
    assert_eq!(back.clean.report, report.clean.report);
    assert_eq!(back.rows[5].ci95, report.rows[5].ci95);
    assert_eq!(
        report.to_json().unwrap(),
        std::fs::read_to_string(dir.join("report.json")).unwrap()
    );

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert_eq!(md, report.to_markdown());
    assert_eq!(
        md.lines().filter(|l| l.starts_with("| ")).count(),
        1 + 1 + 8
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

#[allow(unused_imports, clippy::all)]
mod doc_mirror {

    #[test]
    fn doc_1() {
        use advcal::data::ImageDataset;
        use advcal::metrics::BootstrapConfig;
        use advcal::model::SmallCnnConfig;
        use advcal::report::{robustness_report, RobustnessConfig};
        use burn::backend::{Autodiff, NdArray};

        let device = Default::default();
        let model = SmallCnnConfig::new()
            .with_width(2)
            .init::<Autodiff<NdArray>>(&device);
        let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
        let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
        let config = RobustnessConfig::new()
            .with_epsilons(vec![0.03])
            .with_steps(1)
            .with_progress(false)
            .with_bootstrap(BootstrapConfig::new().with_resamples(20));
        let report = robustness_report(&model, &data, &config, &device).unwrap();
        // pgd, iaa, uca and worst at ε = 0.03
        assert_eq!(report.rows.len(), 4);
        println!("{}", report.to_markdown());
        let dir = tempfile::tempdir().unwrap();
        report.write(dir.path()).unwrap(); // report.json, report.md, reliability-eps0.03.svg
    }

    #[test]
    fn doc_2() {
        use advcal::report::ReportAttack;
        assert_eq!(ReportAttack::parse("iaa").unwrap(), ReportAttack::Iaa);
        assert_eq!(ReportAttack::Pgd.name(), "pgd");
        assert_eq!(
            serde_json::to_string(&ReportAttack::Uca).unwrap(),
            "\"uca\""
        );
        assert!(ReportAttack::parse("fgsm").is_err());
    }

    #[test]
    fn doc_3() {
        use advcal::report::ReportAttack;
        let names: Vec<_> = ReportAttack::ALL.iter().map(|a| a.name()).collect();
        assert_eq!(names, ["pgd", "iaa", "uca"]);
    }

    #[test]
    fn doc_4() {
        use advcal::report::ReportAttack;
        assert_eq!(ReportAttack::parse("pgd").unwrap(), ReportAttack::Pgd);
        assert!(ReportAttack::parse("PGD").is_err());
    }

    #[test]
    fn doc_5() {
        use advcal::report::{ReportAttack, RobustnessConfig};

        let config = RobustnessConfig::new()
            .with_epsilons(vec![0.03])
            .with_limit(Some(500));
        assert_eq!(config.attacks, ReportAttack::ALL.to_vec());
        assert_eq!(
            (config.steps, config.bins, config.bootstrap.resamples),
            (10, 15, 1000)
        );
        assert!(config.validate().is_ok());
        assert!(config.clone().with_epsilons(vec![]).validate().is_err());
    }

    #[test]
    fn doc_6() {
        use advcal::report::RobustnessConfig;
        use advcal::Error;
        assert!(RobustnessConfig::new().validate().is_ok());
        assert!(matches!(
            RobustnessConfig::new()
                .with_epsilons(vec![0.03, 1.5])
                .validate(),
            Err(Error::InvalidEpsilon(_))
        ));
    }

    #[test]
    fn doc_7() {
        use advcal::report::{ReportAttack, RobustnessConfig};
        let attack = RobustnessConfig::new()
            .with_steps(5)
            .attack_config(ReportAttack::Iaa, 0.02);
        assert_eq!(attack.label(), "iaa@0.02");
    }

    #[test]
    fn doc_8() {
        use advcal::data::ImageDataset;
        use advcal::metrics::BootstrapConfig;
        use advcal::model::SmallCnnConfig;
        use advcal::report::{robustness_report, RobustnessConfig};
        use burn::backend::{Autodiff, NdArray};
        let device = Default::default();
        let model = SmallCnnConfig::new()
            .with_width(2)
            .init::<Autodiff<NdArray>>(&device);
        let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
        let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
        let config = RobustnessConfig::new()
            .with_epsilons(vec![0.03])
            .with_steps(1)
            .with_progress(false)
            .with_bootstrap(BootstrapConfig::new().with_resamples(20));
        let report = robustness_report(&model, &data, &config, &device).unwrap();
        let pgd = report.row("pgd", 0.03).unwrap();
        assert_eq!((pgd.n, pgd.samples.len()), (4, 4));
        assert!(pgd.max_linf <= 0.03 + 1e-6);
        assert!((pgd.mcs - (pgd.confidence - pgd.accuracy)).abs() < 1e-9);
        let json = serde_json::to_value(pgd).unwrap();
        assert_eq!(json["accuracy"], serde_json::json!(pgd.accuracy));
    }

    #[test]
    fn doc_9() {
        use advcal::data::ImageDataset;
        use advcal::metrics::BootstrapConfig;
        use advcal::model::SmallCnnConfig;
        use advcal::report::{robustness_report, RobustnessConfig};
        use burn::backend::{Autodiff, NdArray};
        let device = Default::default();
        let model = SmallCnnConfig::new()
            .with_width(2)
            .init::<Autodiff<NdArray>>(&device);
        let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
        let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
        let config = RobustnessConfig::new()
            .with_epsilons(vec![0.03])
            .with_steps(1)
            .with_progress(false)
            .with_bootstrap(BootstrapConfig::new().with_resamples(20));
        let report = robustness_report(&model, &data, &config, &device).unwrap();
        let names: Vec<&str> = report.rows.iter().map(|r| r.attack.as_str()).collect();
        assert_eq!(names, ["pgd", "iaa", "uca", "worst"]);
        assert_eq!((report.n, report.clean.attack.as_str()), (4, "clean"));
        // UCA never changes a prediction.
        assert_eq!(
            report.row("uca", 0.03).unwrap().accuracy,
            report.clean.accuracy
        );
    }

    #[test]
    fn doc_10() {
        use advcal::data::ImageDataset;
        use advcal::metrics::BootstrapConfig;
        use advcal::model::SmallCnnConfig;
        use advcal::report::{robustness_report, RobustnessConfig};
        use burn::backend::{Autodiff, NdArray};
        let device = Default::default();
        let model = SmallCnnConfig::new()
            .with_width(2)
            .init::<Autodiff<NdArray>>(&device);
        let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
        let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
        let config = RobustnessConfig::new()
            .with_epsilons(vec![0.03])
            .with_steps(1)
            .with_progress(false)
            .with_bootstrap(BootstrapConfig::new().with_resamples(20));
        let report = robustness_report(&model, &data, &config, &device).unwrap();
        let worst = report.row("worst", 0.03).unwrap();
        assert_eq!(worst.sources.as_ref().unwrap().values().sum::<usize>(), 4);
        assert!(report.row("pgd", 0.05).is_none());
    }

    #[test]
    fn doc_11() {
        use advcal::data::ImageDataset;
        use advcal::metrics::BootstrapConfig;
        use advcal::model::SmallCnnConfig;
        use advcal::report::{robustness_report, RobustnessConfig};
        use burn::backend::{Autodiff, NdArray};
        let device = Default::default();
        let model = SmallCnnConfig::new()
            .with_width(2)
            .init::<Autodiff<NdArray>>(&device);
        let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
        let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
        let config = RobustnessConfig::new()
            .with_epsilons(vec![0.03])
            .with_steps(1)
            .with_progress(false)
            .with_bootstrap(BootstrapConfig::new().with_resamples(20));
        let report = robustness_report(&model, &data, &config, &device).unwrap();
        let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
        for key in ["accuracy", "confidence", "ece", "mcs", "n"] {
            assert!(json["clean"].get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn doc_12() {
        use advcal::data::ImageDataset;
        use advcal::metrics::BootstrapConfig;
        use advcal::model::SmallCnnConfig;
        use advcal::report::{robustness_report, RobustnessConfig};
        use burn::backend::{Autodiff, NdArray};
        let device = Default::default();
        let model = SmallCnnConfig::new()
            .with_width(2)
            .init::<Autodiff<NdArray>>(&device);
        let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
        let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
        let config = RobustnessConfig::new()
            .with_epsilons(vec![0.03])
            .with_steps(1)
            .with_progress(false)
            .with_bootstrap(BootstrapConfig::new().with_resamples(20));
        let report = robustness_report(&model, &data, &config, &device).unwrap();
        let md = report.to_markdown();
        assert!(md.starts_with("| attack | ε |"));
        assert!(md.contains("| worst | 0.03 |"));
    }

    #[test]
    fn doc_13() {
        use advcal::data::ImageDataset;
        use advcal::metrics::BootstrapConfig;
        use advcal::model::SmallCnnConfig;
        use advcal::report::{robustness_report, RobustnessConfig};
        use burn::backend::{Autodiff, NdArray};
        let device = Default::default();
        let model = SmallCnnConfig::new()
            .with_width(2)
            .init::<Autodiff<NdArray>>(&device);
        let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
        let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
        let config = RobustnessConfig::new()
            .with_epsilons(vec![0.03])
            .with_steps(1)
            .with_progress(false)
            .with_bootstrap(BootstrapConfig::new().with_resamples(20));
        let report = robustness_report(&model, &data, &config, &device).unwrap();
        let svg = report.reliability_svg(0.03);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("PGD") && svg.contains("IAA"));
    }

    #[test]
    fn doc_14() {
        use advcal::data::ImageDataset;
        use advcal::metrics::BootstrapConfig;
        use advcal::model::SmallCnnConfig;
        use advcal::report::{robustness_report, RobustnessConfig};
        use burn::backend::{Autodiff, NdArray};
        let device = Default::default();
        let model = SmallCnnConfig::new()
            .with_width(2)
            .init::<Autodiff<NdArray>>(&device);
        let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
        let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
        let config = RobustnessConfig::new()
            .with_epsilons(vec![0.03])
            .with_steps(1)
            .with_progress(false)
            .with_bootstrap(BootstrapConfig::new().with_resamples(20));
        let report = robustness_report(&model, &data, &config, &device).unwrap();
        let dir = tempfile::tempdir().unwrap();
        report.write(dir.path().join("out")).unwrap();
        for file in ["report.json", "report.md", "reliability-eps0.03.svg"] {
            assert!(dir.path().join("out").join(file).is_file(), "{file}");
        }
    }

    #[test]
    fn doc_15() {
        assert_eq!(
            advcal::report::reliability_file_name(0.03),
            "reliability-eps0.03.svg"
        );
    }

    #[test]
    fn doc_16() {
        use advcal::data::ImageDataset;
        use advcal::metrics::BootstrapConfig;
        use advcal::model::SmallCnnConfig;
        use advcal::report::{robustness_report, ReportAttack, RobustnessConfig};
        use burn::backend::{Autodiff, NdArray};

        let device = Default::default();
        let model = SmallCnnConfig::new()
            .with_width(2)
            .init::<Autodiff<NdArray>>(&device);
        let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
        let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
        let config = RobustnessConfig::new()
            .with_epsilons(vec![0.03])
            .with_steps(1)
            .with_attacks(vec![ReportAttack::Pgd, ReportAttack::Iaa])
            .with_progress(false)
            .with_bootstrap(BootstrapConfig::new().with_resamples(20));
        let report = robustness_report(&model, &data, &config, &device).unwrap();
        assert_eq!(report.rows.len(), 3); // pgd, iaa, worst
        let worst = report.row("worst", 0.03).unwrap();
        assert!(worst.ci95.ece[0] <= worst.ci95.ece[1]);
    }

    #[test]
    fn doc_17() {
        use advcal::checkpoint::{load_model, save_checkpoint, CheckpointMeta};
        use advcal::model::SmallCnnConfig;
        use burn::backend::NdArray;

        let device = Default::default();
        let config = SmallCnnConfig::new().with_width(4);
        let model = config.init::<NdArray>(&device);
        let path = std::env::temp_dir().join("advcal-doc-checkpoint.ckpt");
        let meta = CheckpointMeta::new("small_cnn", &config)
            .unwrap()
            .with_epoch(3);
        save_checkpoint(&path, &model, &meta, None).unwrap();
        let (loaded, meta) = load_model(
            &path,
            config.init::<NdArray>(&device),
            "small_cnn",
            &config,
            &device,
        )
        .unwrap();
        assert_eq!(meta.epoch, 3);
        let _ = loaded;
    }

    #[test]
    fn doc_18() {
        use advcal::checkpoint::{load_any_model, save_checkpoint, CheckpointMeta};
        use advcal::model::{AnyModel, AnyModelConfig, Architecture, Classifier};
        use burn::backend::NdArray;
        use burn::prelude::*;

        let device = Default::default();
        let mut config = AnyModelConfig::new(Architecture::SmallCnn, 10);
        config.width = 2;
        let model = config.init::<NdArray>(&device);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.ckpt");
        let meta = CheckpointMeta::new(config.architecture.name(), &config)
            .unwrap()
            .with_epoch(5);
        save_checkpoint(&path, &model, &meta, None).unwrap();

        let (loaded, meta) = load_any_model::<NdArray>(&path, &device).unwrap();
        assert!(matches!(loaded, AnyModel::SmallCnn(_)));
        assert_eq!((meta.architecture.as_str(), meta.epoch), ("small_cnn", 5));
        let x = Tensor::<NdArray, 4>::full([1, 3, 8, 8], 0.5, &device);
        assert_eq!(
            model.logits(x.clone()).into_data(),
            loaded.logits(x).into_data()
        );
    }

    mod ckpt {

        #[test]
        fn dbg_fit_ckpt() {
            use advcal::model::{AnyModel, AnyModelConfig, Architecture};
            use advcal::train::{fit, Plain, TrainerConfig};
            use burn::optim::SgdConfig;
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("run");
            let mut config = AnyModelConfig::new(Architecture::SmallCnn, 10);
            config.width = 2;
            let model =
                advcal::model::seeded_init::<AD, _>(&dev(), 5, || config.init::<AD>(&dev()));
            let trainer = TrainerConfig::new()
                .with_epochs(1)
                .with_batch_size(4)
                .with_augmentation(None)
                .with_verbose(false)
                .with_progress(false)
                .with_output_dir(Some(dir.to_string_lossy().into_owned()));
            let outcome = fit(
                &trainer,
                "small_cnn",
                &config,
                model,
                SgdConfig::new().init::<AD, AnyModel<AD>>(),
                &mut Plain,
                &toy_dataset(8, 3),
                None,
                &dev(),
            )
            .unwrap();
            let file = read_checkpoint(dir.join("last.ckpt")).unwrap();
            let mem = snapshot::<AD, _>(&outcome.model);
            eprintln!(
                "bytes equal: {} ({} vs {})",
                mem == file.model,
                mem.len(),
                file.model.len()
            );
            let (loaded, _) = load_any_model::<AD>(dir.join("last.ckpt"), &dev()).unwrap();
            let back = snapshot::<AD, _>(&loaded);
            eprintln!("reload equal: {}", back == file.model);
            let mem2 = snapshot::<AD, _>(&outcome.model);
            eprintln!("mem stable: {}", mem2 == mem);
            let x = images::<NB>([3, 3, 8, 8], 4, &dev());
            let a = to_vec(outcome.model.valid().forward_mode(x.clone(), Mode::Eval));
            let b = to_vec(loaded.valid().forward_mode(x.clone(), Mode::Eval));
            let fresh = config
                .init::<AD>(&dev())
                .load_record(outcome.model.clone().into_record());
            let c = to_vec(fresh.valid().forward_mode(x.clone(), Mode::Eval));
            let (lm, _) = load_model::<AD, _, _>(
                dir.join("last.ckpt"),
                config.init::<AD>(&dev()),
                "small_cnn",
                &config,
                &dev(),
            )
            .unwrap();
            let d = to_vec(lm.valid().forward_mode(x.clone(), Mode::Eval));
            let (ln, _) = load_any_model::<NB>(dir.join("last.ckpt"), &dev()).unwrap();
            let e = to_vec(ln.forward_mode(x.clone(), Mode::Eval));
            let f = to_vec(outcome.model.valid().forward_mode(x.clone(), Mode::Eval));
            eprintln!(
                "a-b {} a-c {} a-d {} a-e {} a-f {} b-e {}",
                max_abs_diff(&a, &b),
                max_abs_diff(&a, &c),
                max_abs_diff(&a, &d),
                max_abs_diff(&a, &e),
                max_abs_diff(&a, &f),
                max_abs_diff(&b, &e)
            );
        }
        use crate::common::*;
        use advcal::checkpoint::*;
        use advcal::model::{Classifier, Mode, SmallCnnConfig};
        use advcal::Error;
        use burn::module::{AutodiffModule, Module};
        #[test]
        fn load_any_model_rebuilds_the_model_written_by_fit() {
            use advcal::model::{AnyModel, AnyModelConfig, Architecture};
            use advcal::train::{fit, Plain, TrainerConfig};
            use burn::optim::SgdConfig;

            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("run");
            let mut config = AnyModelConfig::new(Architecture::SmallCnn, 10);
            config.width = 2;
            let model =
                advcal::model::seeded_init::<AD, _>(&dev(), 5, || config.init::<AD>(&dev()));
            let trainer = TrainerConfig::new()
                .with_epochs(1)
                .with_batch_size(4)
                .with_augmentation(None)
                .with_verbose(false)
                .with_progress(false)
                .with_output_dir(Some(dir.to_string_lossy().into_owned()));
            let outcome = fit(
                &trainer,
                config.architecture.name(),
                &config,
                model,
                SgdConfig::new().init::<AD, AnyModel<AD>>(),
                &mut Plain,
                &toy_dataset(8, 3),
                None,
                &dev(),
            )
            .unwrap();

            let (loaded, meta) = load_any_model::<AD>(dir.join("last.ckpt"), &dev()).unwrap();
            assert!(matches!(loaded, AnyModel::SmallCnn(_)));
            assert_eq!((meta.architecture.as_str(), meta.epoch), ("small_cnn", 1));
            let x = images::<NB>([3, 3, 8, 8], 4, &dev());
            assert_eq!(
                to_vec(outcome.model.valid().forward_mode(x.clone(), Mode::Eval)),
                to_vec(loaded.valid().forward_mode(x, Mode::Eval)),
                "weights and BatchNorm statistics must load exactly"
            );

            // The bundled weights (written by examples/train.rs) load without naming the architecture.
            let bundled = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("assets/models/small_cnn_pt.ckpt");
            let (any, _) = load_any_model::<NB>(&bundled, &dev()).unwrap();
            let known = AnyModelConfig::new(Architecture::SmallCnn, 10);
            let (model, _) = load_model::<NB, _, _>(
                &bundled,
                known.init::<NB>(&dev()),
                "small_cnn",
                &known,
                &dev(),
            )
            .unwrap();
            let x = images::<NB>([2, 3, 32, 32], 5, &dev());
            assert_eq!(to_vec(any.logits(x.clone())), to_vec(model.logits(x)));
        }

        #[test]
        fn load_any_model_rejects_foreign_metadata_with_reasons() {
            use advcal::model::{AnyModelConfig, Architecture};

            let tmp = tempfile::tempdir().unwrap();
            let mut any = AnyModelConfig::new(Architecture::SmallCnn, 10);
            any.width = 2;
            let model = any.init::<NB>(&dev());
            let reason_of = |name: &str, meta: CheckpointMeta| {
                let path = tmp.path().join(name);
                save_checkpoint::<NB, _>(&path, &model, &meta, None).unwrap();
                match load_any_model::<NB>(&path, &dev()) {
                    Err(Error::Checkpoint { path: p, reason }) => {
                        assert_eq!(p, path);
                        reason
                    }
                    other => panic!("{name}: expected Error::Checkpoint, got {other:?}"),
                }
            };

            let reason = reason_of("arch.ckpt", CheckpointMeta::new("alexnet", &any).unwrap());
            assert!(
                reason.contains("unknown architecture `alexnet`") && reason.contains("resnet18"),
                "{reason}"
            );
            let concrete = SmallCnnConfig::new().with_width(2);
            let reason = reason_of(
                "config.ckpt",
                CheckpointMeta::new("small_cnn", &concrete).unwrap(),
            );
            assert!(reason.contains("not an AnyModelConfig"), "{reason}");
            let reason = reason_of(
                "mismatch.ckpt",
                CheckpointMeta::new("resnet18", &any).unwrap(),
            );
            assert!(
                reason.contains("`resnet18`") && reason.contains("`small_cnn`"),
                "{reason}"
            );
            let mut zero = any.clone();
            zero.num_classes = 0;
            let reason = reason_of(
                "zero.ckpt",
                CheckpointMeta::new("small_cnn", &zero).unwrap(),
            );
            assert!(reason.contains("0 classes"), "{reason}");
            // Weights of another width: the shapes do not fit the model the metadata describes.
            let mut wider = any.clone();
            wider.width = 4;
            let reason = reason_of(
                "shape.ckpt",
                CheckpointMeta::new("small_cnn", &wider).unwrap(),
            );
            assert!(!reason.is_empty());
            assert!(matches!(
                load_any_model::<NB>(tmp.path().join("missing.ckpt"), &dev()),
                Err(Error::Io { .. })
            ));
        }
    }
}
