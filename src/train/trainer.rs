//! The training loop: epochs, schedule, evaluation, history, atomic checkpoints and resume.

use super::epoch::{Identity, Schedule, evaluate_epoch, print_epoch, resume, train_epoch};
use super::{LrSchedule, TrainingStrategy};
use crate::attack::AttackConfig;
use crate::checkpoint::{CheckpointMeta, record_to_bytes, save_checkpoint, with_path};
use crate::data::{Augmentation, ImageDataset};
use crate::error::{Error, Result};
use crate::eval::AttackEvaluation;
use crate::io::{write_atomic, write_json_atomic};
use crate::metrics::CalibrationReport;
use crate::model::Classifier;
use burn::module::AutodiffModule;
use burn::optim::Optimizer;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Configuration of a training run ([`Fit`]).
#[derive(Config, Debug)]
pub struct TrainerConfig {
    /// Number of epochs.
    #[config(default = 10)]
    pub epochs: usize,
    /// Mini-batch size.
    #[config(default = 128)]
    pub batch_size: usize,
    /// Base learning rate.
    #[config(default = 0.1)]
    pub learning_rate: f64,
    /// Learning-rate schedule over the whole run.
    #[config(default = "LrSchedule::Cosine")]
    pub schedule: LrSchedule,
    /// Linear warm-up steps (see also [`warmup_epochs`](Self::warmup_epochs); set one of them).
    #[config(default = 0)]
    pub warmup_steps: usize,
    /// Linear warm-up in epochs: `warmup_epochs · ⌈N / batch_size⌉` steps for `N` training
    /// images, resolved by [`Fit::run`]. Setting both this and `warmup_steps` is an error.
    #[config(default = 0)]
    pub warmup_epochs: usize,
    /// Training augmentation (`None` = none).
    #[config(default = "Some(Augmentation::cifar())")]
    pub augmentation: Option<Augmentation>,
    /// Seed of shuffling, augmentation and attack starts.
    #[config(default = 0)]
    pub seed: u64,
    /// Directory for `last.ckpt`, `history.json` and `history.csv` (`None` = nothing written).
    #[config(default = "None")]
    pub output_dir: Option<String>,
    /// Resume from `output_dir/last.ckpt` when it exists.
    #[config(default = true)]
    pub resume: bool,
    /// Batch size for evaluation.
    #[config(default = 256)]
    pub eval_batch_size: usize,
    /// Stop after this many epochs in this call (the schedule still spans `epochs`); a later
    /// call with `resume` continues. Useful to time-slice long runs.
    #[config(default = "None")]
    pub stop_after_epochs: Option<usize>,
    /// Print one line per epoch to stderr.
    #[config(default = true)]
    pub verbose: bool,
    /// Show a progress bar (loss, accuracy, images/s) while an epoch runs. It draws only when
    /// stderr is a terminal.
    #[config(default = true)]
    pub progress: bool,
    /// Attacks run on the evaluation set after every epoch, each at its own ε (e.g. PGD and
    /// IAA at 0.03). Costs `steps` forward+backward passes per evaluation image per attack.
    #[config(default = "Vec::new()")]
    pub eval_attacks: Vec<AttackConfig>,
}

impl TrainerConfig {
    /// Checks that the checkpoint whose metadata is `meta` (read from `path`) was trained under
    /// this config's schedule: the same epochs, batch size, learning rate, schedule and warm-up
    /// (compared in steps, for `train_len` training images, so `warmup_epochs = k` matches a run
    /// started with `k` epochs' worth of `warmup_steps`). It is the rule [`Fit::run`] applies
    /// before it resumes, for callers that reuse a finished checkpoint instead of running (a
    /// checkpoint without a stored trainer config passes).
    ///
    /// # Errors
    ///
    /// [`Error::Checkpoint`] naming the first setting that differs, with both values;
    /// [`Error::InvalidParameter`] for a zero batch size or both warm-up fields set.
    ///
    /// ```
    /// use advcal::checkpoint::CheckpointMeta;
    /// use advcal::train::TrainerConfig;
    ///
    /// let config = TrainerConfig::new().with_epochs(10);
    /// let mut meta = CheckpointMeta::new("small_cnn", &()).unwrap();
    /// meta.training = serde_json::json!({ "trainer": config });
    /// assert!(config.check_schedule_of("run/last.ckpt", &meta, 1000).is_ok());
    /// let longer = config.clone().with_epochs(20);
    /// assert!(longer.check_schedule_of("run/last.ckpt", &meta, 1000).is_err());
    /// ```
    pub fn check_schedule_of(
        &self,
        path: impl AsRef<Path>,
        meta: &CheckpointMeta,
        train_len: usize,
    ) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::param("batch_size", "must be at least 1"));
        }
        check_schedule(
            path.as_ref(),
            &meta.training,
            self,
            train_len.div_ceil(self.batch_size),
        )
    }

    /// The warm-up in steps for `steps_per_epoch` optimiser steps per epoch:
    /// [`warmup_steps`](Self::warmup_steps), or [`warmup_epochs`](Self::warmup_epochs) times
    /// `steps_per_epoch`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] when both are set, or when the product overflows.
    ///
    /// ```
    /// use advcal::train::TrainerConfig;
    /// let epochs = TrainerConfig::new().with_warmup_epochs(2);
    /// assert_eq!(epochs.resolved_warmup_steps(313).unwrap(), 626);
    /// let steps = TrainerConfig::new().with_warmup_steps(5);
    /// assert_eq!(steps.resolved_warmup_steps(313).unwrap(), 5);
    /// ```
    pub fn resolved_warmup_steps(&self, steps_per_epoch: usize) -> Result<usize> {
        match (self.warmup_steps, self.warmup_epochs) {
            (steps, 0) => Ok(steps),
            (0, epochs) => epochs
                .checked_mul(steps_per_epoch)
                .ok_or_else(|| Error::param("warmup_epochs", "too many warm-up steps")),
            _ => Err(Error::param(
                "warmup_epochs",
                "set warmup_steps or warmup_epochs, not both",
            )),
        }
    }
}

/// One line of the training history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch (1-based: number of completed epochs).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training-mode accuracy on the examples the strategy trained on.
    pub train_accuracy: f64,
    /// Learning rate at the last step of the epoch.
    pub learning_rate: f64,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
    /// Training images per second.
    pub images_per_second: f64,
    /// Strategy statistics (means over the epoch).
    pub stats: Vec<(String, f64)>,
    /// Clean calibration on the evaluation set, if one was given.
    pub eval: Option<CalibrationReport>,
    /// Calibration under each of [`TrainerConfig::eval_attacks`] on the evaluation set.
    #[serde(default)]
    pub eval_attacks: Vec<AttackEvaluation>,
}

/// What [`Fit::run`] returns.
#[derive(Debug)]
pub struct TrainOutcome<M> {
    /// The trained model.
    pub model: M,
    /// History of every epoch of this run (including epochs restored from a checkpoint).
    pub history: Vec<EpochRecord>,
    /// Epoch the run resumed from (0 for a fresh run).
    pub resumed_from: usize,
}

#[derive(Serialize, Deserialize)]
pub(super) struct TrainingState {
    pub(super) history: Vec<EpochRecord>,
    pub(super) strategy: String,
}

/// A training run, built step by step and started with [`run`](Fit::run): the model, its
/// optimizer, the strategy and the training data are required; evaluation data and the
/// checkpoint identity are optional.
///
/// After every epoch the run evaluates on the evaluation data (clean and under
/// [`TrainerConfig::eval_attacks`]). With an [`output_dir`](TrainerConfig::output_dir), the
/// model, optimizer state, epoch, seed and configs are checkpointed atomically to `last.ckpt`
/// and `history.json`/`history.csv` are rewritten; a later run with
/// [`resume`](TrainerConfig::resume) continues from there and refuses a checkpoint of another
/// model (its identity: [`with_identity`](Fit::with_identity), by default the model's Rust type
/// name). A non-finite loss stops training with [`Error::NonFiniteLoss`]; the last good
/// checkpoint is kept.
///
/// ```
/// use advcal::data::ImageDataset;
/// use advcal::model::{seeded_init, SmallCnnConfig};
/// use advcal::train::{paper_sgd, Fit, Plain, TrainerConfig};
/// use burn::backend::{Autodiff, NdArray};
///
/// type B = Autodiff<NdArray>;
/// let device = Default::default();
/// let data = ImageDataset::new(vec![128u8; 4 * 3 * 32 * 32], vec![0, 1, 2, 3], [3, 32, 32], 10).unwrap();
/// let model = seeded_init::<B, _>(&device, 0, || SmallCnnConfig::new().with_width(4).init(&device));
/// let config = TrainerConfig::new().with_epochs(1).with_batch_size(2).with_verbose(false);
/// let optimizer = paper_sgd(false).init();
/// let outcome = Fit::new(model, optimizer, &mut Plain, &data)
///     .with_eval(&data)
///     .run::<B>(&config, &device)
///     .unwrap();
/// assert_eq!(outcome.history.len(), 1);
/// assert!(outcome.history[0].eval.is_some());
/// ```
pub struct Fit<'a, M, O, S> {
    model: M,
    optimizer: O,
    strategy: &'a mut S,
    train: &'a ImageDataset,
    eval: Option<&'a ImageDataset>,
    architecture: String,
    model_config: std::result::Result<serde_json::Value, serde_json::Error>,
}

impl<'a, M, O, S> Fit<'a, M, O, S> {
    /// A run training `model` with `optimizer` and `strategy` on `train`.
    pub fn new(model: M, optimizer: O, strategy: &'a mut S, train: &'a ImageDataset) -> Self {
        Self {
            model,
            optimizer,
            strategy,
            train,
            eval: None,
            architecture: std::any::type_name::<M>().to_string(),
            model_config: Ok(serde_json::Value::Null),
        }
    }

    /// Evaluates on `eval` after every epoch.
    pub fn with_eval(mut self, eval: &'a ImageDataset) -> Self {
        self.eval = Some(eval);
        self
    }

    /// Names the model in checkpoints: an architecture name and its config (as in
    /// [`crate::checkpoint::CheckpointMeta`]), so that a checkpoint can be reloaded with
    /// [`crate::checkpoint::load_any_model`] and a resume refuses another model. An unserialisable
    /// config is reported by [`run`](Fit::run) as [`Error::Json`].
    pub fn with_identity<C: Serialize>(mut self, architecture: &str, model_config: &C) -> Self {
        self.architecture = architecture.to_string();
        self.model_config = serde_json::to_value(model_config);
        self
    }

    /// Trains as `config` says.
    ///
    /// # Errors
    ///
    /// [`Error::NonFiniteLoss`] (see [`Fit`]); [`Error::Checkpoint`] when a checkpoint to resume
    /// from is corrupt or belongs to another model; [`Error::Io`] / [`Error::Json`] when
    /// checkpoints or the history cannot be written; [`Error::InvalidParameter`] for invalid
    /// settings; [`Error::NoSamples`] for an empty training set; and the strategy's errors
    /// (see [`TrainingStrategy::step`]).
    pub fn run<B>(self, config: &TrainerConfig, device: &B::Device) -> Result<TrainOutcome<M>>
    where
        B: AutodiffBackend,
        M: Classifier<B> + AutodiffModule<B>,
        M::InnerModule: Classifier<B::InnerBackend>,
        S: TrainingStrategy<B, M>,
        O: Optimizer<M, B>,
    {
        let Fit {
            mut model,
            mut optimizer,
            strategy,
            train,
            eval,
            architecture,
            model_config,
        } = self;
        let identity = Identity {
            architecture: architecture.as_str(),
            model_config: &model_config?,
        };
        let schedule = Schedule::new(config, train.len())?;
        let out_dir = config.output_dir.as_ref().map(PathBuf::from);
        let ckpt_path = out_dir.as_ref().map(|d| d.join("last.ckpt"));

        let (mut history, start_epoch) =
            match ckpt_path.as_ref().filter(|p| config.resume && p.exists()) {
                Some(path) => {
                    let resumed =
                        resume::<B, M, O>(path, model, optimizer, &identity, &schedule, device)?;
                    (model, optimizer) = (resumed.0, resumed.1);
                    (resumed.2, resumed.3)
                }
                None => (Vec::new(), 0),
            };
        let end_epoch = match config.stop_after_epochs {
            Some(n) => config.epochs.min(start_epoch + n),
            None => config.epochs,
        };
        for epoch in start_epoch..end_epoch {
            let (trained, totals) = train_epoch::<B, M, S, O>(
                model,
                &mut optimizer,
                strategy,
                train,
                &schedule,
                epoch,
                device,
            )?;
            model = trained;
            let (eval_report, eval_attacks) = evaluate_epoch::<B, M>(&model, eval, config, device)?;
            let record = totals.record(epoch, train.len(), &schedule, eval_report, eval_attacks);
            if config.verbose {
                print_epoch(&record, &strategy.name(), config.epochs);
            }
            history.push(record);
            if let (Some(dir), Some(path)) = (&out_dir, &ckpt_path) {
                let state = TrainingState {
                    history: history.clone(),
                    strategy: strategy.name(),
                };
                let meta = CheckpointMeta::new(identity.architecture, identity.model_config)?
                    .with_epoch(epoch + 1)
                    .with_step((epoch + 1) * schedule.steps_per_epoch)
                    .with_seed(config.seed)
                    .with_training(&serde_json::json!({ "trainer": config, "state": state }))?;
                let optim_bytes = record_to_bytes::<B, _>(optimizer.to_record())
                    .map_err(|e| with_path(e, path))?;
                save_checkpoint::<B, M>(path, &model, &meta, Some(optim_bytes))?;
                write_json_atomic(dir.join("history.json"), &history)?;
                write_atomic(dir.join("history.csv"), history_csv(&history).as_bytes())?;
            }
        }
        Ok(TrainOutcome {
            model,
            history,
            resumed_from: start_epoch,
        })
    }
}

fn history_csv(history: &[EpochRecord]) -> String {
    // Attack columns follow the clean ones, named `<attack>@<eps>_<metric>`; the set of attacks
    // is the same for every epoch of a run, so the first record decides the header.
    let attack_names: Vec<String> = history
        .first()
        .map(|r| {
            r.eval_attacks
                .iter()
                .map(|a| format!("{}@{}", a.attack, a.epsilon))
                .collect()
        })
        .unwrap_or_default();
    let mut s = String::from(
        "epoch,train_loss,train_accuracy,learning_rate,seconds,images_per_second,eval_accuracy,eval_confidence,eval_ece,eval_mcs",
    );
    for name in &attack_names {
        for metric in ["accuracy", "confidence", "ece", "mcs"] {
            s.push_str(&format!(",{name}_{metric}"));
        }
    }
    s.push('\n');
    for r in history {
        let e = r.eval.as_ref();
        let f = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
        s.push_str(&format!(
            "{},{:.6},{:.6},{:.6},{:.3},{:.1},{},{},{},{}\n",
            r.epoch,
            r.train_loss,
            r.train_accuracy,
            r.learning_rate,
            r.seconds,
            r.images_per_second,
            f(e.map(|e| e.accuracy)),
            f(e.map(|e| e.confidence)),
            f(e.map(|e| e.ece)),
            f(e.map(|e| e.mcs))
        ));
        s.pop();
        for i in 0..attack_names.len() {
            let a = r.eval_attacks.get(i).map(|a| &a.report);
            for v in [
                a.map(|a| a.accuracy),
                a.map(|a| a.confidence),
                a.map(|a| a.ece),
                a.map(|a| a.mcs),
            ] {
                s.push(',');
                s.push_str(&f(v));
            }
        }
        s.push('\n');
    }
    s
}

/// A run resumes only under the schedule it started with: the same epochs, batch size,
/// learning rate, schedule and warm-up, since any other would change the steps already taken
/// (checkpoints written without a stored trainer config are not checked).
///
/// The warm-up is compared in steps, resolved with `steps_per_epoch` on both sides: a run
/// started with `warmup_steps = k · steps_per_epoch` (or written before `warmup_epochs` existed,
/// which stores the resolved steps) resumes under `warmup_epochs = k`, and a missing
/// `warmup_epochs` key means 0.
pub(super) fn check_schedule(
    path: &Path,
    training: &serde_json::Value,
    config: &TrainerConfig,
    steps_per_epoch: usize,
) -> Result<()> {
    let Some(stored) = training.get("trainer") else {
        return Ok(());
    };
    let now = serde_json::to_value(config).map_err(|e| Error::Checkpoint {
        path: path.to_path_buf(),
        reason: format!("cannot serialise the trainer config: {e}"),
    })?;
    let differs = |then: String, now: String| Error::Checkpoint {
        path: path.to_path_buf(),
        reason: format!(
            "the run was started with {then}, the config now says {now}: \
             resume with the same schedule, or train into another output directory"
        ),
    };
    for key in ["epochs", "batch_size", "learning_rate", "schedule"] {
        if let (Some(then), Some(now)) = (stored.get(key), now.get(key))
            && !crate::checkpoint::same_json(then, now)
        {
            return Err(differs(format!("{key} = {then}"), now.to_string()));
        }
    }
    let count = |key: &str| stored.get(key).and_then(|v| v.as_u64()).unwrap_or(0) as usize;
    let then = (count("warmup_steps"), count("warmup_epochs"));
    let then_steps = then
        .0
        .saturating_add(then.1.saturating_mul(steps_per_epoch));
    let now_steps = config.resolved_warmup_steps(steps_per_epoch)?;
    if then_steps != now_steps {
        return Err(differs(
            format!("a warm-up of {then_steps} steps"),
            format!("{now_steps} steps"),
        ));
    }
    Ok(())
}
