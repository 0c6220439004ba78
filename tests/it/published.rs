//! The architectures people publish, against their own PyTorch code: `scripts/published_oracle.py`
//! (run by CI into `$ADVCAL_TORCH_ORACLE_DIR/published`) builds RobustBench's TRADES WideResNet
//! (WRN-16-2 and the full WRN-28-10), DeepMind's WideResNet (SiLU, TF "SAME" padding, mean/std in
//! the file), PreAct ResNet-18 in its four published variants, and torchvision's own `resnet50`,
//! a one-block-per-stage torchvision ResNet and `vgg19_bn`, with random weights and non-trivial
//! BatchNorm statistics, saves each state dict in its published key layout, and records the
//! eval-mode logits on real CIFAR-10 and Tiny ImageNet images. advcal loads every file with its
//! layout and must reproduce the logits to `1e-4 · max(1, max |logit|)`.

use crate::common::*;
use advcal::Error;
use advcal::interop::{WeightLayout, load_pytorch};
use advcal::model::NormalizationConfig;
use advcal::model::{Activation, AnyModel, AnyModelConfig, Architecture, Classifier};
use burn::module::Module;
use burn::prelude::*;
use burn::store::ModuleSnapshot;
use safetensors::SafeTensors;
use std::path::PathBuf;

/// Largest logit difference, relative to `max(1, max |logit|)`.
const TOLERANCE: f32 = 1e-4;

type B = FB;

fn published_dir() -> PathBuf {
    let dir = oracle_dir().join("published");
    assert!(
        dir.join("published.safetensors").is_file(),
        "{} has no published.safetensors: run scripts/published_oracle.py {}",
        dir.display(),
        dir.display()
    );
    dir
}

struct Oracle {
    dir: PathBuf,
    bytes: Vec<u8>,
}

impl Oracle {
    fn load() -> Self {
        let dir = published_dir();
        let bytes = std::fs::read(dir.join("published.safetensors")).unwrap();
        Self { dir, bytes }
    }

    fn tensor(&self, key: &str) -> (Vec<f32>, Vec<usize>) {
        let st = SafeTensors::deserialize(&self.bytes).unwrap();
        let view = st.tensor(key).unwrap_or_else(|e| panic!("{key}: {e:?}"));
        (f32s(&view), view.shape().to_vec())
    }

    /// The first `n` images of `key` on the Flex backend.
    fn images(&self, key: &str, n: usize) -> Tensor<B, 4> {
        let (values, shape) = self.tensor(key);
        assert!(shape[0] >= n, "{key} has {} images", shape[0]);
        let per = shape[1] * shape[2] * shape[3];
        Tensor::from_data(
            TensorData::new(
                values[..n * per].to_vec(),
                [n, shape[1], shape[2], shape[3]],
            ),
            &Default::default(),
        )
    }

    fn load_model(
        &self,
        file: &str,
        config: &AnyModelConfig,
        layout: &WeightLayout,
    ) -> advcal::Result<AnyModel<B>> {
        load_pytorch::<B>(self.dir.join(file), config, layout, &Default::default())
    }

    /// Max |Δlogit| / max(1, max |logit|) of `model` against the oracle's logits `name` on
    /// `images`.
    fn relative_error(&self, model: &AnyModel<B>, name: &str, images: &str) -> f32 {
        let (expected, shape) = self.tensor(name);
        let x = self.images(images, shape[0]);
        let got = to_vec(model.logits(x));
        assert_eq!(got.len(), expected.len(), "{name}");
        let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        max_abs_diff(&got, &expected) / scale
    }

    fn assert_matches(&self, model: &AnyModel<B>, name: &str, images: &str) {
        let error = self.relative_error(model, name, images);
        assert!(
            error <= TOLERANCE,
            "{name}: max |Δlogit| is {error:e} of the largest logit"
        );
    }
}

fn wrn(depth: usize, widen: usize) -> AnyModelConfig {
    let mut c = AnyModelConfig::new(Architecture::WideResNet, 10);
    c.depth = depth;
    c.widen_factor = widen;
    c
}

fn preact(final_bn: bool, shortcut_from_input: bool) -> AnyModelConfig {
    let mut c = AnyModelConfig::new(Architecture::PreActResNet18, 10);
    c.final_bn = final_bn;
    c.shortcut_from_input = shortcut_from_input;
    c
}

fn num_params(model: &AnyModel<B>) -> usize {
    <AnyModel<B> as ModuleSnapshot<B>>::collect(model, None, None, false)
        .iter()
        .filter(|s| {
            let p = s.full_path();
            !p.ends_with("running_mean") && !p.ends_with("running_var")
        })
        .map(|s| s.shape.iter().product::<usize>())
        .sum()
}

#[test]
#[cfg_attr(
    not(feature = "data-tests"),
    ignore = "needs the PyTorch oracle (ADVCAL_TORCH_ORACLE_DIR) and the data-tests feature"
)]
fn robustbench_wide_resnets_match_pytorch() {
    let oracle = Oracle::load();
    let layout = WeightLayout::RobustBench;
    // WRN-16-2, with TRADES' unused `sub_block1` in the file (skipped by the layout).
    let small = oracle
        .load_model("wrn_trades_16_2.pth", &wrn(16, 2), &layout)
        .unwrap();
    oracle.assert_matches(&small, "wrn_trades_16_2", "cifar");
    // The same file under advcal's own names: `convShortcut` and `sub_block1` are unexpected.
    let native = oracle.load_model("wrn_trades_16_2.pth", &wrn(16, 2), &WeightLayout::Native);
    assert!(matches!(native, Err(Error::Weights { .. })), "{native:?}");
    // A wrong depth is a typed error naming a tensor.
    let deeper = oracle.load_model("wrn_trades_16_2.pth", &wrn(22, 2), &layout);
    assert!(matches!(deeper, Err(Error::Weights { .. })), "{deeper:?}");

    // Full size: WRN-28-10, 36,479,194 parameters as in PyTorch (without `sub_block1`).
    let full = oracle
        .load_model("wrn_trades_28_10.pth", &wrn(28, 10), &layout)
        .unwrap();
    assert_eq!(num_params(&full), 36_479_194);
    oracle.assert_matches(&full, "wrn_trades_28_10", "cifar");
}

#[test]
#[cfg_attr(
    not(feature = "data-tests"),
    ignore = "needs the PyTorch oracle (ADVCAL_TORCH_ORACLE_DIR) and the data-tests feature"
)]
fn deepmind_wide_resnet_matches_pytorch_with_its_padding_and_normalisation() {
    let oracle = Oracle::load();
    let mut config = wrn(16, 2);
    config.activation = Activation::Silu;
    config.tf_same_padding = true;
    let layout = WeightLayout::DeepMind;
    // The normalisation comes from the file's `mean`/`std`.
    let model = oracle
        .load_model("wrn_dm_16_2.pth", &config, &layout)
        .unwrap();
    oracle.assert_matches(&model, "wrn_dm_16_2", "cifar");
    // The same constants given explicitly load too; other constants are a typed error.
    config.normalization = Some(
        NormalizationConfig::new()
            .with_mean(vec![0.4914, 0.4822, 0.4465])
            .with_std(vec![0.2471, 0.2435, 0.2616]),
    );
    assert!(
        oracle
            .load_model("wrn_dm_16_2.pth", &config, &layout)
            .is_ok()
    );
    config.normalization = Some(NormalizationConfig::imagenet());
    let wrong = oracle.load_model("wrn_dm_16_2.pth", &config, &layout);
    assert!(matches!(wrong, Err(Error::Weights { .. })), "{wrong:?}");
    // Symmetric padding (TRADES') computes something else with the same weights, so the
    // DeepMind layout refuses it, and the RobustBench layout refuses TF padding.
    config.normalization = None;
    config.tf_same_padding = false;
    let refused = oracle.load_model("wrn_dm_16_2.pth", &config, &layout);
    assert!(
        matches!(refused, Err(Error::InvalidParameter { .. })),
        "{refused:?}"
    );
    let mut tf_trades = wrn(16, 2);
    tf_trades.tf_same_padding = true;
    let refused = oracle.load_model(
        "wrn_trades_16_2.pth",
        &tf_trades,
        &WeightLayout::RobustBench,
    );
    assert!(
        matches!(refused, Err(Error::InvalidParameter { .. })),
        "{refused:?}"
    );
    let record = model.clone().into_record();
    config.normalization = Some(
        NormalizationConfig::new()
            .with_mean(vec![0.4914, 0.4822, 0.4465])
            .with_std(vec![0.2471, 0.2435, 0.2616]),
    );
    let symmetric = config.init::<B>(&Default::default()).load_record(record);
    let error = oracle.relative_error(&symmetric, "wrn_dm_16_2", "cifar");
    assert!(
        error > 1e-2,
        "symmetric padding should not match ({error:e})"
    );
}

#[test]
#[cfg_attr(
    not(feature = "data-tests"),
    ignore = "needs the PyTorch oracle (ADVCAL_TORCH_ORACLE_DIR) and the data-tests feature"
)]
fn preact_resnet18_variants_match_pytorch() {
    let oracle = Oracle::load();
    let layout = WeightLayout::RobustBench;
    // (file, final BN, shortcut from the raw input): He et al.; Wong et al.'s current code;
    // Rice et al. (nested `{'state_dict': {'module.…'}}`); RobustBench's Wong2020Fast (mu/sigma
    // buffers in the file).
    let cases = [
        ("preact_he", false, false),
        ("preact_fa", true, true),
        ("preact_ro", true, false),
        ("preact_rb_wong", false, true),
    ];
    for (name, final_bn, from_input) in cases {
        let model = oracle
            .load_model(
                &format!("{name}.pth"),
                &preact(final_bn, from_input),
                &layout,
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected_params = if final_bn { 11_172_170 } else { 11_171_146 };
        assert_eq!(num_params(&model), expected_params, "{name}");
        oracle.assert_matches(&model, name, "cifar");
    }
    // Rice et al.'s `model_best.pth` holds plain floats beside the nested state dict.
    let best = oracle
        .load_model("preact_ro_best.pth", &preact(true, false), &layout)
        .unwrap();
    oracle.assert_matches(&best, "preact_ro", "cifar");
    // The shortcut option matters: Wong's raw-input shortcut read as He's does not match.
    let wrong = oracle
        .load_model("preact_fa.pth", &preact(true, false), &layout)
        .unwrap();
    let error = oracle.relative_error(&wrong, "preact_fa", "cifar");
    assert!(
        error > 1e-2,
        "the shortcut variant should matter ({error:e})"
    );
    // A final BatchNorm the model lacks is an unexpected tensor.
    let missing_bn = oracle.load_model("preact_fa.pth", &preact(false, true), &layout);
    assert!(
        matches!(missing_bn, Err(Error::Weights { .. })),
        "{missing_bn:?}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "data-tests"),
    ignore = "needs the PyTorch oracle (ADVCAL_TORCH_ORACLE_DIR) and the data-tests feature"
)]
fn torchvision_imagenet_models_match_pytorch() {
    let oracle = Oracle::load();
    let layout = WeightLayout::Torchvision;
    // One bottleneck per stage, full widths, 10 classes, on 64×64 images.
    let mut small = AnyModelConfig::new(Architecture::ResNet50, 10);
    small.layers = Some(vec![1, 1, 1, 1]);
    let model = oracle
        .load_model("resnet_tv_small.pth", &small, &layout)
        .unwrap();
    oracle.assert_matches(&model, "resnet_tv_small", "imagenet64");

    let resnet50 = AnyModelConfig::new(Architecture::ResNet50, 1000);
    let model = oracle
        .load_model("resnet50.pth", &resnet50, &layout)
        .unwrap();
    assert_eq!(num_params(&model), 25_557_032);
    oracle.assert_matches(&model, "resnet50", "imagenet224");

    let vgg = AnyModelConfig::new(Architecture::Vgg19Bn, 1000);
    let model = oracle.load_model("vgg19_bn.pth", &vgg, &layout).unwrap();
    assert_eq!(num_params(&model), 143_678_248);
    oracle.assert_matches(&model, "vgg19_bn", "imagenet224");
    // 64×64 inputs: the 2×2 map is pooled *up* to 7×7, as PyTorch's adaptive pool does.
    oracle.assert_matches(&model, "vgg19_bn_64", "imagenet64");
}
