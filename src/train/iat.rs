//! Inverse adversarial training (IAT) of Cheng et al., "Towards Calibration Enhanced Network by
//! Inverse Adversarial Attack" (<https://arxiv.org/abs/2504.06358>, Eqs. 11–13): training on
//! inverse adversarial examples, optionally with per-example noise kept across epochs.

use super::{BatchContext, StrategyStep, TrainingStrategy, ce_step};
use crate::attack::{
    Attack, Iaa, IaaConfig, IaaObjective, IaaSelection, StepSize, attack_copy, cross_entropy,
    project_linf, sign_gradient_step,
};
use crate::error::{Error, Result};
use crate::model::{Classifier, Mode};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use std::collections::HashMap;

/// Settings of the persistent-noise variant of IAT (Eq. 13 of
/// <https://arxiv.org/abs/2504.06358>, read as: one noise tensor per training example, carried
/// from one visit of the example to the next and refined by a few IAA steps at each visit).
#[derive(Config, Debug)]
pub struct PersistentNoiseConfig {
    /// IAA steps run at each later visit of an example, warm-started from its stored noise, at
    /// the fixed radius ε with α = ε/T (T = the attack's `steps`).
    #[config(default = 1)]
    pub steps_per_visit: usize,
}

/// Configuration of [`Iat`]: fresh IAA examples every batch with ε = 8/255, λ = 5 and the inner
/// IAA's own defaults (Eq. 2's least confident correct point, APGD schedule, T = 20;
/// [`IaaConfig::alg1`] for the printed Algorithm 1). Persistent noise's warm-start steps are
/// always sign steps (α = ε/T) returning the last iterate.
#[derive(Config, Debug)]
pub struct IatConfig {
    /// The inner IAA attack.
    #[config(default = "IaaConfig::new().with_epsilon(8.0 / 255.0)")]
    pub attack: IaaConfig,
    /// `Some`: keep one noise tensor per training example across epochs (Eq. 13) instead of a
    /// fresh full IAA every batch.
    #[config(default = "None")]
    pub persistent: Option<PersistentNoiseConfig>,
    /// Ablation, **beyond the paper**: train on IAA examples only for the training images the
    /// current model classifies correctly, and on the clean image for the others. IAA runs on
    /// the whole batch as usual; afterwards a clean forward pass of the frozen model (in the
    /// attack's mode) decides, per image, which of the two is trained on. IAA lowers confidence
    /// without changing the prediction only where the prediction is right; on a misclassified
    /// image its λ-term and CE-term pull towards the label, a label-leaking "helpful"
    /// perturbation. (With persistent noise, the bank still stores every image's noise.) Default
    /// `false` (Eq. 12: every image).
    #[config(default = false)]
    pub correct_only: bool,
    /// Ablation, **beyond the paper**: train on IAA examples only for the training images the
    /// current model classifies correctly, and leave the others **out of the step** (neither
    /// their IAA example nor their clean image is trained on). As [`IatConfig::correct_only`], a
    /// clean forward pass of the frozen model (in the attack's mode) decides per image, and
    /// each kept image weighs `1/n` in the loss (`n` = batch size):
    /// `loss = (1/n)·Σ_{i kept} CE(f(x_i + N_i), y_i)`, exactly `correct_only`'s loss without
    /// its clean terms. So the two differ in the misclassified images' clean inputs (and, with
    /// them, in BatchNorm's batch statistics), which separates the label leak on misclassified
    /// images from the lack of clean inputs; the step still trains on fewer images than either
    /// (always the hard ones left out). The train-mode batch holds the kept IAA images (and,
    /// with [`IatConfig::clean_weight`] `= w > 0`, every clean image as well: `(1 − w)` times
    /// the sum above plus `w·CE(f(x), y)` over the whole batch). One host read per batch fetches
    /// the kept indices. A batch with no correctly classified image contributes only its clean
    /// term; with `w = 0` a zero loss through an eval-mode forward (zero gradients, BatchNorm's
    /// running statistics untouched, eval-mode logits reported; the optimizer's momentum and
    /// weight decay still step). The training accuracy the trainer logs covers the kept images
    /// only, which the model classifies correctly before the step, so it reads high (a batch
    /// without kept images reports all of its images). IAA still runs on the whole batch, so
    /// the left-out images' attack is computed and discarded; with persistent noise the bank
    /// still stores every image's noise. Excludes `correct_only`. Default `false`.
    #[config(default = false)]
    pub drop_misclassified: bool,
    /// Ablation, **beyond the paper**: weight `w ∈ [0, 1]` of a clean cross-entropy term,
    /// `loss = (1 − w)·CE(f(x + N), y) + w·CE(f(x), y)`, with the clean and the IAA images in
    /// one train-mode batch (as CCAT and AT+IAT combine theirs), so for any `w > 0` BatchNorm's
    /// batch statistics also cover both halves. Default 0 (Eq. 12: no clean term, IAA images
    /// only).
    #[config(default = 0.0)]
    pub clean_weight: f32,
}

impl IatConfig {
    /// Checks `clean_weight ∈ [0, 1]` and that `correct_only` and `drop_misclassified` are not
    /// both set (the attack's settings are checked by the attack).
    ///
    /// ```
    /// use advcal::train::IatConfig;
    /// assert!(IatConfig::new().with_clean_weight(0.5).validate().is_ok());
    /// assert!(IatConfig::new().with_clean_weight(1.5).validate().is_err());
    /// let both = IatConfig::new().with_correct_only(true).with_drop_misclassified(true);
    /// assert!(both.validate().is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `clean_weight` when it is outside `[0, 1]` or NaN, or
    /// naming `drop_misclassified` when `correct_only` is set too (each decides what a
    /// misclassified image is trained on: its clean image, or nothing).
    pub fn validate(&self) -> Result<()> {
        check_options(
            self.clean_weight,
            self.correct_only,
            self.drop_misclassified,
        )
    }
}

fn check_options(w: f32, correct_only: bool, drop_misclassified: bool) -> Result<()> {
    if !(0.0..=1.0).contains(&w) {
        return Err(Error::param(
            "clean_weight",
            format!("must lie in [0, 1] (got {w})"),
        ));
    }
    if correct_only && drop_misclassified {
        return Err(Error::param(
            "drop_misclassified",
            "excludes correct_only: a misclassified image is trained either on its clean image \
             (correct_only) or not at all (drop_misclassified)",
        ));
    }
    Ok(())
}

/// IAT: train on inverse adversarial examples, pushing the low-confidence inputs back to
/// confident and correct (Eq. 12 of <https://arxiv.org/abs/2504.06358>):
///
/// ```text
/// min_θ  mean_i CE(f_θ(x_i + N_i), y_i),   N_i = IAA_θ(x_i, y_i)   (‖N_i‖∞ ≤ ε)
/// ```
///
/// where `IAA` is [`Iaa`] (ε = 8/255, λ = 5, Eq. 2 by default) run on the current model with
/// its parameters frozen. With ε = 0 it is plain training.
///
/// **Persistent noise** ([`IatConfig::persistent`]): the first visit of example `i` runs the full
/// IAA and stores its noise `N[i]`; every later visit runs `steps_per_visit` IAA steps starting
/// from `Π(x_i + N[i])` with the *current* model, stores the new noise and trains on it. This
/// amortises the attack (1 instead of T gradient passes per visit by default). Choices, since
/// the paper leaves them open:
/// * the bank is filled lazily during the first epoch, so `N[i]` comes from the model of the
///   batch that first saw `i` rather than from the initial θ₀;
/// * the noise lives in the *augmented* frame: it is added to whatever augmented view of `x_i`
///   the batch holds (flips and crops do not move it);
/// * the bank lives in host memory (f32, 12 KiB per 32×32 RGB image: 600 MB for 50 000 images)
///   and is **not** saved in checkpoints: after a resume it is rebuilt by full IAAs;
/// * reading and writing the bank copies the batch's noise between device and host once per
///   batch, the only synchronisation this strategy adds (with
///   [`IatConfig::drop_misclassified`], the kept indices are a second).
///
/// **Ablations** (beyond the paper, off by default): [`IatConfig::correct_only`],
/// [`IatConfig::drop_misclassified`] and [`IatConfig::clean_weight`]; they add
/// `-correct-only`, `-drop-misclassified` and `-clean<w>` to the strategy's name (an inner IAA
/// in [`Mode::Train`] adds `-train-bn`, Algorithm 1's last iterate ([`IaaConfig::alg1`]) adds
/// `-alg1` right after `iat`, persistent noise `-persistent`). What they do to a CIFAR-10
/// ResNet-18 (clean, PGD and IAA calibration with 95 % intervals, and why none of them is the
/// default) is measured in the repository's `paper/docs/results.md`, section *IAT ablation*.
///
/// **Logged** (not with persistent noise): `iae_correct`, the fraction of the batch's IAA
/// examples the model classified correctly (in the attack's mode) when they were generated —
/// with Eq. 2's IAA at least the clean accuracy, with Algorithm 1's last iterate often far less —
/// beside `clean_correct`, `iae_kept` (both correct; `iae_kept / clean_correct` is the fraction
/// of correctly classified images whose IAA example stays correct), `iae_fixed`, `clean_conf`,
/// `iae_conf` and `iae_unperturbed` (see the training history's `stats`).
#[derive(Debug, Clone)]
pub struct Iat {
    attack: Iaa,
    persistent: Option<PersistentNoiseConfig>,
    correct_only: bool,
    drop_misclassified: bool,
    clean_weight: f32,
    bank: HashMap<usize, Vec<f32>>,
}

impl Iat {
    /// IAT with these settings (checked by [`IatConfig::validate`] at every step).
    pub fn new(config: IatConfig) -> Self {
        Self {
            attack: Iaa::new(config.attack),
            persistent: config.persistent,
            correct_only: config.correct_only,
            drop_misclassified: config.drop_misclassified,
            clean_weight: config.clean_weight,
            bank: HashMap::new(),
        }
    }

    /// Whether the model (frozen, in the attack's mode) classifies each of `images` correctly,
    /// `[N]`.
    fn clean_correct<B, M>(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
    ) -> Result<Tensor<B::InnerBackend, 1, Bool>>
    where
        B: AutodiffBackend,
        M: Classifier<B> + AutodiffModule<B>,
    {
        let mode = self.attack.config.mode;
        let eps = self.attack.config.epsilon;
        let frozen = attack_copy::<B, M>(model, &images, &labels, eps, mode)?;
        let logits = frozen
            .forward_mode(Tensor::from_inner(images), mode)
            .inner();
        let [n, _] = logits.dims();
        Ok(logits.argmax(1).reshape([n]).equal(labels))
    }

    /// `iae` where the model (frozen, in the attack's mode) classifies `images` correctly, the
    /// clean image elsewhere.
    fn keep_correct<B, M>(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        iae: Tensor<B::InnerBackend, 4>,
    ) -> Result<Tensor<B::InnerBackend, 4>>
    where
        B: AutodiffBackend,
        M: Classifier<B> + AutodiffModule<B>,
    {
        let [n, _, _, _] = images.dims();
        let wrong = self
            .clean_correct::<B, M>(model, images.clone(), labels)?
            .bool_not()
            .reshape([n, 1, 1, 1])
            .expand(images.dims());
        Ok(iae.mask_where(wrong, images))
    }

    /// Indices (in the batch) of the images the model (frozen, in the attack's mode) classifies
    /// correctly; `None` when there are none.
    fn correct_indices<B, M>(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
    ) -> Result<Option<Tensor<B::InnerBackend, 1, Int>>>
    where
        B: AutodiffBackend,
        M: Classifier<B> + AutodiffModule<B>,
    {
        let device = images.device();
        let correct = self
            .clean_correct::<B, M>(model, images, labels)?
            .int()
            .into_data()
            .convert::<i64>()
            .to_vec::<i64>()
            .map_err(Error::TensorConversion)?;
        let keep: Vec<i64> = (0..correct.len() as i64)
            .filter(|&i| correct[i as usize] != 0)
            .collect();
        if keep.is_empty() {
            return Ok(None);
        }
        let k = keep.len();
        Ok(Some(Tensor::from_data(TensorData::new(keep, [k]), &device)))
    }

    /// The step of a `drop_misclassified` batch without a correctly classified image: the clean
    /// term alone (`w·CE(f(x), y)` in train mode) when `clean_weight = w > 0`, else a zero loss
    /// through an eval-mode forward (zero gradients, BatchNorm's running statistics untouched).
    fn no_iaa_step<B, M>(
        &self,
        model: &M,
        clean: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
    ) -> StrategyStep<B>
    where
        B: AutodiffBackend,
        M: Classifier<B> + AutodiffModule<B>,
    {
        let w = self.clean_weight;
        let mode = if w > 0.0 { Mode::Train } else { Mode::Eval };
        let logits = model.forward_mode(Tensor::from_inner(clean), mode);
        let y = Tensor::<B, 1, Int>::from_inner(labels.clone());
        StrategyStep {
            loss: cross_entropy(logits.clone(), y).mean().mul_scalar(w),
            logits: logits.inner(),
            labels,
            stats: vec![],
        }
    }

    /// Number of examples with stored noise (persistent mode; 0 otherwise).
    pub fn bank_len(&self) -> usize {
        self.bank.len()
    }

    /// The stored noise of data-set example `index` (persistent mode), flattened `C·H·W`.
    pub fn stored_noise(&self, index: usize) -> Option<&[f32]> {
        self.bank.get(&index).map(Vec::as_slice)
    }

    fn persistent_examples<B, M>(
        &mut self,
        steps_per_visit: usize,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        ctx: &BatchContext<'_>,
    ) -> Result<Tensor<B::InnerBackend, 4>>
    where
        B: AutodiffBackend,
        M: Classifier<B> + AutodiffModule<B>,
    {
        let eps = self.attack.config.epsilon;
        let dims = images.dims();
        let [n, c, h, w] = dims;
        if ctx.indices.len() != n {
            return Err(Error::IndexCountMismatch {
                indices: ctx.indices.len(),
                images: n,
            });
        }
        let per = c * h * w;
        let device = images.device();
        let all_known = ctx.indices.iter().all(|i| self.bank.contains_key(i));
        let adversarial = if !all_known {
            // First visit of (some of) these examples: the full attack; known ones could be
            // warm-started, but a mixed batch only occurs in the first epoch after a resume.
            Attack::<B, M>::adversarial_under(
                &self.attack,
                model,
                images.clone(),
                labels,
                crate::attack::Budget::new(eps).with_seed(ctx.seed),
            )?
        } else {
            let mut host = Vec::with_capacity(n * per);
            for i in ctx.indices {
                host.extend_from_slice(&self.bank[i]);
            }
            let noise =
                Tensor::<B::InnerBackend, 1>::from_floats(host.as_slice(), &device).reshape(dims);
            let mut x_adv = project_linf(images.clone() + noise, images.clone(), eps);
            let frozen =
                attack_copy::<B, M>(model, &images, &labels, eps, self.attack.config.mode)?;
            let alpha = match self.attack.config.step_size {
                Some(a) => StepSize::Absolute(a),
                None => StepSize::EpsilonOverSteps,
            }
            .resolve(eps, self.attack.config.steps)?;
            let objective = IaaObjective {
                lambda: self.attack.config.lambda,
            };
            let labels = Tensor::<B, 1, Int>::from_inner(labels);
            for _ in 0..steps_per_visit {
                x_adv = sign_gradient_step::<B, M, _>(
                    &frozen,
                    x_adv.clone(),
                    x_adv,
                    images.clone(),
                    labels.clone(),
                    &objective,
                    -alpha,
                    eps,
                    self.attack.config.mode,
                )?;
            }
            x_adv
        };
        let noise = (adversarial.clone() - images)
            .into_data()
            .convert::<f32>()
            .into_vec::<f32>()
            .map_err(Error::TensorConversion)?;
        for (k, &i) in ctx.indices.iter().enumerate() {
            self.bank.insert(i, noise[k * per..(k + 1) * per].to_vec());
        }
        Ok(adversarial)
    }
}

impl Default for Iat {
    fn default() -> Self {
        Self::new(IatConfig::new())
    }
}

impl<B: AutodiffBackend, M: Classifier<B> + AutodiffModule<B>> TrainingStrategy<B, M> for Iat {
    fn name(&self) -> String {
        let mut name = String::from("iat");
        if self.attack.config.selection == IaaSelection::LastIterate {
            name.push_str("-alg1");
        }
        if self.persistent.is_some() {
            name.push_str("-persistent");
        }
        if self.attack.config.mode == Mode::Train {
            name.push_str("-train-bn");
        }
        if self.correct_only {
            name.push_str("-correct-only");
        }
        if self.drop_misclassified {
            name.push_str("-drop-misclassified");
        }
        if self.clean_weight > 0.0 {
            name.push_str(&format!("-clean{}", self.clean_weight));
        }
        name
    }
    fn is_stateful(&self) -> bool {
        self.persistent.is_some()
    }
    fn step(
        &mut self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        ctx: BatchContext<'_>,
    ) -> Result<StrategyStep<B>> {
        check_options(
            self.clean_weight,
            self.correct_only,
            self.drop_misclassified,
        )?;
        let eps = self.attack.config.epsilon;
        let clean = images.clone();
        let (iae, iae_stats) = match self.persistent.as_ref().map(|p| p.steps_per_visit) {
            Some(k) => (
                self.persistent_examples::<B, M>(k, model, images, labels.clone(), &ctx)?,
                None,
            ),
            None => {
                let out = Attack::<B, M>::perturb_under(
                    &self.attack,
                    model,
                    images,
                    labels.clone(),
                    crate::attack::Budget::new(eps).with_seed(ctx.seed),
                )?;
                let stats = iae_stats::<B, M>(&self.attack, model, &clean, &labels, &out)?;
                (out.adversarial, Some(stats))
            }
        };
        let mut step = self.train_on::<B, M>(model, clean, labels, iae)?;
        step.stats.extend(iae_stats.into_iter().flatten());
        Ok(step)
    }
}

impl Iat {
    /// The training step on the IAA examples `iae` of the batch `clean`.
    fn train_on<B: AutodiffBackend, M: Classifier<B> + AutodiffModule<B>>(
        &mut self,
        model: &M,
        clean: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        iae: Tensor<B::InnerBackend, 4>,
    ) -> Result<StrategyStep<B>> {
        let iae = if self.correct_only {
            self.keep_correct::<B, M>(model, clean.clone(), labels.clone(), iae)?
        } else {
            iae
        };
        // drop_misclassified: the IAA examples (and labels) of the correctly classified images.
        let (iae, iae_labels) = if self.drop_misclassified {
            match self.correct_indices::<B, M>(model, clean.clone(), labels.clone())? {
                Some(keep) => (
                    Some(iae.select(0, keep.clone())),
                    labels.clone().select(0, keep),
                ),
                None => (None, labels.clone()),
            }
        } else {
            (Some(iae), labels.clone())
        };
        let Some(iae) = iae else {
            return Ok(self.no_iaa_step(model, clean, labels));
        };
        let [m, _, _, _] = iae.dims();
        let [n, _, _, _] = clean.dims();
        if self.clean_weight == 0.0 && m == n {
            return Ok(ce_step(model, iae, iae_labels));
        }
        // The IAA term: a sum over the m (≤ n) IAA images divided by n, so a kept image weighs
        // the same as in a full batch.
        let ce_iaa = |logits: Tensor<B, 2>| {
            let y = Tensor::<B, 1, Int>::from_inner(iae_labels.clone());
            cross_entropy(logits, y).sum().div_scalar(n as f64)
        };
        if self.clean_weight == 0.0 {
            let logits = model.forward_mode(Tensor::from_inner(iae), Mode::Train);
            return Ok(StrategyStep {
                loss: ce_iaa(logits.clone()),
                logits: logits.inner(),
                labels: iae_labels,
                stats: vec![],
            });
        }
        // One train-mode batch [IAA images; clean images], as AT+IAT and CCAT combine theirs.
        let w = self.clean_weight;
        let x = Tensor::cat(vec![iae, clean], 0);
        let logits = model.forward_mode(Tensor::from_inner(x), Mode::Train);
        let ce_iaa = ce_iaa(logits.clone().narrow(0, 0, m));
        let y = Tensor::<B, 1, Int>::from_inner(labels);
        let ce_clean = cross_entropy(logits.clone().narrow(0, m, n), y).mean();
        Ok(StrategyStep {
            loss: ce_iaa.mul_scalar(1.0 - w) + ce_clean.mul_scalar(w),
            logits: logits.narrow(0, 0, m).inner(),
            labels: iae_labels,
            stats: vec![],
        })
    }
}

/// Named `[1]` statistics of one training step (see [`StrategyStep::stats`]).
type StepStats<B> = Vec<(
    &'static str,
    Tensor<<B as AutodiffBackend>::InnerBackend, 1>,
)>;

/// Per-batch diagnostics of the IAA examples `out` of `clean` (all `[1]` means over the batch,
/// logged in the training history's `stats`). Clean and IAA predictions are the frozen model's in
/// the attack's mode, the same model the IAA attacked:
///
/// - `iae_correct`: the IAA example is classified correctly;
/// - `clean_correct`: the clean image is (an extra inference forward pass);
/// - `iae_kept`: both are, so `iae_kept / clean_correct` is the fraction of the correctly
///   classified images whose IAA example stays correct (1 by construction for Eq. 2's
///   best-feasible selection, whose candidates include the clean image);
/// - `iae_fixed`: the IAA example is correct although the clean image is not (the IAA's
///   cross-entropy term then lowers the loss: a label-aware "helpful" perturbation);
/// - `clean_conf`, `iae_conf`: mean maximum softmax probability on each;
/// - `iae_unperturbed`: the IAA example is the clean image itself (`‖δ‖∞ = 0`).
pub(crate) fn iae_stats<B, M>(
    attack: &Iaa,
    model: &M,
    clean: &Tensor<B::InnerBackend, 4>,
    labels: &Tensor<B::InnerBackend, 1, Int>,
    out: &crate::attack::AttackOutput<B::InnerBackend>,
) -> Result<StepStats<B>>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
{
    let mode = attack.config.mode;
    let frozen = attack_copy::<B, M>(model, clean, labels, attack.config.epsilon, mode)?;
    let clean_logits = frozen
        .forward_mode(Tensor::from_inner(clean.clone()), mode)
        .inner();
    let [n, _] = clean_logits.dims();
    let correct = |logits: Tensor<B::InnerBackend, 2>| {
        logits.argmax(1).reshape([n]).equal(labels.clone()).float()
    };
    let confidence = |logits: Tensor<B::InnerBackend, 2>| {
        burn::tensor::activation::softmax(logits, 1)
            .max_dim(1)
            .reshape([n])
            .mean()
    };
    let clean_ok = correct(clean_logits.clone());
    let iae_ok = correct(out.logits.clone());
    let unperturbed = out
        .perturbation
        .clone()
        .abs()
        .reshape([n as i32, -1])
        .max_dim(1)
        .reshape([n])
        .equal_elem(0.0)
        .float()
        .mean();
    Ok(vec![
        ("iae_correct", iae_ok.clone().mean()),
        ("clean_correct", clean_ok.clone().mean()),
        ("iae_kept", (clean_ok.clone() * iae_ok.clone()).mean()),
        (
            "iae_fixed",
            (clean_ok.neg().add_scalar(1.0) * iae_ok).mean(),
        ),
        ("clean_conf", confidence(clean_logits)),
        ("iae_conf", confidence(out.logits.clone())),
        ("iae_unperturbed", unperturbed),
    ])
}
