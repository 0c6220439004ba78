//! PyTorch interop (`advcal::interop`): safetensors round trips through Burn's store for every
//! architecture and layout, the exported key layout, error cases (width, classes, missing,
//! unexpected, dtype, unsupported layout, corrupt files), wrapper prefixes, custom rules, and
//! the PyTorch oracle's `.pt`/`.safetensors` files (`ADVCAL_TORCH_ORACLE_DIR`).

use crate::common::*;
use advcal::Error;
use advcal::interop::{WeightLayout, inspect, load_pytorch, save_safetensors};
use advcal::model::{AnyModel, AnyModelConfig, Architecture, Classifier, Mode, seeded_init};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::store::ModuleSnapshot;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn config(architecture: Architecture, width_divisor: usize) -> AnyModelConfig {
    let mut config = AnyModelConfig::new(architecture, 10);
    config.width_divisor = width_divisor;
    config
}

/// A model whose BatchNorm running statistics are not the defaults: built on
/// `Autodiff<NdArray>`, two training-mode forwards, then `valid()`.
fn trained(config: &AnyModelConfig, seed: u64) -> AnyModel<NB> {
    let model = seeded_init::<AD, _>(&dev(), seed, || config.init::<AD>(&dev()));
    for step in 0..2 {
        let x = Tensor::<AD, 4>::from_inner(images::<NB>([4, 3, 32, 32], seed + step, &dev()));
        let _ = model.forward_mode(x, Mode::Train);
    }
    model.valid()
}

/// Every tensor of a model (parameters and BatchNorm running statistics), by Burn path.
fn tensors(model: &AnyModel<NB>) -> BTreeMap<String, Vec<f32>> {
    <AnyModel<NB> as ModuleSnapshot<NB>>::collect(model, None, None, true)
        .into_iter()
        .map(|s| {
            let values = s.to_data().unwrap().to_vec::<f32>().unwrap();
            (s.full_path(), values)
        })
        .collect()
}

/// The running statistics are present and have moved away from their initial 0 / 1.
fn assert_trained_stats(tensors: &BTreeMap<String, Vec<f32>>) {
    let stats = |suffix: &str| -> Vec<&Vec<f32>> {
        tensors
            .iter()
            .filter(|(k, _)| k.ends_with(suffix))
            .map(|(_, v)| v)
            .collect()
    };
    let (means, vars) = (stats(".running_mean"), stats(".running_var"));
    assert!(!means.is_empty(), "no BatchNorm running mean");
    assert_eq!(means.len(), vars.len());
    assert!(
        means.iter().all(|v| v.iter().any(|x| *x != 0.0)),
        "a running mean is still 0"
    );
    assert!(
        vars.iter().all(|v| v.iter().any(|x| *x != 1.0)),
        "a running var is still 1"
    );
}

/// save_safetensors → load_pytorch gives the same tensors (running statistics included) and
/// bit-identical inference logits.
fn round_trip(architecture: Architecture, width_divisor: usize, layout: WeightLayout) {
    let config = config(architecture, width_divisor);
    let model = trained(&config, 7);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    save_safetensors(&model, &path, &layout).unwrap();
    let loaded = load_pytorch::<NB>(&path, &config, &layout, &dev())
        .unwrap_or_else(|e| panic!("{architecture:?} {layout:?}: {e}"));

    let before = tensors(&model);
    assert_trained_stats(&before);
    assert_eq!(before, tensors(&loaded), "{architecture:?} {layout:?}");
    // Equal tensors; the logits agree to float reassociation only (a loaded Linear weight is a
    // transposed view, so the matmul may sum in another order).
    let x = images::<NB>([3, 3, 32, 32], 99, &dev());
    let diff = max_abs_diff(&to_vec(model.logits(x.clone())), &to_vec(loaded.logits(x)));
    assert!(
        diff < 1e-5,
        "{architecture:?} {layout:?}: logits differ by {diff}"
    );
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "temporary file left behind");
}

#[test]
fn resnet18_round_trips_in_every_layout() {
    for layout in [
        WeightLayout::KuangliuCifar,
        WeightLayout::Torchvision,
        WeightLayout::Native,
    ] {
        round_trip(Architecture::ResNet18, 4, layout);
    }
}

#[test]
fn vgg19_round_trips() {
    for layout in [WeightLayout::KuangliuCifar, WeightLayout::Native] {
        round_trip(Architecture::Vgg19, 8, layout);
    }
}

#[test]
fn mobilenet_v2_round_trips() {
    for layout in [WeightLayout::KuangliuCifar, WeightLayout::Native] {
        round_trip(Architecture::MobileNetV2, 8, layout);
    }
}

#[test]
fn small_cnn_round_trips_natively() {
    round_trip(Architecture::SmallCnn, 1, WeightLayout::Native);
}

fn bn(out: &mut BTreeMap<String, Vec<usize>>, name: &str, channels: usize) {
    for p in ["weight", "bias", "running_mean", "running_var"] {
        out.insert(format!("{name}.{p}"), vec![channels]);
    }
}

/// The kuangliu export of a base-width-16 ResNet-18 has exactly the key list and shapes of the
/// PyTorch oracle's state dict (notes/torch-oracle.md), minus `num_batches_tracked`.
#[test]
fn resnet18_export_has_kuangliu_keys_and_pytorch_shapes() {
    let model = trained(&config(Architecture::ResNet18, 4), 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resnet18.safetensors");
    save_safetensors(&model, &path, &WeightLayout::KuangliuCifar).unwrap();
    let keys: BTreeMap<String, Vec<usize>> = inspect(&path).unwrap().into_iter().collect();

    let mut expected = BTreeMap::new();
    expected.insert("conv1.weight".to_string(), vec![16, 3, 3, 3]);
    bn(&mut expected, "bn1", 16);
    let mut cin = 16;
    for layer in 1..=4 {
        let c = 16 << (layer - 1);
        for block in 0..2 {
            let p = format!("layer{layer}.{block}");
            let i = if block == 0 { cin } else { c };
            expected.insert(format!("{p}.conv1.weight"), vec![c, i, 3, 3]);
            bn(&mut expected, &format!("{p}.bn1"), c);
            expected.insert(format!("{p}.conv2.weight"), vec![c, c, 3, 3]);
            bn(&mut expected, &format!("{p}.bn2"), c);
            if layer > 1 && block == 0 {
                expected.insert(format!("{p}.shortcut.0.weight"), vec![c, i, 1, 1]);
                bn(&mut expected, &format!("{p}.shortcut.1"), c);
            }
        }
        cin = c;
    }
    expected.insert("linear.weight".to_string(), vec![10, 128]);
    expected.insert("linear.bias".to_string(), vec![10]);
    assert_eq!(keys, expected);
    assert_eq!(
        keys.len(),
        122 - 20,
        "the oracle's 122 entries minus 20 num_batches_tracked"
    );
}

#[test]
fn vgg19_and_mobilenet_exports_use_kuangliu_indices() {
    let dir = tempfile::tempdir().unwrap();
    let vgg = dir.path().join("vgg.safetensors");
    save_safetensors(
        &trained(&config(Architecture::Vgg19, 8), 2),
        &vgg,
        &WeightLayout::KuangliuCifar,
    )
    .unwrap();
    let keys: BTreeMap<String, Vec<usize>> = inspect(&vgg).unwrap().into_iter().collect();
    // 16 convs (weight, bias) + 16 BatchNorms (4 each) + classifier (weight, bias).
    assert_eq!(keys.len(), 16 * 2 + 16 * 4 + 2);
    assert_eq!(keys["features.0.weight"], [8, 3, 3, 3]);
    assert_eq!(keys["features.1.running_var"], [8]);
    assert_eq!(keys["features.7.weight"], [16, 8, 3, 3]); // after the first max-pool (index 6)
    assert_eq!(keys["features.49.bias"], [64]);
    assert_eq!(keys["features.50.weight"], [64]);
    assert_eq!(keys["classifier.weight"], [10, 64]);
    assert!(
        !keys
            .keys()
            .any(|k| k.starts_with("features.2.") || k.starts_with("features.6."))
    );

    let mobilenet = dir.path().join("mobilenet.safetensors");
    save_safetensors(
        &trained(&config(Architecture::MobileNetV2, 8), 3),
        &mobilenet,
        &WeightLayout::KuangliuCifar,
    )
    .unwrap();
    let keys: BTreeMap<String, Vec<usize>> = inspect(&mobilenet).unwrap().into_iter().collect();
    assert_eq!(keys["conv1.weight"], [4, 3, 3, 3]);
    assert_eq!(keys["layers.0.conv1.weight"], [4, 4, 1, 1]); // expansion 1 still has conv1
    assert_eq!(keys["layers.0.conv2.weight"], [4, 1, 3, 3]); // depthwise
    assert_eq!(keys["layers.0.shortcut.0.weight"], [2, 4, 1, 1]); // 32 -> 16, stride 1
    assert_eq!(keys["layers.1.shortcut.0.weight"], [3, 2, 1, 1]); // 16 -> 24, stride 1
    assert!(!keys.contains_key("layers.2.shortcut.0.weight")); // 24 -> 24
    assert!(!keys.contains_key("layers.3.shortcut.0.weight")); // stride 2
    assert_eq!(keys["layers.16.conv3.weight"], [40, 960 / 8, 1, 1]);
    assert!(!keys.keys().any(|k| k.starts_with("layers.17.")));
    assert_eq!(keys["conv2.weight"], [160, 40, 1, 1]);
    assert_eq!(keys["bn2.running_mean"], [160]);
    assert_eq!(keys["linear.weight"], [10, 160]);
}

fn expect_weights(result: advcal::Result<AnyModel<NB>>) -> (PathBuf, String, String) {
    match result {
        Err(Error::Weights { path, key, reason }) => (path, key, reason),
        Err(other) => panic!("expected Error::Weights, got {other:?}"),
        Ok(_) => panic!("expected Error::Weights, the load succeeded"),
    }
}

#[test]
fn a_width_mismatch_names_the_tensor_and_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resnet18.safetensors");
    let layout = WeightLayout::KuangliuCifar;
    save_safetensors(
        &trained(&config(Architecture::ResNet18, 4), 2),
        &path,
        &layout,
    )
    .unwrap();

    let wider = config(Architecture::ResNet18, 2);
    let (p, key, reason) = expect_weights(load_pytorch::<NB>(&path, &wider, &layout, &dev()));
    assert_eq!(p, path);
    assert_eq!(key, "stem.weight");
    assert!(reason.contains("[32, 3, 3, 3]"), "{reason}");
    assert!(reason.contains("[16, 3, 3, 3]"), "{reason}");
    assert!(reason.contains("`conv1.weight`"), "{reason}");

    // Another number of classes: the head's shapes, in PyTorch's [out, in] convention.
    let mut classes = config(Architecture::ResNet18, 4);
    classes.num_classes = 100;
    let (_, key, reason) = expect_weights(load_pytorch::<NB>(&path, &classes, &layout, &dev()));
    assert_eq!(key, "fc.weight");
    assert!(
        reason.contains("[100, 128]") && reason.contains("[10, 128]"),
        "{reason}"
    );
    assert!(reason.contains("`linear.weight`"), "{reason}");

    // Another architecture.
    let vgg = config(Architecture::Vgg19, 8);
    let result = load_pytorch::<NB>(&path, &vgg, &layout, &dev());
    expect_weights(result);
}

/// A tensor of a safetensors file, owned.
struct Entry {
    key: String,
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

fn read_entries(path: &Path) -> Vec<Entry> {
    let bytes = std::fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(key, view)| Entry {
            key,
            dtype: view.dtype(),
            shape: view.shape().to_vec(),
            data: view.data().to_vec(),
        })
        .collect()
}

/// Writes a safetensors file with the `safetensors` crate directly (as PyTorch would).
fn write_entries(path: &Path, entries: &[Entry]) {
    let views: Vec<(String, TensorView<'_>)> = entries
        .iter()
        .map(|e| {
            let view = TensorView::new(e.dtype, e.shape.clone(), &e.data).unwrap();
            (e.key.clone(), view)
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// A kuangliu ResNet-18 export, its tensors, and the directory holding it.
fn resnet_export() -> (tempfile::TempDir, PathBuf, BTreeMap<String, Vec<f32>>) {
    let model = trained(&config(Architecture::ResNet18, 4), 5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.safetensors");
    save_safetensors(&model, &path, &WeightLayout::KuangliuCifar).unwrap();
    let values = tensors(&model);
    (dir, path, values)
}

#[test]
fn a_missing_tensor_is_named_with_its_file_key() {
    let (dir, full, _) = resnet_export();
    let config = config(Architecture::ResNet18, 4);
    let layout = WeightLayout::KuangliuCifar;
    for (dropped, model_path) in [
        (
            "layer2.0.shortcut.1.running_var",
            "blocks.2.shortcut.1.running_var",
        ),
        ("bn1.weight", "stem_bn.gamma"),
        ("linear.bias", "fc.bias"),
    ] {
        let partial = dir.path().join("partial.safetensors");
        let mut entries = read_entries(&full);
        entries.retain(|e| e.key != dropped);
        write_entries(&partial, &entries);
        let (_, key, reason) =
            expect_weights(load_pytorch::<NB>(&partial, &config, &layout, &dev()));
        assert_eq!(key, model_path);
        assert!(reason.contains(&format!("`{dropped}`")), "{reason}");
    }
}

#[test]
fn unexpected_tensors_are_errors_but_num_batches_tracked_and_wrappers_are_not() {
    let (dir, full, values) = resnet_export();
    let config = config(Architecture::ResNet18, 4);
    let layout = WeightLayout::KuangliuCifar;

    let extra = dir.path().join("extra.safetensors");
    let mut entries = read_entries(&full);
    entries.push(Entry {
        key: "extra.weight".into(),
        dtype: Dtype::F32,
        shape: vec![2],
        data: [1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect(),
    });
    write_entries(&extra, &entries);
    let (_, key, reason) = expect_weights(load_pytorch::<NB>(&extra, &config, &layout, &dev()));
    assert_eq!(key, "extra.weight");
    assert!(reason.contains("unexpected"), "{reason}");

    // What `torch.save({'net': DataParallel(net).state_dict()})` holds: every key under
    // `net.module.`, plus an int64 scalar `num_batches_tracked` per BatchNorm.
    let wrapped = dir.path().join("wrapped.safetensors");
    let mut entries = read_entries(&full);
    let counters: Vec<Entry> = entries
        .iter()
        .filter_map(|e| e.key.strip_suffix(".running_mean"))
        .map(|bn| Entry {
            key: format!("{bn}.num_batches_tracked"),
            dtype: Dtype::I64,
            shape: vec![],
            data: 200i64.to_le_bytes().to_vec(),
        })
        .collect();
    entries.extend(counters);
    for e in &mut entries {
        e.key = format!("net.module.{}", e.key);
    }
    write_entries(&wrapped, &entries);
    let loaded = load_pytorch::<NB>(&wrapped, &config, &layout, &dev()).unwrap();
    assert_eq!(tensors(&loaded), values);
}

#[test]
fn float64_tensors_are_rejected_with_their_key() {
    let (dir, full, _) = resnet_export();
    let path = dir.path().join("f64.safetensors");
    let mut entries = read_entries(&full);
    for e in entries.iter_mut().filter(|e| e.key == "linear.bias") {
        e.dtype = Dtype::F64;
        e.data = e
            .data
            .chunks_exact(4)
            .flat_map(|b| (f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).to_le_bytes())
            .collect();
    }
    write_entries(&path, &entries);
    let config = config(Architecture::ResNet18, 4);
    let (_, key, reason) = expect_weights(load_pytorch::<NB>(
        &path,
        &config,
        &WeightLayout::KuangliuCifar,
        &dev(),
    ));
    assert_eq!(key, "linear.bias");
    assert!(reason.contains("F64"), "{reason}");
}

#[test]
fn custom_rules_replace_the_built_in_ones() {
    let (dir, full, values) = resnet_export();
    let config = config(Architecture::ResNet18, 4);
    // The kuangliu network stored under `backbone.`, with its head named `head`.
    let path = dir.path().join("custom.safetensors");
    let mut entries = read_entries(&full);
    for e in &mut entries {
        let key = match e.key.strip_prefix("linear.") {
            Some(rest) => format!("head.{rest}"),
            None => e.key.clone(),
        };
        e.key = format!("backbone.{key}");
    }
    write_entries(&path, &entries);

    let mut rules = vec![
        (r"^backbone\.".to_string(), String::new()),
        (r"^head\.".to_string(), "linear.".to_string()),
    ];
    rules.extend(
        WeightLayout::KuangliuCifar
            .load_rules(Architecture::ResNet18)
            .unwrap(),
    );
    let layout = WeightLayout::Custom(rules.clone());
    let loaded = load_pytorch::<NB>(&path, &config, &layout, &dev()).unwrap();
    assert_eq!(tensors(&loaded), values);

    // Without the head rule, `fc.*` is missing (reported first), then `head.*` is unexpected.
    rules.retain(|(from, _)| from != r"^head\.");
    let layout = WeightLayout::Custom(rules);
    let (_, key, reason) = expect_weights(load_pytorch::<NB>(&path, &config, &layout, &dev()));
    assert_eq!(key, "fc.bias");
    assert!(reason.contains("custom rules"), "{reason}");

    // An invalid regex is a typed error, not a panic inside burn-store.
    let bad = WeightLayout::Custom(vec![("(".to_string(), String::new())]);
    assert!(matches!(
        load_pytorch::<NB>(&path, &config, &bad, &dev()),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn unsupported_layouts_files_and_extensions_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.safetensors");
    for (architecture, layout) in [
        (Architecture::Vgg19, WeightLayout::Torchvision),
        (Architecture::MobileNetV2, WeightLayout::Torchvision),
        (Architecture::SmallCnn, WeightLayout::KuangliuCifar),
    ] {
        let config = config(architecture, 8);
        assert!(matches!(
            load_pytorch::<NB>(&missing, &config, &layout, &dev()),
            Err(Error::UnsupportedLayout { .. })
        ));
        let model = config.init::<NB>(&dev());
        assert!(matches!(
            save_safetensors(&model, dir.path().join("x.safetensors"), &layout),
            Err(Error::UnsupportedLayout { .. })
        ));
    }
    let config = config(Architecture::ResNet18, 16);
    let layout = WeightLayout::KuangliuCifar;
    assert!(matches!(
        load_pytorch::<NB>(&missing, &config, &layout, &dev()),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        load_pytorch::<NB>(dir.path().join("model.bin"), &config, &layout, &dev()),
        Err(Error::InvalidParameter { .. })
    ));
    for name in ["garbage.safetensors", "garbage.pt"] {
        let path = dir.path().join(name);
        // 0xff: an invalid pickle opcode, and a safetensors header length beyond any limit.
        std::fs::write(&path, [0xffu8; 64]).unwrap();
        let result = load_pytorch::<NB>(&path, &config, &layout, &dev());
        assert!(
            matches!(result, Err(Error::WeightsFile { .. })),
            "{name}: {:?}",
            result.err()
        );
    }
}

#[test]
fn saving_replaces_an_existing_file() {
    let config = config(Architecture::ResNet18, 16);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("model.safetensors");
    let layout = WeightLayout::Native;
    save_safetensors(&trained(&config, 1), &path, &layout).unwrap();
    let second = trained(&config, 2);
    save_safetensors(&second, &path, &layout).unwrap();
    let loaded = load_pytorch::<NB>(&path, &config, &layout, &dev()).unwrap();
    assert_eq!(tensors(&loaded), tensors(&second));
    let files: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(files.len(), 1, "temporary file left behind");
}

/// The oracle's ResNet-18 (kuangliu layout, base width 16, trained, with BN running
/// statistics) loads from `.pt` and `.safetensors` to the same parameters; advcal's export
/// reproduces PyTorch's safetensors tensor for tensor; the loaded model reproduces PyTorch's
/// logits.
#[test]
#[cfg_attr(
    not(feature = "data-tests"),
    ignore = "needs the PyTorch oracle (ADVCAL_TORCH_ORACLE_DIR) and the data-tests feature"
)]
fn pytorch_oracle_files_load_identically() {
    let dir = oracle_dir();
    let config = config(Architecture::ResNet18, 4);
    let layout = WeightLayout::KuangliuCifar;
    let pt_path = dir.join("resnet18_cifar.pt");
    let st_path = dir.join("resnet18_cifar.safetensors");
    let from_pt = load_pytorch::<NB>(&pt_path, &config, &layout, &dev()).unwrap();
    let from_st = load_pytorch::<NB>(&st_path, &config, &layout, &dev()).unwrap();
    let values = tensors(&from_pt);
    assert_eq!(values, tensors(&from_st));
    assert_trained_stats(&values);

    // 20 BatchNorms × 5 entries (num_batches_tracked: int64, shape []), 20 convs, linear.
    let pt_keys = inspect(&pt_path).unwrap();
    assert_eq!(pt_keys.len(), 122);
    assert_eq!(pt_keys, inspect(&st_path).unwrap());

    // advcal's export = PyTorch's own safetensors file, minus num_batches_tracked.
    let tmp = tempfile::tempdir().unwrap();
    let ours = tmp.path().join("ours.safetensors");
    save_safetensors(&from_pt, &ours, &layout).unwrap();
    let ours_bytes = std::fs::read(&ours).unwrap();
    let theirs_bytes = std::fs::read(&st_path).unwrap();
    let ours = SafeTensors::deserialize(&ours_bytes).unwrap();
    let theirs = SafeTensors::deserialize(&theirs_bytes).unwrap();
    let mut names: Vec<&str> = ours.names();
    names.sort_unstable();
    let mut expected: Vec<&str> = theirs
        .names()
        .into_iter()
        .filter(|k| !k.ends_with(".num_batches_tracked"))
        .collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for name in names {
        let (a, b) = (ours.tensor(name).unwrap(), theirs.tensor(name).unwrap());
        assert_eq!((a.dtype(), a.shape()), (b.dtype(), b.shape()), "{name}");
        assert!(a.data() == b.data(), "{name}: values differ");
    }

    // PyTorch's eval-mode logits on the first 16 oracle images (same normalisation constants;
    // advcal multiplies by 1/std, PyTorch divides: ulp-level differences).
    let oracle_bytes = std::fs::read(dir.join("oracle.safetensors")).unwrap();
    let oracle = SafeTensors::deserialize(&oracle_bytes).unwrap();
    let images_view = oracle.tensor("images").unwrap();
    assert_eq!(&images_view.shape()[1..], [3, 32, 32]);
    let n = images_view.shape()[0].min(16);
    let pixels = f32s(&images_view);
    let x = Tensor::<NB, 4>::from_data(
        TensorData::new(pixels[..n * 3 * 32 * 32].to_vec(), [n, 3, 32, 32]),
        &dev(),
    );
    let logits = to_vec(from_pt.logits(x));
    let expected = f32s(&oracle.tensor("logits").unwrap());
    let expected = &expected[..n * 10];
    let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let diff = max_abs_diff(&logits, expected);
    assert!(
        diff <= 1e-3 * scale,
        "max |Δlogit| {diff} (largest logit {scale})"
    );
}

/// The oracle's 64×64 / 200-class ResNet-18 with a stride-2 stem (random weights and BatchNorm
/// statistics, Tiny ImageNet normalisation) reproduces PyTorch's logits with
/// `stem_stride = 2`; the same weights in the stride-1 network do not.
#[test]
#[cfg_attr(
    not(feature = "data-tests"),
    ignore = "needs the PyTorch oracle (ADVCAL_TORCH_ORACLE_DIR) and the data-tests feature"
)]
fn pytorch_oracle_stride2_stem_matches() {
    use advcal::model::NormalizationConfig;
    let dir = oracle_dir();
    let mut config = AnyModelConfig::new(Architecture::ResNet18, 200);
    config.width_divisor = 16;
    config.stem_stride = 2;
    config.normalization = Some(NormalizationConfig::tiny_imagenet());
    let layout = WeightLayout::KuangliuCifar;
    let path = dir.join("resnet18_tiny_stride2.safetensors");
    let model = load_pytorch::<NB>(&path, &config, &layout, &dev()).unwrap();

    let oracle_bytes = std::fs::read(dir.join("oracle.safetensors")).unwrap();
    let oracle = SafeTensors::deserialize(&oracle_bytes).unwrap();
    let images_view = oracle.tensor("tiny_images").unwrap();
    let shape = images_view.shape().to_vec();
    assert_eq!(&shape[1..], [3, 64, 64]);
    let x = Tensor::<NB, 4>::from_data(
        TensorData::new(f32s(&images_view), [shape[0], 3, 64, 64]),
        &dev(),
    );
    let expected = f32s(&oracle.tensor("tiny_logits").unwrap());
    assert_eq!(expected.len(), shape[0] * 200);
    let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let diff = max_abs_diff(&to_vec(model.logits(x.clone())), &expected);
    assert!(
        diff <= 1e-3 * scale,
        "max |Δlogit| {diff} (largest logit {scale})"
    );

    config.stem_stride = 1;
    let stride1 = load_pytorch::<NB>(&path, &config, &layout, &dev()).unwrap();
    let diff1 = max_abs_diff(&to_vec(stride1.logits(x)), &expected);
    assert!(
        diff1 > 1e-2 * scale,
        "the stride-1 network should not match ({diff1})"
    );
}
