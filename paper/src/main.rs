//! Reproduces the experiments of *"Towards Calibration Enhanced Network by Inverse Adversarial
//! Attack"*: Figs. 4–8 and Tables 1–3, as JSON records, Markdown tables and plots.
//!
//! ```text
//! # seconds, on the bundled sample unless ADVCAL_CIFAR10_DIR or --data-dir is set (CI's preset)
//! cargo run --release -p advcal-paper -- all --preset smoke --out results/smoke
//! # the real CIFAR-10 subset, small models, a few hours on 2 cores (LibTorch recommended)
//! cargo run --release -p advcal-paper --features tch -- all --preset cpu \
//!     --data-dir ../../shared/data/cifar-10-batches-bin --out results/cpu
//! # ResNet-18, full recipe: for a GPU
//! cargo run --release -p advcal-paper --features cuda -- all --preset paper --backend cuda \
//!     --data-dir /data/cifar-10-batches-bin --out results/paper
//! ```
//!
//! Each experiment writes `<out>/<experiment>.json` (a list of records with `model`, `attack`,
//! `epsilon`, `lambda`, `accuracy`, `confidence`, `ece`, `mcs`, `n`, …), `<out>/<experiment>.md`
//! and, for the paper's figures and tables, a plot (`.svg`; the gallery is a `.png`). Trained
//! models are cached under `<out>/models/` and reused (and resumed when interrupted); delete a
//! folder to retrain.
//!
//! Every IAA figure evaluates Algorithm 1 (records `iaa`) and Eq. 2's best feasible iterate
//! (records `iaa-eq2`, plots `<experiment>-eq2.svg`); `--iaa` picks. Every finished record is
//! journalled in `<out>/journal.jsonl` and not measured again by a run of the same settings;
//! `--reuse <dir>` takes another results directory's records of the same models.

mod calibration;
mod gallery;
#[cfg(feature = "interop")]
mod imagenet;
mod plot;
mod presets;
mod records;
mod runinfo;

use advcal::Result;
use advcal::attack::{Attack, AttackConfig, IaaConfig, PgdConfig, UcaConfig, UniformNoiseConfig};
use advcal::checkpoint::{CheckpointMeta, load_model, read_checkpoint, save_checkpoint};
use advcal::data::{
    ImageDataset, ImageFolderOptions, Split, TinyImageNetOptions, load_cifar10_splits,
    load_image_folder, load_tiny_imagenet, load_tiny_imagenet_with, resolve_cifar10_dir,
};
use advcal::eval::{EvaluationConfig, evaluate, evaluate_under};
use advcal::metrics::{BootstrapConfig, CalibrationAccumulator, CalibrationSamples, DEFAULT_BINS};
use advcal::model::{
    AnyModel, AnyModelConfig, Architecture, Classifier, Mode, NormalizationConfig,
};
use advcal::train::{
    Fit, Iat, IatConfig, StrategyKind, TrainerConfig, TrainingStrategy, paper_sgd,
};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use presets::Preset;
use records::{Key, Record, RecordStore};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Instant;

const EXPERIMENTS: [&str; 15] = [
    "models",
    "fig4",
    "fig5",
    "fig6",
    "fig7",
    "table1",
    "table2",
    "table3",
    "fig8",
    "iat-ablation",
    "finetune-vs-scratch",
    "iat-eq2",
    "baselines",
    "robustness-apgd",
    "two-sided",
];

#[derive(Parser, Debug, Clone)]
#[command(about = "Reproduce the figures and tables of the IAA/IAT paper")]
struct Args {
    /// models (clean calibration of every trained model on `clean_images` test images) | fig4 |
    /// fig5 | fig6 | fig7 | table1 | table2 | table3 | fig8 | iat-ablation (IAT variants,
    /// beyond the paper) | finetune-vs-scratch (PGD-AT both ways) | iat-eq2 (IAT and AT+IAT
    /// trained on Eq. 2's IAEs, per `--train-seeds`) | baselines (temperature scaling, label
    /// smoothing) | robustness-apgd (PGD-10 beside APGD-CE/DLR's worst case) | two-sided
    /// (worst-case calibration over PGD and IAA, AT+IAT's weight sweep) | replot (redraw every
    /// SVG plot in `--out` from its JSON; no data, no model) | all | train (the six models
    /// only); several may be given separated by commas. On torchvision ImageNet weights
    /// (`--imagenet-weights`, `--images`; not part of `all`; built with `--features interop`):
    /// fig1-imagenet (clean / PGD / IAA with top-5 bars) | fig8-imagenet (misclassified images
    /// the IAA corrects)
    experiment: String,
    /// smoke (seconds) | cpu (small CNN) | cifar (ResNet-18/4, 40,000 images, LibTorch) | paper
    /// (ResNet-18, GPU)
    #[arg(long, default_value = "smoke")]
    preset: String,
    /// CIFAR-10 binary directory (default: $ADVCAL_CIFAR10_DIR, else the bundled sample)
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Table 2's data: Tiny ImageNet-200 in its official layout (`wnids.txt`,
    /// `train/<wnid>/images/`, `val/val_annotations.txt`), or any image folder with
    /// `train/<class>/*` and `val/<class>/*`; Table 2 is skipped without it
    #[arg(long, alias = "folder-dir")]
    tiny_imagenet_dir: Option<PathBuf>,
    /// Output directory
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Where trained models are cached and resumed (default `<out>/models`); keep long runs
    /// outside the repository, e.g. `~/.cache/advcal/runs/cifar`
    #[arg(long)]
    models_dir: Option<PathBuf>,
    /// Override the number of evaluation images of the preset
    #[arg(long)]
    eval_limit: Option<usize>,
    /// tch | tch-cuda | flex | ndarray | wgpu | cuda (default: fastest CPU backend compiled in)
    #[arg(long)]
    backend: Option<String>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training seeds of `iat-eq2`, comma-separated; a seed other than `--seed` trains its own
    /// models (folders `…-seed<s>`), fine-tuned from the same base
    #[arg(long, value_delimiter = ',', default_value = "0")]
    train_seeds: Vec<u64>,
    /// The IAA variants of every IAA figure and table, comma-separated: `alg1` (the paper's
    /// printed Algorithm 1, T = eval steps; records `iaa`) and `eq2` (the library's default,
    /// Eq. 2's best feasible iterate by APGD, T = 2 × eval steps; records `iaa-eq2`)
    #[arg(long, value_enum, value_delimiter = ',', default_value = "alg1,eq2")]
    iaa: Vec<IaaVariant>,
    /// Directories whose records (`DIR/*.json`) are taken instead of re-measured when model,
    /// source, attack, ε, λ and n match; they must come from the same preset, seed and models
    /// (e.g. `--reuse results/cifar` adds the Eq. 2 rows to the committed results)
    #[arg(long)]
    reuse: Vec<PathBuf>,
    /// fig1-imagenet / fig8-imagenet: torchvision weights (`resnet50` or `vgg19_bn` state dict)
    #[arg(long)]
    imagenet_weights: Option<PathBuf>,
    /// fig1-imagenet / fig8-imagenet: image folder DIR/<class>/<image> (numbered folders are
    /// class indices; otherwise sorted folders are classes 0, 1, …); resized to 256 and
    /// centre-cropped to 224
    #[arg(long)]
    images: Option<PathBuf>,
    /// fig1-imagenet / fig8-imagenet: resnet50 | vgg19_bn (default resnet50 for Fig. 1, vgg19_bn
    /// for Fig. 8, as in the paper)
    #[arg(long)]
    imagenet_arch: Option<String>,
    /// fig1-imagenet / fig8-imagenet: blocks per stage of the ResNet (default 3,4,6,3)
    #[arg(long, value_delimiter = ',')]
    imagenet_layers: Option<Vec<usize>>,
    /// fig1-imagenet / fig8-imagenet: classes of the weights
    #[arg(long, default_value_t = 1000)]
    imagenet_classes: usize,
    /// fig1-imagenet / fig8-imagenet: attack radius (default 4/255)
    #[arg(long, default_value_t = 4.0 / 255.0)]
    imagenet_epsilon: f32,
    /// fig1-imagenet / fig8-imagenet: class names, one per line in class order (default: the
    /// class indices)
    #[arg(long)]
    class_names: Option<PathBuf>,
}

/// Which IAA an IAA figure evaluates (`--iaa`).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum IaaVariant {
    /// The paper's printed Algorithm 1 (`IaaConfig::alg1`): the reproduction's `iaa` records.
    Alg1,
    /// Eq. 2's best feasible iterate (the library's default `IaaConfig`): `iaa-eq2` records.
    Eq2,
}

/// Everything an experiment needs.
struct Ctx<B: AutodiffBackend> {
    args: Args,
    preset: Preset,
    device: B::Device,
    train: ImageDataset,
    /// The first `eval_images` test images (every attacked sweep).
    test: ImageDataset,
    /// The first `clean_images` test images (clean rows of `models`).
    test_full: ImageDataset,
    /// Input normalisation of the models (`None`: CIFAR-10's).
    normalization: Option<NormalizationConfig>,
    /// Records measured before (the journal, `--reuse`) and every record measured now.
    store: RefCell<RecordStore>,
}

impl<B: AutodiffBackend> Ctx<B> {
    fn out(&self, name: &str) -> PathBuf {
        self.args.out.join(name)
    }

    /// Draws `experiment`'s plot from its records (the same code `paper replot` runs).
    fn plot(&self, experiment: &str, records: &[Record]) -> Result<()> {
        plot::draw(&self.args.out, experiment, records).map(|_| ())
    }

    /// Where trained models are cached (`--models-dir`, default `<out>/models`).
    fn models_dir(&self) -> PathBuf {
        self.args
            .models_dir
            .clone()
            .unwrap_or_else(|| self.args.out.join("models"))
    }

    /// The model trained with `kind` on `arch` for the six-strategy comparisons: from scratch,
    /// or, with [`Preset::finetune`], fine-tuned from [`Ctx::base`] (PT included).
    fn model(&self, kind: StrategyKind, arch: Architecture) -> Result<AnyModel<B>> {
        let strategy =
            kind.build_with_iaa::<B, AnyModel<B>>(self.preset.train_attack_steps, paper_iaa())?;
        self.model_with(strategy, kind.label(), kind == StrategyKind::Plain, arch)
    }

    /// [`Ctx::model`] for any strategy (the IAT ablations): the adversarial budget, fine-tuned
    /// from the same base under [`Preset::finetune`]; cached under the strategy's name.
    fn model_with(
        &self,
        strategy: Box<dyn TrainingStrategy<B, AnyModel<B>>>,
        label: &str,
        plain: bool,
        arch: Architecture,
    ) -> Result<AnyModel<B>> {
        self.model_seeded(strategy, label, plain, arch, self.args.seed)
    }

    /// [`Ctx::model_with`] trained with another seed (data order, augmentation, attack noise;
    /// fine-tuned models start from the same base, initialised models from `seed`); cached with
    /// `-seed<seed>` after the name unless `seed` is `--seed`.
    fn model_seeded(
        &self,
        strategy: Box<dyn TrainingStrategy<B, AnyModel<B>>>,
        label: &str,
        plain: bool,
        arch: Architecture,
        seed: u64,
    ) -> Result<AnyModel<B>> {
        let p = &self.preset;
        let name = strategy.name();
        let suffix = if seed == self.args.seed {
            String::new()
        } else {
            format!("-seed{seed}")
        };
        let (recipe, dir) = match p.finetune {
            None => {
                let epochs = if plain {
                    p.epochs
                } else {
                    p.adversarial_epochs
                };
                let dir = format!("{}-{}-{}{suffix}", p.name, name, arch.name());
                (Recipe::from_scratch(p, arch, epochs, p.lr), dir)
            }
            Some(ft) => {
                let recipe = Recipe::fine_tune(self.base(arch)?, ft.epochs, ft.lr);
                (
                    recipe,
                    format!("{}-{}-ft-{}{suffix}", p.name, name, arch.name()),
                )
            }
        };
        self.trained(strategy, label, arch, recipe, &dir, seed)
    }

    /// The plain model trained from scratch for `preset.epochs` (Table 3, and the starting point
    /// of every fine-tuned strategy).
    fn base(&self, arch: Architecture) -> Result<AnyModel<B>> {
        let p = &self.preset;
        let dir = format!("{}-{}-{}", p.name, StrategyKind::Plain.name(), arch.name());
        let plain = StrategyKind::Plain.build::<B, AnyModel<B>>(p.train_attack_steps)?;
        let recipe = Recipe::from_scratch(p, arch, p.epochs, p.lr);
        self.trained(plain, "PT", arch, recipe, &dir, self.args.seed)
    }

    fn model_config(&self, arch: Architecture) -> AnyModelConfig {
        let mut config = AnyModelConfig::new(arch, self.train.num_classes());
        config.width = self.preset.small_width;
        config.width_divisor = self.preset.width_divisor;
        config.normalization = self.normalization.clone();
        if arch == Architecture::ResNet18 && self.train.image_shape()[1] >= 64 {
            config.stem_stride = self.preset.stem_stride_64;
        }
        config
    }

    /// Loads `<models>/<dir>/last.ckpt` when it holds all the recipe's epochs; otherwise trains
    /// (or resumes) it as the recipe says, and writes `run.json` (wall time, peak resident
    /// memory) beside the checkpoint.
    fn trained(
        &self,
        mut strategy: Box<dyn TrainingStrategy<B, AnyModel<B>>>,
        label: &str,
        arch: Architecture,
        recipe: Recipe<B>,
        dir: &str,
        seed: u64,
    ) -> Result<AnyModel<B>> {
        let p = &self.preset;
        let Recipe {
            epochs,
            lr,
            warmup_epochs,
            init,
        } = recipe;
        let config = self.model_config(arch);
        let dir = self.models_dir().join(dir);
        let trainer = TrainerConfig::new()
            .with_epochs(epochs)
            .with_batch_size(p.batch)
            .with_learning_rate(lr)
            .with_warmup_epochs(warmup_epochs)
            .with_seed(seed)
            .with_eval_batch_size(p.eval_batch)
            .with_output_dir(Some(dir.to_string_lossy().into_owned()));
        let ckpt = dir.join("last.ckpt");
        if ckpt.exists() {
            // A finished run loads in milliseconds; an unfinished one resumes below.
            let (model, meta) = load_model(
                &ckpt,
                config.init::<B>(&self.device),
                arch.name(),
                &config,
                &self.device,
            )?;
            if meta.epoch >= epochs {
                // A finished model is reused only if it was trained under this recipe, with
                // this seed and strategy (checkpoints written before the `-alg1` names say
                // `iat`/`at-iat` for Algorithm 1's models).
                trainer.check_schedule_of(&ckpt, &meta, self.train.len())?;
                let name = strategy.name();
                let stored = meta
                    .training
                    .pointer("/state/strategy")
                    .and_then(|v| v.as_str());
                if meta.seed != seed
                    || stored.is_some_and(|s| s != name && s != name.replacen("-alg1", "", 1))
                {
                    return Err(advcal::Error::param(
                        "models_dir",
                        format!(
                            "{} holds `{}` trained with seed {}, not `{name}` with seed {seed}; \
                             move it away to train this model",
                            ckpt.display(),
                            stored.unwrap_or("?"),
                            meta.seed
                        ),
                    ));
                }
                export_weights(&dir, &model, &meta)?;
                return Ok(model);
            }
        }
        let model = match init {
            Some(model) => model,
            None => advcal::model::seeded_init::<B, _>(&self.device, seed, || {
                config.init::<B>(&self.device)
            }),
        };
        let optim = paper_sgd(false).init::<B, AnyModel<B>>();
        eprintln!(
            "training {} on {} ({} images, {} epochs at lr {}, {} warm-up) in {}",
            label,
            arch.name(),
            self.train.len(),
            epochs,
            lr,
            warmup_epochs,
            dir.display()
        );
        runinfo::reset_peak_memory();
        let started = Instant::now();
        let outcome = Fit::new(model, optim, &mut strategy, &self.train)
            .with_eval(&self.test)
            .with_identity(arch.name(), &config)
            .run(&trainer, &self.device)?;
        let seconds = started.elapsed().as_secs_f64();
        runinfo::write(
            &dir,
            &strategy.name(),
            arch,
            runinfo::Schedule {
                epochs,
                learning_rate: lr,
                warmup_epochs,
            },
            &outcome.history,
            seconds,
        )?;
        export_weights(&dir, &outcome.model, &read_checkpoint(&ckpt)?.meta)?;
        eprintln!("trained {} on {} in {:.0} s", label, arch.name(), seconds);
        Ok(outcome.model)
    }

    fn six_models(&self) -> Result<Vec<(StrategyKind, AnyModel<B>)>> {
        StrategyKind::ALL
            .into_iter()
            .map(|k| Ok((k, self.model(k, self.preset.arch)?)))
            .collect()
    }

    /// The IAAs at `lambda` of every variant of `--iaa`.
    fn iaas(&self, lambda: f32) -> Vec<AttackConfig> {
        self.args.iaa.iter().map(|&v| self.iaa(v, lambda)).collect()
    }

    /// The evaluation IAA of `variant` at `lambda`: Algorithm 1 at the preset's steps, Eq. 2
    /// at twice as many (the library's default T = 20 at the `cifar` and `paper` presets;
    /// APGD's schedule, at equal gradient passes, reaches lower confidence than sign steps).
    fn iaa(&self, variant: IaaVariant, lambda: f32) -> AttackConfig {
        let config = match variant {
            IaaVariant::Alg1 => paper_iaa().with_steps(self.preset.eval_steps),
            IaaVariant::Eq2 => IaaConfig::new().with_steps(2 * self.preset.eval_steps),
        };
        AttackConfig::Iaa(config.with_lambda(lambda).with_seed(self.args.seed))
    }

    fn pgd(&self) -> AttackConfig {
        AttackConfig::Pgd(
            PgdConfig::new()
                .with_steps(self.preset.eval_steps)
                .with_seed(self.args.seed),
        )
    }

    fn noise(&self) -> AttackConfig {
        AttackConfig::UniformNoise(UniformNoiseConfig::new().with_seed(self.args.seed))
    }

    fn uca(&self) -> AttackConfig {
        AttackConfig::Uca(UcaConfig::new().with_steps(self.preset.eval_steps))
    }

    /// Batch size, bins and the seeded bootstrap of every evaluation.
    fn eval_config(&self) -> EvaluationConfig {
        EvaluationConfig::new()
            .with_batch_size(self.preset.eval_batch)
            .with_bins(DEFAULT_BINS)
            .with_bootstrap(Some(self.bootstrap()))
    }

    fn bootstrap(&self) -> BootstrapConfig {
        BootstrapConfig::new()
            .with_resamples(self.preset.resamples)
            .with_seed(self.args.seed)
            .with_bins(DEFAULT_BINS)
    }

    fn clean_record(&self, model: &AnyModel<B>, name: &str, data: &ImageDataset) -> Result<Record> {
        self.clean_record_of(model, Id::new(name), data)
    }

    /// The clean record of any classifier (a temperature-scaled model, a seed's model).
    fn clean_record_of<M>(&self, model: &M, id: Id<'_>, data: &ImageDataset) -> Result<Record>
    where
        M: AutodiffModule<B>,
        M::InnerModule: Classifier<B::InnerBackend>,
    {
        let key = id.key("clean", 0.0, None, data.len());
        self.measured(&key, || {
            let e = evaluate(&model.valid(), data, &self.eval_config(), &self.device)?;
            Ok(id.stamp(Record::evaluated(id.name, &e, None)))
        })
    }

    /// The record of `key` from the store, or measured by `measure` and stored.
    fn measured(&self, key: &Key<'_>, measure: impl FnOnce() -> Result<Record>) -> Result<Record> {
        let found = self.store.borrow_mut().get(key);
        if let Some(record) = found {
            return Ok(record);
        }
        let record = measure()?;
        self.store.borrow_mut().put(&record)?;
        Ok(record)
    }

    fn attack_record(
        &self,
        model: &AnyModel<B>,
        name: &str,
        attack: &AttackConfig,
        epsilon: f32,
        data: &ImageDataset,
    ) -> Result<Record> {
        self.attack_record_of(model, Id::new(name), attack, epsilon, data)
    }

    /// The record of any classifier under `attack` at `epsilon`.
    fn attack_record_of<M>(
        &self,
        model: &M,
        id: Id<'_>,
        attack: &AttackConfig,
        epsilon: f32,
        data: &ImageDataset,
    ) -> Result<Record>
    where
        M: Classifier<B> + AutodiffModule<B>,
    {
        let lambda = match attack {
            AttackConfig::Iaa(c) => Some(c.lambda),
            _ => None,
        };
        let name = record_attack::<B>(attack);
        self.measured_attack(model, id, attack, &name, lambda, epsilon, data)
    }

    /// The record of any classifier under any attack, named `name` (λ: IAA's).
    #[allow(clippy::too_many_arguments)]
    fn measured_attack<M, A>(
        &self,
        model: &M,
        id: Id<'_>,
        attack: &A,
        name: &str,
        lambda: Option<f32>,
        epsilon: f32,
        data: &ImageDataset,
    ) -> Result<Record>
    where
        M: Classifier<B> + AutodiffModule<B>,
        A: Attack<B, M>,
    {
        let key = id.key(name, epsilon, lambda, data.len());
        self.measured(&key, || {
            let budget = attack.budget().at(epsilon);
            let e = evaluate_under(
                attack,
                model,
                data,
                budget,
                &self.eval_config(),
                &self.device,
            )?;
            let mut record = id.stamp(Record::evaluated(id.name, &e, lambda));
            record.attack = name.to_owned();
            Ok(record)
        })
    }
}

/// Who a record is about: the model's label, and the training seed and temperature where an
/// experiment has several seeds or temperature-scaled models.
#[derive(Clone, Copy)]
struct Id<'a> {
    name: &'a str,
    seed: Option<u64>,
    temperature: Option<f64>,
}

impl<'a> Id<'a> {
    fn new(name: &'a str) -> Self {
        Self {
            name,
            seed: None,
            temperature: None,
        }
    }

    fn key<'k>(&self, attack: &'k str, epsilon: f32, lambda: Option<f32>, n: usize) -> Key<'k>
    where
        'a: 'k,
    {
        Key {
            model: self.name,
            seed: self.seed,
            temperature: self.temperature,
            source: None,
            attack,
            epsilon,
            lambda,
            n,
        }
    }

    /// `record` with this id's seed and temperature.
    fn stamp(&self, record: Record) -> Record {
        Record {
            seed: self.seed,
            temperature: self.temperature,
            ..record
        }
    }
}

/// The settings a journal line is measured under (besides model, attack, ε, λ and n).
fn journal_context(args: &Args, preset: &Preset, data: &str) -> String {
    format!(
        "data={data} preset={} seed={} eval_steps={}",
        preset.name, args.seed, preset.eval_steps
    )
}

/// The name of `attack`'s records (see [`record_name`]).
fn record_attack<B: AutodiffBackend>(attack: &AttackConfig) -> String {
    record_name(&Attack::<B, AnyModel<B>>::name(attack))
}

/// The records' name of an attack the library names `name`. The reproduction's `iaa` records are
/// Algorithm 1's (see `paper_iaa`), the library's default IAA (Eq. 2, named `iaa` by the
/// library) is `iaa-eq2`; a worst case over attacks (`pgd+iaa`) maps each part.
fn record_name(name: &str) -> String {
    name.split('+')
        .map(|part| match part {
            "iaa-alg1" => "iaa",
            "iaa" => "iaa-eq2",
            other => other,
        })
        .collect::<Vec<_>>()
        .join("+")
}

/// The IAA of this reproduction in training (IAT, AT+IAT and the ablations), and the first of
/// the two IAAs of every figure: the paper's printed Algorithm 1 (last iterate; the library's
/// `iaa-alg1`), with which every model in `results/` was trained. Its records keep the name
/// `iaa`; the IAA figures also evaluate the library's default IAA (Eq. 2's best feasible
/// iterate) as `iaa-eq2` (`--iaa`).
fn paper_iaa() -> IaaConfig {
    IaaConfig::alg1()
}

fn models<B: AutodiffBackend>(ctx: &Ctx<B>) -> Result<()> {
    let arch = ctx.preset.arch;
    let mut records = Vec::new();
    if ctx.preset.finetune.is_some() {
        let base = ctx.base(arch)?;
        records.push(ctx.clean_record(&base, "PT (base)", &ctx.test_full)?);
    }
    for (kind, model) in ctx.six_models()? {
        records.push(ctx.clean_record(&model, kind.label(), &ctx.test_full)?);
    }
    records::finish(ctx.out("models"), &records)
}

fn fig4<B: AutodiffBackend>(ctx: &Ctx<B>) -> Result<()> {
    let arch = ctx.preset.arch;
    let model = ctx.model(StrategyKind::Plain, arch)?;
    let name = format!("PT/{}", arch.name());
    let mut records = vec![ctx.clean_record(&model, &name, &ctx.test)?];
    for iaa in [1.0f32, 3.0, 5.0, 7.0, 10.0].map(|l| ctx.iaas(l)).concat() {
        for &eps in &ctx.preset.grid {
            records.push(ctx.attack_record(&model, &name, &iaa, eps, &ctx.test)?);
        }
    }
    records::finish(ctx.out("fig4"), &records)?;
    ctx.plot("fig4", &records)
}

fn fig5<B: AutodiffBackend>(ctx: &Ctx<B>) -> Result<()> {
    let arch = ctx.preset.arch;
    let model = ctx.model(StrategyKind::Plain, arch)?;
    let name = format!("PT/{}", arch.name());
    let mut records = vec![ctx.clean_record(&model, &name, &ctx.test)?];
    for attack in [vec![ctx.noise(), ctx.pgd()], ctx.iaas(5.0)].concat() {
        for &eps in &ctx.preset.grid {
            records.push(ctx.attack_record(&model, &name, &attack, eps, &ctx.test)?);
        }
    }
    records::finish(ctx.out("fig5"), &records)?;
    ctx.plot("fig5", &records)
}

fn six_model_sweep<B: AutodiffBackend>(
    ctx: &Ctx<B>,
    experiment: &str,
    attacks: &[AttackConfig],
) -> Result<()> {
    let mut records = Vec::new();
    for (kind, model) in ctx.six_models()? {
        records.push(ctx.clean_record(&model, kind.label(), &ctx.test)?);
        for attack in attacks {
            for &eps in &ctx.preset.grid {
                records.push(ctx.attack_record(&model, kind.label(), attack, eps, &ctx.test)?);
            }
        }
    }
    records::finish(ctx.out(experiment), &records)?;
    ctx.plot(experiment, &records)
}

fn iaa_vs_uca<B: AutodiffBackend>(
    ctx: &Ctx<B>,
    experiment: &str,
    models: Vec<(StrategyKind, AnyModel<B>)>,
    data: &ImageDataset,
) -> Result<()> {
    let eps = 0.03;
    let mut records = Vec::new();
    for (kind, model) in models {
        let clean = ctx.clean_record(&model, kind.label(), data)?;
        let iaas = ctx
            .iaas(5.0)
            .iter()
            .map(|iaa| ctx.attack_record(&model, kind.label(), iaa, eps, data))
            .collect::<Result<Vec<_>>>()?;
        let uca = ctx.attack_record(&model, kind.label(), &ctx.uca(), eps, data)?;
        // UCA never changes a prediction by construction: its accuracy is the clean one.
        if (uca.accuracy - clean.accuracy).abs() > 1e-12 {
            return Err(advcal::Error::param(
                "uca",
                format!(
                    "{}: UCA accuracy {} != clean {}",
                    kind.label(),
                    uca.accuracy,
                    clean.accuracy
                ),
            ));
        }
        records.push(clean);
        records.extend(iaas);
        records.push(uca);
    }
    records::finish(ctx.out(experiment), &records)?;
    ctx.plot(experiment, &records)
}

fn table1<B: AutodiffBackend>(ctx: &Ctx<B>) -> Result<()> {
    iaa_vs_uca(ctx, "table1", ctx.six_models()?, &ctx.test)
}

fn table2<B: AutodiffBackend>(ctx: &Ctx<B>) -> Result<()> {
    let Some(root) = ctx.args.tiny_imagenet_dir.clone() else {
        eprintln!(
            "table2: skipped (pass --tiny-imagenet-dir, e.g. ../../shared/data/tiny-imagenet-200)"
        );
        return Ok(());
    };
    let (train, test, normalization) = if root.join("wnids.txt").is_file() {
        let options = TinyImageNetOptions {
            max_per_class: ctx.preset.folder_per_class,
        };
        let train = load_tiny_imagenet_with(&root, Split::Train, options)?;
        // The validation set is sorted by file name, not by class: its first images are a
        // class-mixed sample.
        let test = load_tiny_imagenet(&root, Split::Test)?.take(ctx.preset.eval_images);
        (train, test, Some(NormalizationConfig::tiny_imagenet()))
    } else {
        let options = ImageFolderOptions {
            size: 64,
            max_per_class: ctx.preset.folder_per_class,
            ..Default::default()
        };
        let train = load_image_folder(root.join("train"), options)?;
        let test = load_image_folder(root.join("val"), options)?.take(ctx.preset.eval_images);
        (train, test, None)
    };
    let sub = Ctx::<B> {
        args: Args {
            out: ctx.args.out.join("folder"),
            models_dir: ctx.args.models_dir.as_ref().map(|d| d.join("folder")),
            ..ctx.args.clone()
        },
        preset: ctx.preset.clone(),
        device: ctx.device.clone(),
        train,
        test_full: test.clone(),
        test,
        normalization,
        store: RefCell::new(RecordStore::open(
            &ctx.args.out.join("folder"),
            journal_context(&ctx.args, &ctx.preset, "tiny-imagenet"),
            &ctx.args.reuse,
            |stem| stem == "table2",
        )?),
    };
    // The paper's Table 2 rows: every strategy but CCAT.
    let models = [
        StrategyKind::Plain,
        StrategyKind::PgdAt,
        StrategyKind::AceAt,
        StrategyKind::Iat,
        StrategyKind::AtIat,
    ]
    .into_iter()
    .map(|k| Ok((k, sub.model(k, sub.preset.arch)?)))
    .collect::<Result<Vec<_>>>()?;
    iaa_vs_uca(&sub, "table2", models, &sub.test)?;
    // The run's totals count Table 2's records too.
    let (sub_store, mut store) = (sub.store.borrow(), ctx.store.borrow_mut());
    store.measured += sub_store.measured;
    store.reused += sub_store.reused;
    drop((sub_store, store));
    for file in ["table2.json", "table2.md", "table2.svg", "table2-eq2.svg"] {
        let (from, to) = (sub.out(file), ctx.out(file));
        // Eq. 2's plot exists only when `--iaa` names it.
        if from.is_file() || !file.contains("-eq2") {
            std::fs::copy(&from, &to).map_err(|e| advcal::Error::io(&to, e))?;
        }
    }
    Ok(())
}

fn table3<B: AutodiffBackend>(ctx: &Ctx<B>) -> Result<()> {
    let archs = [
        Architecture::ResNet18,
        Architecture::MobileNetV2,
        Architecture::Vgg19,
    ];
    let models: Vec<AnyModel<B>> = archs.iter().map(|&a| ctx.base(a)).collect::<Result<_>>()?;
    // Each model's clean calibration on every test image (the ≥ 80 % check of the three).
    let mut records = archs
        .iter()
        .zip(&models)
        .map(|(a, m)| ctx.clean_record(m, a.name(), &ctx.test_full))
        .collect::<Result<Vec<_>>>()?;
    for iaa in ctx.iaas(5.0) {
        records.extend(transfer_cells(ctx, &archs, &models, &iaa)?);
    }
    records::finish(ctx.out("table3"), &records)?;
    ctx.plot("table3", &records)
}

/// Table 3's cells for one IAA at ε = 0.03: its IAEs crafted on each model (the threat),
/// evaluated on each model (the target); taken from the store when all nine are there.
fn transfer_cells<B: AutodiffBackend>(
    ctx: &Ctx<B>,
    archs: &[Architecture; 3],
    models: &[AnyModel<B>],
    iaa: &AttackConfig,
) -> Result<Vec<Record>> {
    let eps = 0.03;
    let attack = record_attack::<B>(iaa);
    let stored: Option<Vec<Record>> = archs
        .iter()
        .flat_map(|t| archs.iter().map(move |g| (t, g)))
        .map(|(t, g)| {
            ctx.store.borrow_mut().get(&Key {
                model: g.name(),
                seed: None,
                temperature: None,
                source: Some(t.name()),
                attack: &attack,
                epsilon: eps,
                lambda: Some(5.0),
                n: ctx.test.len(),
            })
        })
        .collect();
    if let Some(records) = stored {
        return Ok(records);
    }
    let inner: Vec<_> = models.iter().map(|m| m.valid()).collect();
    let k = ctx.test.num_classes();
    // cells[threat][target]
    let mut cells: Vec<Vec<(CalibrationAccumulator, CalibrationSamples)>> = (0..3)
        .map(|_| {
            (0..3)
                .map(|_| {
                    Ok((
                        CalibrationAccumulator::new(k, DEFAULT_BINS)?,
                        CalibrationSamples::new(),
                    ))
                })
                .collect::<Result<_>>()
        })
        .collect::<Result<_>>()?;
    let mut max_linf = [0.0f64; 3];
    for (b, batch) in ctx
        .test
        .batches(ctx.preset.eval_batch, None, None)?
        .enumerate()
    {
        let (x, y) = batch.to_tensors::<B::InnerBackend>(&ctx.device);
        for (t, threat) in models.iter().enumerate() {
            let seed = advcal::rng::derive_seed(ctx.args.seed, b as u64);
            let out = Attack::<B, AnyModel<B>>::perturb_under(
                iaa,
                threat,
                x.clone(),
                y.clone(),
                advcal::attack::Budget::new(eps).with_seed(seed),
            )?;
            let linf: f64 = out.perturbation.abs().max().into_scalar().elem();
            max_linf[t] = max_linf[t].max(linf);
            for (g, target) in inner.iter().enumerate() {
                let logits = target.forward_mode(out.adversarial.clone(), Mode::Eval);
                let (acc, samples) = &mut cells[t][g];
                samples.add_batch(logits.clone(), y.clone())?;
                acc.add_batch(logits, y.clone())?;
            }
        }
    }
    let mut records = Vec::new();
    for (t, row) in cells.iter().enumerate() {
        for (g, (acc, samples)) in row.iter().enumerate() {
            let r = acc.report()?;
            let (threat, target) = (archs[t].name(), archs[g].name());
            let record = Record::transfer(threat, target, &attack, eps, &r, max_linf[t])
                .with_ci(samples.bootstrap(&ctx.bootstrap())?);
            ctx.store.borrow_mut().put(&record)?;
            records.push(record);
        }
    }
    Ok(records)
}

/// Clean, PGD and IAA (λ = 5) records at ε = 8/255 for each named model.
fn clean_pgd_iaa<B: AutodiffBackend>(
    ctx: &Ctx<B>,
    models: &[(String, AnyModel<B>)],
) -> Result<Vec<Record>> {
    let eps = 8.0 / 255.0;
    let mut records = Vec::new();
    for (name, model) in models {
        records.push(ctx.clean_record(model, name, &ctx.test)?);
        records.push(ctx.attack_record(model, name, &ctx.pgd(), eps, &ctx.test)?);
        for iaa in ctx.iaas(5.0) {
            records.push(ctx.attack_record(model, name, &iaa, eps, &ctx.test)?);
        }
    }
    Ok(records)
}

/// Why IAT (Eq. 12) makes a network overconfident on clean data, tested by ablation (beyond
/// the paper): IAT variants trained exactly like IAT (same budget and base), beside PT and IAT.
/// * `correct_only`: IAA examples only from training images the model classifies correctly
///   (on the others IAA is a label-leaking, helpful perturbation), the others trained clean;
/// * `drop_misclassified`: the same IAA examples, the misclassified images left out of the step
///   (no clean input: separates the label leak from the clean inputs `correct_only` adds);
/// * `clean_weight = 0.5`: a clean cross-entropy term beside the IAA term (one train-mode batch
///   of both, so BatchNorm's batch statistics also see the clean images);
/// * IAA generated with train-mode BatchNorm (batch statistics) instead of eval mode.
fn iat_ablation<B: AutodiffBackend>(ctx: &Ctx<B>) -> Result<()> {
    let arch = ctx.preset.arch;
    let steps = ctx.preset.train_attack_steps;
    let iaa = paper_iaa().with_epsilon(8.0 / 255.0).with_steps(steps);
    let variants = [
        (
            "IAT correct-only",
            IatConfig::new()
                .with_attack(iaa.clone())
                .with_correct_only(true),
        ),
        (
            "IAT drop-misclassified",
            IatConfig::new()
                .with_attack(iaa.clone())
                .with_drop_misclassified(true),
        ),
        (
            "IAT + clean CE (w = 0.5)",
            IatConfig::new()
                .with_attack(iaa.clone())
                .with_clean_weight(0.5),
        ),
        (
            "IAT train-mode BN",
            IatConfig::new().with_attack(iaa.with_mode(Mode::Train)),
        ),
    ];
    let mut models = vec![
        ("PT".to_owned(), ctx.model(StrategyKind::Plain, arch)?),
        ("IAT".to_owned(), ctx.model(StrategyKind::Iat, arch)?),
    ];
    for (label, config) in variants {
        let model = ctx.model_with(Box::new(Iat::new(config)), label, false, arch)?;
        models.push((label.to_owned(), model));
    }
    records::finish(ctx.out("iat-ablation"), &clean_pgd_iaa(ctx, &models)?)
}

/// The fine-tuning shortcut measured on one strategy: PGD-AT fine-tuned from PT (as every
/// strategy is under presets with `finetune`) against PGD-AT trained from scratch for the base
/// model's epochs at its learning rate.
fn finetune_vs_scratch<B: AutodiffBackend>(ctx: &Ctx<B>) -> Result<()> {
    let p = &ctx.preset;
    let arch = p.arch;
    let kind = StrategyKind::PgdAt;
    let fine_tuned = ctx.model(kind, arch)?;
    let dir = format!("{}-{}-scratch-{}", p.name, kind.name(), arch.name());
    let strategy = kind.build_with_iaa::<B, AnyModel<B>>(p.train_attack_steps, paper_iaa())?;
    let recipe = Recipe::from_scratch(p, arch, p.epochs, p.lr);
    let scratch = ctx.trained(
        strategy,
        "PGD-AT (scratch)",
        arch,
        recipe,
        &dir,
        ctx.args.seed,
    )?;
    let finetune_label = match p.finetune {
        Some(ft) => format!("PGD-AT (fine-tuned from PT, {} epochs)", ft.epochs),
        None => "PGD-AT (preset trains from scratch)".to_owned(),
    };
    let models = vec![
        (finetune_label, fine_tuned),
        (format!("PGD-AT (scratch, {} epochs)", p.epochs), scratch),
    ];
    records::finish(
        ctx.out("finetune-vs-scratch"),
        &clean_pgd_iaa(ctx, &models)?,
    )
}

fn fig8<B: AutodiffBackend>(ctx: &Ctx<B>) -> Result<()> {
    let arch = ctx.preset.gallery_arch;
    let model = ctx.model(StrategyKind::Plain, arch)?;
    // One gallery per IAA: `fig8.png` (Algorithm 1, the paper's figure), `fig8-eq2.png`.
    let mut records = Vec::new();
    for iaa in ctx.iaas(5.0) {
        let name = match record_attack::<B>(&iaa).as_str() {
            "iaa" => "fig8.png",
            _ => "fig8-eq2.png",
        };
        let [clean, iae] = gallery::render::<B>(ctx, &model, &ctx.out(name), &iaa)?;
        if records.is_empty() {
            records.push(clean);
        }
        records.push(iae);
    }
    records::finish(ctx.out("fig8"), &records)
}

fn run<B: AutodiffBackend>(args: Args, device: B::Device) -> Result<()> {
    match args.experiment.as_str() {
        #[cfg(feature = "interop")]
        "fig1-imagenet" => return imagenet::fig1::<B>(&args, &device),
        #[cfg(feature = "interop")]
        "fig8-imagenet" => return imagenet::fig8::<B>(&args, &device),
        #[cfg(not(feature = "interop"))]
        "fig1-imagenet" | "fig8-imagenet" => {
            return Err(advcal::Error::param(
                "experiment",
                format!(
                    "{} reads torchvision weights: build with --features interop",
                    args.experiment
                ),
            ));
        }
        _ => {}
    }
    let preset = presets::by_name(&args.preset)?;
    let dir = resolve_cifar10_dir(args.data_dir.clone());
    let eval_images = args.eval_limit.unwrap_or(preset.eval_images);
    let clean_images = args.eval_limit.unwrap_or(preset.clean_images);
    let (train, test_full) = load_cifar10_splits(&dir, preset.train_limit, Some(clean_images))?;
    let test = test_full.take(eval_images);
    std::fs::create_dir_all(&args.out).map_err(|e| advcal::Error::io(&args.out, e))?;
    if args.iaa.is_empty() {
        return Err(advcal::Error::param("iaa", "name at least one IAA variant"));
    }
    let store = RecordStore::open(
        &args.out,
        journal_context(&args, &preset, "cifar10"),
        &args.reuse,
        |stem| stem != "table2",
    )?;
    eprintln!(
        "preset {}: data {} ({} train / {} eval images), out {}",
        preset.name,
        dir.display(),
        train.len(),
        test.len(),
        args.out.display()
    );
    let ctx = Ctx::<B> {
        args: args.clone(),
        preset: Preset {
            eval_images,
            clean_images,
            ..preset
        },
        device,
        train,
        test,
        test_full,
        normalization: None,
        store: RefCell::new(store),
    };
    let wanted: Vec<&str> = match args.experiment.as_str() {
        "all" => EXPERIMENTS.to_vec(),
        "train" => {
            ctx.six_models()?;
            return Ok(());
        }
        list => {
            let names: Vec<&str> = list.split(',').map(str::trim).collect();
            if let Some(bad) = names.iter().find(|e| !EXPERIMENTS.contains(e)) {
                return Err(advcal::Error::param(
                    "experiment",
                    format!("unknown `{bad}`; expected one of {EXPERIMENTS:?}, all or train"),
                ));
            }
            names
        }
    };
    for e in wanted {
        let started = Instant::now();
        match e {
            "models" => models(&ctx)?,
            "fig4" => fig4(&ctx)?,
            "fig5" => fig5(&ctx)?,
            "fig6" => six_model_sweep(&ctx, "fig6", &ctx.iaas(5.0))?,
            "fig7" => six_model_sweep(&ctx, "fig7", &[ctx.pgd()])?,
            "table1" => table1(&ctx)?,
            "table2" => table2(&ctx)?,
            "table3" => table3(&ctx)?,
            "fig8" => fig8(&ctx)?,
            "iat-ablation" => iat_ablation(&ctx)?,
            "finetune-vs-scratch" => finetune_vs_scratch(&ctx)?,
            "iat-eq2" => calibration::iat_eq2(&ctx)?,
            "baselines" => calibration::baselines(&ctx)?,
            "robustness-apgd" => calibration::robustness_apgd(&ctx)?,
            "two-sided" => calibration::two_sided(&ctx)?,
            _ => unreachable!("checked above"),
        }
        eprintln!("{e}: done in {:.1} s", started.elapsed().as_secs_f64());
    }
    let store = ctx.store.borrow();
    eprintln!(
        "records: {} measured, {} reused (journal {})",
        store.measured,
        store.reused,
        ctx.args.out.join("journal.jsonl").display()
    );
    Ok(())
}

/// How one model is trained: its epochs, learning rate (cosine schedule after a linear
/// warm-up) and starting weights.
struct Recipe<B: AutodiffBackend> {
    epochs: usize,
    lr: f64,
    warmup_epochs: usize,
    /// `None`: seeded random weights.
    init: Option<AnyModel<B>>,
}

impl<B: AutodiffBackend> Recipe<B> {
    /// From seeded random weights, with the preset's warm-up for `arch`.
    fn from_scratch(preset: &Preset, arch: Architecture, epochs: usize, lr: f64) -> Self {
        Self {
            epochs,
            lr,
            warmup_epochs: preset.warmup_epochs(arch),
            init: None,
        }
    }

    /// From trained weights, without warm-up.
    fn fine_tune(init: AnyModel<B>, epochs: usize, lr: f64) -> Self {
        Self {
            epochs,
            lr,
            warmup_epochs: 0,
            init: Some(init),
        }
    }
}

struct Task(Args);

impl advcal::backend::BackendTask for Task {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        run::<B>(self.0, device)
    }
}

fn main() {
    let args = Args::parse();
    if args.experiment == "replot" {
        if let Err(e) = plot::replot(&args.out, &EXPERIMENTS) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
        return;
    }
    let backend = args.backend.clone();
    if let Err(e) =
        advcal::backend::with_backend_or_default(backend.as_deref(), Task(args)).and_then(|r| r)
    {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Writes `<dir>/weights.ckpt`: the finished model without its optimizer state (a third of
/// `last.ckpt`'s size), loadable with `advcal::checkpoint::load_any_model`; these are the files
/// committed as `results/<preset>/weights/*.ckpt`.
fn export_weights<B: Backend>(
    dir: &Path,
    model: &AnyModel<B>,
    meta: &CheckpointMeta,
) -> Result<()> {
    let path = dir.join("weights.ckpt");
    if path.exists() {
        return Ok(());
    }
    save_checkpoint(&path, model, meta, None)
}

/// Writes `bytes` to `path` atomically (the example's plots and images).
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    advcal::io::write_atomic(path, bytes)
}
