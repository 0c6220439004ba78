//! The committed weights of the results page (`results/cifar/weights/`) reproduce the final
//! evaluation their training run recorded (the last entry of `<name>.history.json`: clean
//! calibration on the first 2,000 test images of CIFAR-10, or validation images of Tiny
//! ImageNet-200), loaded with `load_any_model` and evaluated independently of the trainer.
//!
//! This ties every committed checkpoint to the numbers the results page prints for it: a
//! checkpoint collected from the wrong run, a truncated file, or a loader that drops a buffer
//! (BatchNorm statistics, the normalisation) moves ACC or CONF far beyond the tolerances.

use advcal::checkpoint::load_any_model;
use advcal::data::{ImageDataset, Split, load_cifar10, load_tiny_imagenet};
use advcal::eval::{EvaluationConfig, evaluate};
use advcal::metrics::CalibrationReport;
use burn::tensor::backend::Backend;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The reproduction's folder (`paper/`), which holds `results/` and `scripts/`.
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

type FB = burn::backend::Flex;

/// A data folder: `$var` if set, else `../../shared/data/<name>` from `paper/` (beside the
/// repository); missing, the test
/// fails (the tests that need it run only with the `data-tests` feature).
fn data_dir(var: &str, name: &str) -> PathBuf {
    let dir = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../../shared/data").join(name));
    assert!(dir.is_dir(), "{var}: {} is not a directory", dir.display());
    dir
}

/// The committed runs of `scripts/cifar-runs.txt` (`<run dir> <weights name>`), those whose
/// checkpoint is in `results/cifar/weights/`.
fn committed() -> Vec<String> {
    let list = std::fs::read_to_string(repo().join("scripts/cifar-runs.txt")).unwrap();
    list.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.split_whitespace()
                .nth(1)
                .expect("<dir> <name>")
                .to_owned()
        })
        .filter(|name| weights(name, "ckpt").is_file())
        .collect()
}

/// `results/cifar/weights/<name>.<ext>` (by formatting, not `Path::with_extension`: a name such
/// as `iat-clean0.5` has a dot of its own).
fn weights(name: &str, ext: &str) -> PathBuf {
    repo()
        .join("results/cifar/weights")
        .join(format!("{name}.{ext}"))
}

/// The clean evaluation the trainer recorded after the run's last epoch.
fn recorded(name: &str) -> CalibrationReport {
    let path = weights(name, "history.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (every committed checkpoint has its history)",
            path.display()
        )
    });
    let history: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let last = history.last().expect("a finished run has epochs");
    serde_json::from_value(last["eval"].clone())
        .unwrap_or_else(|e| panic!("{name}: last epoch without a clean eval: {e}"))
}

/// The images the run was evaluated on: the first `n` of CIFAR-10's test batch, or of Tiny
/// ImageNet-200's validation set (sorted by file name, as the `paper` binary takes them). Each
/// data set is read once per test process and shared by every checkpoint and test.
fn eval_images(name: &str, n: usize) -> ImageDataset {
    static CIFAR: OnceLock<ImageDataset> = OnceLock::new();
    static TINY: OnceLock<ImageDataset> = OnceLock::new();
    let data = if name.starts_with("table2-") {
        TINY.get_or_init(|| {
            let dir = data_dir("ADVCAL_TINY_IMAGENET_DIR", "tiny-imagenet-200");
            load_tiny_imagenet(dir, Split::Test).unwrap()
        })
    } else {
        CIFAR.get_or_init(|| {
            load_cifar10(
                data_dir("ADVCAL_CIFAR10_DIR", "cifar-10-batches-bin"),
                Split::Test,
            )
            .unwrap()
        })
    };
    data.take(n)
}

/// Loads `name` on `B` and checks its clean calibration against the recorded one: ACC within
/// `images` images, CONF and ECE within `tol`.
fn check<B: Backend>(name: &str, images: usize, tol: f64, device: &B::Device) {
    let want = recorded(name);
    assert!(want.n >= 2000, "{name}: recorded on {} images", want.n);
    let data = eval_images(name, want.n);
    let path: &Path = &weights(name, "ckpt");
    let (model, meta) =
        load_any_model::<B>(path, device).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let got = evaluate(
        &model,
        &data,
        &EvaluationConfig::new().with_batch_size(250),
        device,
    )
    .unwrap()
    .report;
    eprintln!(
        "{name} ({}): ACC {:.4} (recorded {:.4}), CONF {:.5} ({:.5}), ECE {:.5} ({:.5})",
        meta.architecture,
        got.accuracy,
        want.accuracy,
        got.confidence,
        want.confidence,
        got.ece,
        want.ece
    );
    assert_eq!(got.n, want.n, "{name}");
    let flips = ((got.accuracy - want.accuracy).abs() * want.n as f64).round() as usize;
    assert!(
        flips <= images,
        "{name}: ACC {} vs recorded {}",
        got.accuracy,
        want.accuracy
    );
    assert!(
        (got.confidence - want.confidence).abs() <= tol,
        "{name}: CONF {} vs recorded {}",
        got.confidence,
        want.confidence
    );
    assert!(
        (got.ece - want.ece).abs() <= 2.0 * tol,
        "{name}: ECE {} vs recorded {}",
        got.ece,
        want.ece
    );
}

/// Another backend than the one that trained it (LibTorch): Flex on the PT model of the six,
/// which is also the quickstart's bundled model.
#[test]
#[cfg_attr(
    not(feature = "data-tests"),
    ignore = "needs CIFAR-10 (ADVCAL_CIFAR10_DIR or ../shared/data beside the repository) and the data-tests feature"
)]
fn committed_pt_weights_reproduce_their_recorded_eval_on_flex() {
    assert!(
        committed().iter().any(|n| n == "pt"),
        "results/cifar/weights/pt.ckpt is committed"
    );
    check::<FB>("pt", 2, 5e-4, &Default::default());
}

/// Every committed checkpoint, on the backend that trained it (LibTorch CPU).
#[cfg(feature = "tch")]
#[test]
#[cfg_attr(
    not(feature = "data-tests"),
    ignore = "needs CIFAR-10 and Tiny ImageNet-200 (ADVCAL_CIFAR10_DIR, ADVCAL_TINY_IMAGENET_DIR or ../shared/data beside the repository) and the data-tests feature"
)]
fn every_committed_checkpoint_reproduces_its_recorded_eval() {
    let device = burn::backend::libtorch::LibTorchDevice::Cpu;
    let names = committed();
    assert!(names.len() >= 4, "committed: {names:?}");
    for name in &names {
        check::<burn::backend::LibTorch<f32>>(name, 1, 1e-4, &device);
    }
}

/// No committed checkpoint escapes the checks above: each one is a run of the list.
#[test]
fn every_committed_checkpoint_is_a_listed_run() {
    let names = committed();
    let dir = repo().join("results/cifar/weights");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(".ckpt") {
            assert!(
                names.iter().any(|n| n == name),
                "{file} is in {} but not in scripts/cifar-runs.txt ({names:?})",
                dir.display()
            );
        }
    }
}
