//! Checkpoints: round trip, truncation, wrong architecture, atomic writes.

use crate::common::*;
use advcal::Error;
use advcal::checkpoint::*;
use advcal::model::{Classifier, Mode, SmallCnnConfig};
use burn::module::{AutodiffModule, Module};
use serde_json::json;

#[test]
fn round_trip_preserves_outputs_and_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let config = SmallCnnConfig::new().with_width(4);
    let model = tiny_cnn(4, 3);
    let path = tmp.path().join("sub").join("model.ckpt");
    let meta = CheckpointMeta::new("small_cnn", &config)
        .unwrap()
        .with_epoch(7)
        .with_seed(42)
        .with_step(70);
    save_checkpoint::<AD, _>(&path, &model, &meta, None).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "temporary file left behind");
    let (loaded, m) = load_model::<AD, _, _>(
        &path,
        config.init::<AD>(&dev()),
        "small_cnn",
        &config,
        &dev(),
    )
    .unwrap();
    assert_eq!((m.epoch, m.seed, m.step), (7, 42, 70));
    let x = images::<NB>([2, 3, 8, 8], 1, &dev());
    let a = to_vec(model.valid().forward_mode(x.clone(), Mode::Eval));
    let b = to_vec(loaded.valid().forward_mode(x, Mode::Eval));
    assert_eq!(
        a, b,
        "BatchNorm statistics and weights must round-trip exactly"
    );
}

#[test]
fn corrupt_or_foreign_checkpoints_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let config = SmallCnnConfig::new().with_width(4);
    let model = config.init::<NB>(&dev());
    let path = tmp.path().join("m.ckpt");
    save_checkpoint::<NB, _>(
        &path,
        &model,
        &CheckpointMeta::new("small_cnn", &config).unwrap(),
        None,
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let load = |p: &std::path::Path| {
        load_model::<NB, _, _>(p, config.init::<NB>(&dev()), "small_cnn", &config, &dev())
    };

    for cut in [0, 5, 11, 20, bytes.len() / 2, bytes.len() - 1] {
        let p = tmp.path().join(format!("cut{cut}.ckpt"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        assert!(
            matches!(load(&p), Err(Error::Checkpoint { .. })),
            "truncated at {cut} loaded"
        );
    }
    let mut garbage = bytes.clone();
    let mid = garbage.len() / 2;
    for b in &mut garbage[mid..mid + 64] {
        *b = 0xFF;
    }
    let p = tmp.path().join("garbage.ckpt");
    std::fs::write(&p, &garbage).unwrap();
    assert!(load(&p).is_err());
    assert!(matches!(
        load(&tmp.path().join("missing.ckpt")),
        Err(Error::Io { .. })
    ));

    // Wrong architecture name, wrong config, and a record of another width.
    assert!(matches!(
        load_model::<NB, _, _>(
            &path,
            config.init::<NB>(&dev()),
            "resnet18",
            &config,
            &dev()
        ),
        Err(Error::Checkpoint { .. })
    ));
    let wider = SmallCnnConfig::new().with_width(8);
    assert!(matches!(
        load_model::<NB, _, _>(&path, wider.init::<NB>(&dev()), "small_cnn", &wider, &dev()),
        Err(Error::Checkpoint { .. })
    ));
    let file = read_checkpoint(&path).unwrap();
    let err = load_record_into::<NB, _>(&path, wider.init::<NB>(&dev()), file.model, &dev());
    assert!(
        matches!(err, Err(Error::Checkpoint { .. })),
        "a width-4 record loaded into a width-8 model"
    );
    let _ = model.num_params();
}

#[test]
fn load_any_model_rebuilds_the_model_written_by_fit() {
    use advcal::model::{AnyModel, AnyModelConfig, Architecture};
    use advcal::train::{Fit, Plain, TrainerConfig};
    use burn::optim::SgdConfig;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut config = AnyModelConfig::new(Architecture::SmallCnn, 10);
    config.width = 2;
    let model = advcal::model::seeded_init::<AD, _>(&dev(), 5, || config.init::<AD>(&dev()));
    let trainer = TrainerConfig::new()
        .with_epochs(1)
        .with_batch_size(4)
        .with_augmentation(None)
        .with_verbose(false)
        .with_progress(false)
        .with_output_dir(Some(dir.to_string_lossy().into_owned()));
    let data = toy_dataset(8, 3);
    let optim = SgdConfig::new().init::<AD, AnyModel<AD>>();
    let outcome = Fit::new(model, optim, &mut Plain, &data)
        .with_identity(config.architecture.name(), &config)
        .run::<AD>(&trainer, &dev())
        .unwrap();

    let (loaded, meta) = load_any_model::<AD>(dir.join("last.ckpt"), &dev()).unwrap();
    assert!(matches!(loaded, AnyModel::SmallCnn(_)));
    assert_eq!((meta.architecture.as_str(), meta.epoch), ("small_cnn", 1));
    assert_eq!(
        snapshot::<AD, _>(&outcome.model),
        snapshot::<AD, _>(&loaded),
        "weights and BatchNorm statistics must load exactly"
    );
    let x = images::<NB>([3, 3, 8, 8], 4, &dev());
    let (a, b) = (
        to_vec(outcome.model.valid().forward_mode(x.clone(), Mode::Eval)),
        to_vec(loaded.valid().forward_mode(x, Mode::Eval)),
    );
    assert!(max_abs_diff(&a, &b) <= 1e-5, "{a:?} vs {b:?}");

    // The bundled weights (written by examples/train.rs) load without naming the architecture.
    let bundled =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models/small_cnn_pt.ckpt");
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
    assert!(matches!(any, AnyModel::SmallCnn(_)));
    assert_eq!(snapshot::<NB, _>(&any), snapshot::<NB, _>(&model));
}

/// A stride-2-stem ResNet-18 (the Tiny ImageNet network of the `cifar` preset) keeps its stride
/// through a checkpoint; configs written before the field existed load as stride 1.
#[test]
fn load_any_model_keeps_the_stem_stride() {
    use advcal::model::{AnyModel, AnyModelConfig, Architecture};

    let tmp = tempfile::tempdir().unwrap();
    let mut config = AnyModelConfig::new(Architecture::ResNet18, 200);
    config.width_divisor = 16;
    config.stem_stride = 2;
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(json["stem_stride"], 2);
    let model = advcal::model::seeded_init::<NB, _>(&dev(), 3, || config.init::<NB>(&dev()));
    let path = tmp.path().join("s2.ckpt");
    save_checkpoint::<NB, _>(
        &path,
        &model,
        &CheckpointMeta::new("resnet18", &config).unwrap(),
        None,
    )
    .unwrap();
    let (loaded, _) = load_any_model::<NB>(&path, &dev()).unwrap();
    assert!(matches!(loaded, AnyModel::ResNet18(_)));
    let x = images::<NB>([2, 3, 64, 64], 9, &dev());
    let (a, b) = (
        to_vec(model.forward_mode(x.clone(), Mode::Eval)),
        to_vec(loaded.forward_mode(x.clone(), Mode::Eval)),
    );
    assert_eq!(
        snapshot::<NB, _>(&model),
        snapshot::<NB, _>(&loaded),
        "weights and BatchNorm statistics must load exactly"
    );
    // Equal up to summation order (NdArray's threads split the work differently run to run).
    assert!(
        max_abs_diff(&a, &b) <= 1e-5,
        "the loaded network computes something else"
    );
    // The same weights in a stride-1 network compute something else.
    let mut stride1 = config.clone();
    stride1.stem_stride = 1;
    let record = model.clone().into_record();
    let s1 = stride1.init::<NB>(&dev()).load_record(record);
    let c = to_vec(s1.forward_mode(x.clone(), Mode::Eval));
    assert!(max_abs_diff(&a, &c) > 1e-4);
    // Stride 0 means 1, as in `init`: such a checkpoint loads as the stride-1 network.
    let mut zero = stride1.clone();
    zero.stem_stride = 0;
    let path0 = tmp.path().join("s0.ckpt");
    save_checkpoint::<NB, _>(
        &path0,
        &s1,
        &CheckpointMeta::new("resnet18", &zero).unwrap(),
        None,
    )
    .unwrap();
    let (loaded0, _) = load_any_model::<NB>(&path0, &dev()).unwrap();
    assert!(max_abs_diff(&c, &to_vec(loaded0.forward_mode(x, Mode::Eval))) <= 1e-5);

    // Stride 1 is not written, so checkpoints from before the field load unchanged.
    let mut old = serde_json::to_value(&stride1).unwrap();
    assert!(old.get("stem_stride").is_none());
    old["num_classes"] = 10.into();
    let parsed: AnyModelConfig = serde_json::from_value(old).unwrap();
    assert_eq!(parsed.stem_stride, 1);
}

/// The published architectures keep their shape options through a checkpoint (WRN depth,
/// widen factor, SiLU, TF padding; PreAct's final BatchNorm and shortcut; ResNet-50's blocks),
/// and a config without them (as written before they existed) reads their defaults.
#[test]
fn load_any_model_keeps_the_published_architectures_options() {
    use advcal::model::{Activation, AnyModelConfig, Architecture};

    let tmp = tempfile::tempdir().unwrap();
    let mut wrn = AnyModelConfig::new(Architecture::WideResNet, 10);
    (wrn.depth, wrn.widen_factor) = (10, 1);
    (wrn.activation, wrn.tf_same_padding) = (Activation::Silu, true);
    let mut preact = AnyModelConfig::new(Architecture::PreActResNet18, 10);
    (
        preact.width_divisor,
        preact.final_bn,
        preact.shortcut_from_input,
    ) = (16, true, true);
    let mut resnet50 = AnyModelConfig::new(Architecture::ResNet50, 5);
    (resnet50.width_divisor, resnet50.layers) = (16, Some(vec![1, 2, 1, 1]));
    for (i, config) in [wrn, preact, resnet50].into_iter().enumerate() {
        let name = config.architecture.name();
        let model = advcal::model::seeded_init::<NB, _>(&dev(), 5, || config.init::<NB>(&dev()));
        let path = tmp.path().join(format!("{i}.ckpt"));
        let meta = CheckpointMeta::new(name, &config).unwrap();
        save_checkpoint::<NB, _>(&path, &model, &meta, None).unwrap();
        let (loaded, meta) = load_any_model::<NB>(&path, &dev()).unwrap();
        assert_eq!(meta.architecture, name);
        assert_eq!(
            snapshot::<NB, _>(&model),
            snapshot::<NB, _>(&loaded),
            "{name}"
        );
        let x = images::<NB>([2, 3, 32, 32], 4, &dev());
        let (a, b) = (
            to_vec(model.forward_mode(x.clone(), Mode::Eval)),
            to_vec(loaded.forward_mode(x, Mode::Eval)),
        );
        assert!(max_abs_diff(&a, &b) <= 1e-5, "{name}");
    }
    let parsed: AnyModelConfig = serde_json::from_value(
        json!({"architecture": "WideResNet", "num_classes": 10, "width": 16}),
    )
    .unwrap();
    assert_eq!((parsed.depth, parsed.widen_factor), (28, 10));
    assert_eq!(parsed.activation, Activation::Relu);
    assert!(!parsed.tf_same_padding && !parsed.final_bn && parsed.layers.is_none());
}

/// A config with floats that serde_json's default parser would not read back exactly (Tiny
/// ImageNet's normalisation: 0.4484 prints as 0.44839999079704285, which that parser reads as
/// 0.4483999907970429) matches its own checkpoint exactly, for `load_model` and for a resume:
/// advcal enables serde_json's `float_roundtrip`.
#[test]
fn configs_with_inexact_floats_match_their_checkpoint() {
    use advcal::model::{AnyModelConfig, Architecture, NormalizationConfig};

    let mut config = AnyModelConfig::new(Architecture::SmallCnn, 200);
    config.width = 2;
    config.normalization = Some(NormalizationConfig::tiny_imagenet());
    let model = config.init::<NB>(&dev());
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("tiny.ckpt");
    let meta = CheckpointMeta::new("small_cnn", &config).unwrap();
    save_checkpoint::<NB, _>(&path, &model, &meta, None).unwrap();
    let (_, meta) = load_model::<NB, _, _>(
        &path,
        config.init::<NB>(&dev()),
        "small_cnn",
        &config,
        &dev(),
    )
    .unwrap();
    // The checkpoint holds exactly the values it was written with.
    assert_eq!(meta.model_config, serde_json::to_value(&config).unwrap());
    check_architecture(&path, &meta, "small_cnn", &config).unwrap();
    // A really different config is still refused.
    let mut other = config.clone();
    other.normalization = Some(NormalizationConfig::new());
    assert!(check_architecture(&path, &meta, "small_cnn", &other).is_err());

    // Only floats get the few-ulp tolerance: integers compare exactly, however large.
    let same = |stored: serde_json::Value, now: serde_json::Value| {
        let meta = CheckpointMeta::new("m", &stored).unwrap();
        check_architecture(&path, &meta, "m", &now).is_ok()
    };
    let big = 1u64 << 60;
    assert!(same(json!({ "seed": big }), json!({ "seed": big })));
    assert!(!same(json!({ "seed": big }), json!({ "seed": big + 1 })));
    assert!(!same(json!({ "k": 200 }), json!({ "k": 200.0 })));
    let x = 0.1f64;
    let next = f64::from_bits(x.to_bits() + 1);
    assert!(same(json!({ "lr": x }), json!({ "lr": next })));
    assert!(!same(json!({ "lr": x }), json!({ "lr": x * (1.0 + 1e-9) })));
    assert!(!same(json!({ "a": [1.0, 2.0] }), json!({ "a": [1.0] })));
    assert!(!same(json!({ "a": 1.0 }), json!({ "b": 1.0 })));
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
