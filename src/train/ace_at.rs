//! ACE-AT (Chen et al. 2024), **reconstructed**: no exact formulation or code of the original
//! could be found, so this is PGD adversarial training plus a normalised-entropy term in one of
//! two readings ([`AceVariant`]). Results should be labelled "ACE-AT (reconstructed, variant …)".

use super::{BatchContext, StrategyStep, TrainingStrategy, accuracy_tensor};
use crate::attack::{Attack, Pgd, PgdConfig, StepSize, cross_entropy};
use crate::error::Result;
use crate::model::{Classifier, Mode};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

/// Which reading of the adversarial calibration entropy is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AceVariant {
    /// `CE + β·s_i·H̄(p_i)`, `s_i = +1` when the adversarial example is classified correctly
    /// and `−1` otherwise (lower entropy on correct, higher on wrong). Default.
    Signed,
    /// `CE − β·H̄(p_i)`: a confidence penalty on every adversarial input.
    EntropyBonus,
}

/// Configuration of [`AceAt`].
#[derive(Config, Debug)]
pub struct AceAtConfig {
    /// Inner PGD (ε = 8/255, α = 2/255, T = 10).
    #[config(default = "PgdConfig::new().with_step_size(StepSize::Absolute(2.0 / 255.0))")]
    pub attack: PgdConfig,
    /// Weight β of the entropy term.
    #[config(default = 1.0)]
    pub beta: f32,
    /// Variant of the entropy term.
    #[config(default = "AceVariant::Signed")]
    pub variant: AceVariant,
}

/// The per-sample ACE-AT loss on logits: `CE(z, y) ± β·H̄(softmax(z))` with the normalised
/// entropy `H̄ = −Σ p log p / log K ∈ [0, 1]`.
pub fn ace_loss<B: Backend>(
    logits: Tensor<B, 2>,
    labels: Tensor<B, 1, Int>,
    beta: f32,
    variant: AceVariant,
) -> Tensor<B, 1> {
    let [n, k] = logits.dims();
    let logp = log_softmax(logits.clone(), 1);
    let entropy = (softmax(logits.clone(), 1) * logp)
        .sum_dim(1)
        .reshape([n])
        .neg()
        .div_scalar((k as f32).ln().max(f32::MIN_POSITIVE));
    let ce = cross_entropy(logits.clone(), labels.clone());
    match variant {
        AceVariant::Signed => {
            // s_i is a constant: computed on detached logits.
            let correct = logits.detach().argmax(1).reshape([n]).equal(labels).float();
            let sign = correct.mul_scalar(2.0).sub_scalar(1.0);
            ce + entropy * sign.mul_scalar(beta)
        }
        AceVariant::EntropyBonus => ce - entropy.mul_scalar(beta),
    }
}

/// ACE-AT (reconstructed): PGD-AT plus an adversarial calibration entropy term.
#[derive(Debug, Clone)]
pub struct AceAt {
    attack: Pgd,
    beta: f32,
    variant: AceVariant,
}

impl AceAt {
    /// ACE-AT with these settings.
    pub fn new(config: AceAtConfig) -> Self {
        Self {
            attack: Pgd::new(config.attack),
            beta: config.beta,
            variant: config.variant,
        }
    }
}

impl Default for AceAt {
    fn default() -> Self {
        Self::new(AceAtConfig::new())
    }
}

impl<B: AutodiffBackend, M: Classifier<B> + AutodiffModule<B>> TrainingStrategy<B, M> for AceAt {
    fn name(&self) -> String {
        "ace-at".into()
    }
    fn step(
        &mut self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        ctx: BatchContext<'_>,
    ) -> Result<StrategyStep<B>> {
        let eps = self.attack.config.epsilon;
        let adv = Attack::<B, M>::adversarial_under(
            &self.attack,
            model,
            images,
            labels.clone(),
            crate::attack::Budget::new(eps).with_seed(ctx.seed),
        )?;
        let logits = model.forward_mode(Tensor::from_inner(adv), Mode::Train);
        let loss = ace_loss(
            logits.clone(),
            Tensor::from_inner(labels.clone()),
            self.beta,
            self.variant,
        )
        .mean();
        let inner = logits.inner();
        let stats = vec![("acc_adv", accuracy_tensor(inner.clone(), labels.clone()))];
        Ok(StrategyStep {
            loss,
            logits: inner,
            labels,
            stats,
        })
    }
}
