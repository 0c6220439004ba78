//! The steps of a training run ([`Fit::run`](super::Fit::run)): the schedule, resuming from a
//! checkpoint, one epoch of training, the end-of-epoch evaluation and its log line.

use super::trainer::{EpochRecord, TrainerConfig, TrainingState, check_schedule};
use super::{BatchContext, TrainingStrategy};
use crate::checkpoint::with_path;
use crate::checkpoint::{check_architecture, load_record_into, read_checkpoint, record_from_bytes};
use crate::data::ImageDataset;
use crate::error::{Error, Result};
use crate::eval::{AttackEvaluation, EvaluationConfig, evaluate, evaluate_under};
use crate::metrics::{CalibrationReport, DEFAULT_BINS};
use crate::model::Classifier;
use crate::rng::derive_seed;
use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use std::path::Path;
use std::time::Instant;

/// The model a run trains, as its checkpoints name it.
pub(super) struct Identity<'a> {
    pub(super) architecture: &'a str,
    pub(super) model_config: &'a serde_json::Value,
}

/// The step counts of a run and its learning-rate schedule.
pub(super) struct Schedule<'a> {
    pub(super) config: &'a TrainerConfig,
    pub(super) steps_per_epoch: usize,
    total_steps: usize,
    warmup_steps: usize,
}

impl<'a> Schedule<'a> {
    /// Checks the settings a run needs before anything is read or trained.
    pub(super) fn new(config: &'a TrainerConfig, train_len: usize) -> Result<Self> {
        if config.batch_size == 0 || config.eval_batch_size == 0 {
            return Err(Error::param("batch_size", "must be at least 1"));
        }
        if !(config.learning_rate.is_finite() && config.learning_rate >= 0.0) {
            return Err(Error::param("learning_rate", "must be finite and >= 0"));
        }
        let steps_per_epoch = train_len.div_ceil(config.batch_size);
        Ok(Self {
            config,
            steps_per_epoch,
            total_steps: steps_per_epoch * config.epochs,
            warmup_steps: config.resolved_warmup_steps(steps_per_epoch)?,
        })
    }

    /// The learning rate of global step `step`.
    fn lr(&self, step: usize) -> f64 {
        self.config.schedule.lr(
            self.config.learning_rate,
            step,
            self.total_steps,
            self.warmup_steps,
        )
    }
}

/// The model, optimizer state, history and completed epochs of the checkpoint at `path`, after
/// checking that it belongs to this model and schedule.
pub(super) fn resume<B, M, O>(
    path: &Path,
    model: M,
    optimizer: O,
    identity: &Identity<'_>,
    schedule: &Schedule<'_>,
    device: &B::Device,
) -> Result<(M, O, Vec<EpochRecord>, usize)>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    let file = read_checkpoint(path)?;
    check_architecture(
        path,
        &file.meta,
        identity.architecture,
        identity.model_config,
    )?;
    check_schedule(
        path,
        &file.meta.training,
        schedule.config,
        schedule.steps_per_epoch,
    )?;
    let model = load_record_into(path, model, file.model, device)?;
    let optimizer = if file.optimizer.is_empty() {
        optimizer
    } else {
        optimizer.load_record(
            record_from_bytes::<B, O::Record>(file.optimizer, device)
                .map_err(|e| with_path(e, path))?,
        )
    };
    let state: TrainingState =
        serde_json::from_value(file.meta.training.get("state").cloned().unwrap_or_default())
            .map_err(|e| Error::Checkpoint {
                path: path.to_path_buf(),
                reason: format!("bad training state: {e}"),
            })?;
    Ok((model, optimizer, state.history, file.meta.epoch))
}

/// What one epoch's batches add up to.
pub(super) struct EpochTotals {
    loss_sum: f64,
    correct: f64,
    seen: usize,
    /// Per statistic, the sum of its per-batch values (in the order first logged).
    stat_sums: Vec<(String, f64)>,
    lr: f64,
    seconds: f64,
}

impl EpochTotals {
    pub(super) fn record(
        self,
        epoch: usize,
        train_len: usize,
        schedule: &Schedule<'_>,
        eval: Option<CalibrationReport>,
        eval_attacks: Vec<AttackEvaluation>,
    ) -> EpochRecord {
        EpochRecord {
            epoch: epoch + 1,
            train_loss: self.loss_sum / train_len as f64,
            train_accuracy: self.correct / self.seen.max(1) as f64,
            learning_rate: self.lr,
            seconds: self.seconds,
            images_per_second: train_len as f64 / self.seconds.max(1e-9),
            stats: self
                .stat_sums
                .into_iter()
                .map(|(n, s)| (n, s / schedule.steps_per_epoch as f64))
                .collect(),
            eval,
            eval_attacks,
        }
    }
}

/// One epoch of training: every batch through `strategy`, one optimizer step each, with one
/// host read per batch (loss, accuracy and the strategy's statistics together).
pub(super) fn train_epoch<B, M, S, O>(
    mut model: M,
    optimizer: &mut O,
    strategy: &mut S,
    train: &ImageDataset,
    schedule: &Schedule<'_>,
    epoch: usize,
    device: &B::Device,
) -> Result<(M, EpochTotals)>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    S: TrainingStrategy<B, M>,
    O: Optimizer<M, B>,
{
    let config = schedule.config;
    let started = Instant::now();
    let mut totals = EpochTotals {
        loss_sum: 0.0,
        correct: 0.0,
        seen: 0,
        stat_sums: Vec::new(),
        lr: config.learning_rate,
        seconds: 0.0,
    };
    let epoch_seed = derive_seed(config.seed, epoch as u64);
    let bar = progress_bar(
        config.progress,
        schedule.steps_per_epoch,
        epoch + 1,
        config.epochs,
    );
    for (b, batch) in train
        .batches(config.batch_size, Some(epoch_seed), config.augmentation)?
        .enumerate()
    {
        totals.lr = schedule.lr(epoch * schedule.steps_per_epoch + b);
        let (x, y) = batch.to_tensors::<B::InnerBackend>(device);
        let ctx = BatchContext {
            seed: derive_seed(epoch_seed, 1_000_000 + b as u64),
            indices: &batch.indices,
            epoch,
        };
        let out = strategy.step(&model, x, y, ctx)?;
        let [m] = out.labels.dims();
        let acc = super::accuracy_tensor(out.logits, out.labels);
        let mut scalars = vec![out.loss.clone().inner().reshape([1]), acc];
        scalars.extend(out.stats.iter().map(|(_, t)| t.clone().reshape([1])));
        let values = Tensor::cat(scalars, 0).into_data().convert::<f64>();
        let values = values
            .as_slice::<f64>()
            .map_err(Error::TensorConversion)?
            .to_vec();
        if !values[0].is_finite() {
            return Err(Error::NonFiniteLoss {
                value: values[0],
                context: format!("epoch {}, batch {b}", epoch + 1),
            });
        }
        totals.loss_sum += values[0] * batch.len() as f64;
        totals.correct += values[1] * m as f64;
        totals.seen += m;
        for (i, (name, _)) in out.stats.iter().enumerate() {
            match totals.stat_sums.iter_mut().find(|(n, _)| n == name) {
                Some(entry) => entry.1 += values[2 + i],
                None => totals.stat_sums.push((name.to_string(), values[2 + i])),
            }
        }
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        model = optimizer.step(totals.lr, model, grads);
        if let Some(bar) = &bar {
            let images = (b * config.batch_size + batch.len()) as f64;
            bar.inc(1);
            bar.set_message(format!(
                "loss {:.4} acc {:.4} {:.0} img/s",
                totals.loss_sum / images,
                totals.correct / totals.seen.max(1) as f64,
                images / started.elapsed().as_secs_f64().max(1e-9)
            ));
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    totals.seconds = started.elapsed().as_secs_f64();
    Ok((model, totals))
}

/// The end-of-epoch evaluation on `eval`: clean (inference mode), then under every attack of
/// [`TrainerConfig::eval_attacks`].
pub(super) fn evaluate_epoch<B, M>(
    model: &M,
    eval: Option<&ImageDataset>,
    config: &TrainerConfig,
    device: &B::Device,
) -> Result<(Option<CalibrationReport>, Vec<AttackEvaluation>)>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
{
    let Some(data) = eval else {
        return Ok((None, Vec::new()));
    };
    let evaluation = EvaluationConfig::new()
        .with_batch_size(config.eval_batch_size)
        .with_bins(DEFAULT_BINS);
    let clean = evaluate(&model.valid(), data, &evaluation, device)?.report;
    let mut attacked = Vec::new();
    for attack in &config.eval_attacks {
        let e = evaluate_under(attack, model, data, attack.budget(), &evaluation, device)?;
        attacked.push(AttackEvaluation::from(e));
    }
    Ok((Some(clean), attacked))
}

/// The one-line summary of an epoch (and one line of its attacked evaluations) on stderr.
pub(super) fn print_epoch(record: &EpochRecord, strategy: &str, epochs: usize) {
    let eval_txt = record
        .eval
        .as_ref()
        .map(|r| {
            format!(
                " | eval acc {:.4} conf {:.4} ece {:.4} mcs {:+.4}",
                r.accuracy, r.confidence, r.ece, r.mcs
            )
        })
        .unwrap_or_default();
    let attack_txt: String = record
        .eval_attacks
        .iter()
        .map(|a| {
            format!(
                " | {}@{:.3} acc {:.4} conf {:.4} mcs {:+.4}",
                a.attack, a.epsilon, a.report.accuracy, a.report.confidence, a.report.mcs
            )
        })
        .collect();
    eprintln!(
        "[{strategy}] epoch {}/{epochs} loss {:.4} acc {:.4} lr {:.4} {:.1}s ({:.0} img/s){eval_txt}",
        record.epoch,
        record.train_loss,
        record.train_accuracy,
        record.learning_rate,
        record.seconds,
        record.images_per_second
    );
    if !attack_txt.is_empty() {
        eprintln!("    {}", attack_txt.trim_start_matches(" | "));
    }
}

pub(super) fn progress_bar(
    enabled: bool,
    steps: usize,
    epoch: usize,
    epochs: usize,
) -> Option<indicatif::ProgressBar> {
    if !enabled || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return None;
    }
    let bar = indicatif::ProgressBar::new(steps as u64);
    let style = indicatif::ProgressStyle::with_template(
        "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(format!("epoch {epoch}/{epochs}"));
    Some(bar)
}
