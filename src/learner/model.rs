//! A classifier plus a [`TrainingStrategy`] as burn-train's training model, and its inference
//! twin that also evaluates under attacks.

use super::data::ImageBatch;
use super::output::{AttackedView, CalibrationOutput};
use crate::attack::{Attack, AttackConfig, cross_entropy};
use crate::error::{Error, Result};
use crate::model::Classifier;
use crate::rng::derive_seed;
use crate::train::{BatchContext, CloneableStrategy};
use burn::module::{AutodiffModule, Devices, Module, ModuleMapper, ModuleVisitor};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::train::{ClassificationOutput, InferenceStep, Interrupter, TrainOutput, TrainStep};
use core::fmt::Debug;
use core::marker::PhantomData;
use std::sync::{Arc, Mutex};

/// Errors raised inside burn-train's steps, which cannot return a `Result`.
///
/// A failing step (a strategy error, a non-finite loss, a failing evaluation attack) is
/// recorded here, stops the run through the registered [`Interrupter`] and contributes no
/// gradient. Keep a handle (it is cheap to clone) before handing the model to the learner and
/// call [`check`](Self::check) after `launch` returns.
#[derive(Debug, Clone, Default)]
pub struct StepFailures {
    first: Arc<Mutex<Option<String>>>,
}

impl StepFailures {
    fn record(&self, message: String, interrupter: Option<&Interrupter>) {
        if let Ok(mut first) = self.first.lock()
            && first.is_none()
        {
            *first = Some(message.clone());
        }
        if let Some(interrupter) = interrupter {
            interrupter.stop(Some(&message));
        }
    }

    /// The first failure, if any.
    pub fn first(&self) -> Option<String> {
        self.first.lock().ok().and_then(|f| f.clone())
    }

    /// `Err(Error::StepFailed)` with the first failure, `Ok(())` when every step succeeded.
    ///
    /// # Errors
    ///
    /// [`Error::StepFailed`] with the message of the first failed step.
    pub fn check(&self) -> Result<()> {
        match self.first() {
            Some(message) => Err(Error::StepFailed(message)),
            None => Ok(()),
        }
    }
}

/// What both model wrappers share: the strategy, the evaluation attacks and the failure slot.
#[derive(Clone)]
struct Shared<S> {
    strategy: S,
    seed: u64,
    eval_attacks: Vec<AttackConfig>,
    failures: StepFailures,
    interrupter: Option<Interrupter>,
}

impl<S: Debug> Debug for Shared<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Shared")
            .field("strategy", &self.strategy)
            .field("seed", &self.seed)
            .field("eval_attacks", &self.eval_attacks)
            .finish()
    }
}

/// A seed for one batch that depends only on the run seed and the batch's content, so that
/// re-running (or resuming) visits the same attack starts.
fn batch_seed(seed: u64, indices: &[usize]) -> u64 {
    indices
        .iter()
        .fold(derive_seed(seed, indices.len() as u64), |s, &i| {
            derive_seed(s, i as u64)
        })
}

/// Classifier `M` trained with strategy `S` by burn-train's `Learner`.
///
/// It implements burn-train's `TrainStep` (one strategy step, back-propagated) and its
/// inference twin [`ValidationModel`] implements `InferenceStep` (clean outputs plus the
/// configured evaluation attacks). The wrapper is transparent to records: its record *is* the
/// classifier's record, so burn-train checkpoints load into a plain `M`.
///
/// The strategy is cloned for every step (steps take `&self` and may run on several devices at
/// once), so strategies that keep state between steps
/// ([`TrainingStrategy::is_stateful`](crate::train::TrainingStrategy::is_stateful), the
/// persistent-noise IAT) are refused; train those with [`crate::train::Fit`].
///
/// Under burn-train, [`BatchContext::epoch`] is always 0 (a step does not know its epoch)
/// and the batch seed is derived from the run seed and the batch's data-set indices.
pub struct StrategyModel<B: AutodiffBackend, M, S> {
    model: M,
    shared: Shared<S>,
    _backend: PhantomData<B>,
}

/// Inference twin of [`StrategyModel`] (its `AutodiffModule::InnerModule`): clean logits in
/// inference behaviour, plus every evaluation attack of the run. Attacks need gradients, so
/// each validation batch rebuilds the autodiff model from the inner one (cheap: parameters
/// are shared, not copied).
pub struct ValidationModel<B: AutodiffBackend, M: AutodiffModule<B>, S> {
    model: M::InnerModule,
    shared: Shared<S>,
    _backend: PhantomData<B>,
}

impl<B, M, S> StrategyModel<B, M, S>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    S: CloneableStrategy<B, M>,
{
    /// Wraps `model` and `strategy`; refuses stateful strategies (see the type's docs).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for a stateful strategy
    /// ([`TrainingStrategy::is_stateful`](crate::train::TrainingStrategy::is_stateful)).
    pub fn new(model: M, strategy: S) -> Result<Self> {
        if strategy.is_stateful() {
            return Err(Error::param(
                "strategy",
                format!(
                    "`{}` keeps state between steps, which burn-train's per-step and per-device \
                     clones would drop; train it with advcal::train::Fit",
                    strategy.name()
                ),
            ));
        }
        Ok(Self {
            model,
            shared: Shared {
                strategy,
                seed: 0,
                eval_attacks: Vec::new(),
                failures: StepFailures::default(),
                interrupter: None,
            },
            _backend: PhantomData,
        })
    }

    /// Seed of the per-batch attack starts (default 0).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.shared.seed = seed;
        self
    }

    /// Attacks run on every validation batch; measure them with
    /// [`CalibrationMetric::under_attack`](super::CalibrationMetric::under_attack).
    pub fn with_eval_attacks(mut self, attacks: Vec<AttackConfig>) -> Self {
        self.shared.eval_attacks = attacks;
        self
    }

    /// The interrupter of the `SupervisedTraining` run (`training.interrupter()`), stopped
    /// on the first failing step.
    pub fn with_interrupter(mut self, interrupter: Interrupter) -> Self {
        self.shared.interrupter = Some(interrupter);
        self
    }

    /// Handle on the failures of this model's steps (see [`StepFailures`]).
    pub fn failures(&self) -> StepFailures {
        self.shared.failures.clone()
    }
}

impl<B: AutodiffBackend, M, S> StrategyModel<B, M, S> {
    /// The wrapped classifier.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Unwraps the classifier.
    pub fn into_model(self) -> M {
        self.model
    }
}

impl<B: AutodiffBackend, M: AutodiffModule<B>, S> ValidationModel<B, M, S> {
    /// The wrapped inference classifier.
    pub fn model(&self) -> &M::InnerModule {
        &self.model
    }

    /// Unwraps the inference classifier (what `LearningResult::model` holds after training).
    pub fn into_model(self) -> M::InnerModule {
        self.model
    }

    /// Handle on the failures of this model's steps.
    pub fn failures(&self) -> StepFailures {
        self.shared.failures.clone()
    }
}

impl<B: AutodiffBackend, M: Clone, S: Clone> Clone for StrategyModel<B, M, S> {
    fn clone(&self) -> Self {
        Self {
            model: self.model.clone(),
            shared: self.shared.clone(),
            _backend: PhantomData,
        }
    }
}

impl<B: AutodiffBackend, M: AutodiffModule<B>, S: Clone> Clone for ValidationModel<B, M, S> {
    fn clone(&self) -> Self {
        Self {
            model: self.model.clone(),
            shared: self.shared.clone(),
            _backend: PhantomData,
        }
    }
}

impl<B: AutodiffBackend, M: Debug, S: Debug> Debug for StrategyModel<B, M, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StrategyModel")
            .field("model", &self.model)
            .field("shared", &self.shared)
            .finish()
    }
}

impl<B: AutodiffBackend, M: AutodiffModule<B>, S: Debug> Debug for ValidationModel<B, M, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ValidationModel")
            .field("model", &self.model)
            .field("shared", &self.shared)
            .finish()
    }
}

impl<B, M, S> core::fmt::Display for StrategyModel<B, M, S>
where
    B: AutodiffBackend,
    M: Module<B>,
    S: Debug,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} parameters trained with {:?}",
            self.model.num_params(),
            self.shared.strategy
        )
    }
}

// Both wrappers delegate every module operation to the classifier without entering a child
// module, so parameter paths and records are exactly the classifier's.
macro_rules! delegate_module {
    ($backend:ty, $inner:ty) => {
        type Record = <$inner as Module<$backend>>::Record;

        fn collect_devices(&self, devices: Devices<$backend>) -> Devices<$backend> {
            self.model.collect_devices(devices)
        }

        fn fork(self, device: &burn::tensor::Device<$backend>) -> Self {
            Self {
                model: self.model.fork(device),
                ..self
            }
        }

        fn to_device(self, device: &burn::tensor::Device<$backend>) -> Self {
            Self {
                model: self.model.to_device(device),
                ..self
            }
        }

        fn visit<V: ModuleVisitor<$backend>>(&self, visitor: &mut V) {
            self.model.visit(visitor)
        }

        fn map<Mp: ModuleMapper<$backend>>(self, mapper: &mut Mp) -> Self {
            Self {
                model: self.model.map(mapper),
                ..self
            }
        }

        fn load_record(self, record: Self::Record) -> Self {
            Self {
                model: self.model.load_record(record),
                ..self
            }
        }

        fn into_record(self) -> Self::Record {
            self.model.into_record()
        }
    };
}

impl<B, M, S> Module<B> for StrategyModel<B, M, S>
where
    B: AutodiffBackend,
    M: Module<B>,
    S: Clone + Send + Sync + Debug,
{
    delegate_module!(B, M);
}

impl<B, M, S> Module<B::InnerBackend> for ValidationModel<B, M, S>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    S: Clone + Send + Sync + Debug,
{
    delegate_module!(B::InnerBackend, M::InnerModule);
}

impl<B, M, S> AutodiffModule<B> for StrategyModel<B, M, S>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    S: Clone + Send + Sync + Debug,
{
    type InnerModule = ValidationModel<B, M, S>;

    fn valid(&self) -> Self::InnerModule {
        ValidationModel {
            model: self.model.valid(),
            shared: self.shared.clone(),
            _backend: PhantomData,
        }
    }

    fn from_inner(module: Self::InnerModule) -> Self {
        Self {
            model: M::from_inner(module.model),
            shared: module.shared,
            _backend: PhantomData,
        }
    }
}

impl<B, M, S> TrainStep for StrategyModel<B, M, S>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    S: CloneableStrategy<B, M>,
{
    type Input = ImageBatch<B>;
    type Output = ClassificationOutput<B>;

    fn step(&self, batch: ImageBatch<B>) -> TrainOutput<ClassificationOutput<B>> {
        let device = batch.images.device();
        let ctx = BatchContext {
            seed: batch_seed(self.shared.seed, &batch.indices),
            indices: &batch.indices,
            epoch: 0,
        };
        let mut strategy = self.shared.strategy.clone();
        let outcome = strategy
            .step(
                &self.model,
                batch.images.inner(),
                batch.targets.clone().inner(),
                ctx,
            )
            .and_then(|step| {
                // One scalar read per step: burn-train reads the loss for its metrics anyway,
                // and a NaN must stop the run before the optimizer spreads it to the weights.
                let loss: f32 = step.loss.clone().into_scalar().elem();
                if loss.is_finite() {
                    Ok(step)
                } else {
                    Err(Error::NonFiniteLoss {
                        value: f64::from(loss),
                        context: "a burn-train training step".into(),
                    })
                }
            });
        match outcome {
            Ok(step) => {
                let grads = step.loss.backward();
                TrainOutput::new(
                    self,
                    grads,
                    ClassificationOutput {
                        loss: step.loss,
                        output: Tensor::from_inner(step.logits),
                        targets: Tensor::from_inner(step.labels),
                    },
                )
            }
            Err(e) => {
                self.shared.failures.record(
                    format!("training step of `{}`: {e}", strategy.name()),
                    self.shared.interrupter.as_ref(),
                );
                // No gradient: the optimizer leaves the weights as they were.
                let n = batch.indices.len();
                TrainOutput {
                    grads: GradientsParams::new(),
                    item: ClassificationOutput {
                        loss: Tensor::from_floats([f32::NAN], &device),
                        output: Tensor::zeros([n, self.model.num_classes()], &device),
                        targets: batch.targets,
                    },
                }
            }
        }
    }
}

impl<B, M, S> InferenceStep for ValidationModel<B, M, S>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
    S: Clone + Send + Sync + Debug + 'static,
{
    type Input = ImageBatch<B::InnerBackend>;
    type Output = CalibrationOutput<B::InnerBackend>;

    fn step(&self, batch: ImageBatch<B::InnerBackend>) -> CalibrationOutput<B::InnerBackend> {
        let logits = self.model.logits(batch.images.clone());
        let clean = ClassificationOutput {
            loss: cross_entropy(logits.clone(), batch.targets.clone()).mean(),
            output: logits,
            targets: batch.targets.clone(),
        };
        let mut attacked = Vec::with_capacity(self.shared.eval_attacks.len());
        if !self.shared.eval_attacks.is_empty() {
            let model = M::from_inner(self.model.clone());
            let seed = batch_seed(self.shared.seed, &batch.indices);
            for (i, attack) in self.shared.eval_attacks.iter().enumerate() {
                let out = Attack::<B, M>::perturb_under(
                    attack,
                    &model,
                    batch.images.clone(),
                    batch.targets.clone(),
                    crate::attack::Budget::new(attack.epsilon())
                        .with_seed(derive_seed(seed, i as u64)),
                );
                match out {
                    Ok(out) => attacked.push(AttackedView {
                        label: attack.label(),
                        output: ClassificationOutput {
                            loss: cross_entropy(out.logits.clone(), batch.targets.clone()).mean(),
                            output: out.logits,
                            targets: batch.targets.clone(),
                        },
                    }),
                    Err(e) => self.shared.failures.record(
                        format!("evaluation attack `{}`: {e}", attack.label()),
                        self.shared.interrupter.as_ref(),
                    ),
                }
            }
        }
        CalibrationOutput { clean, attacked }
    }
}
