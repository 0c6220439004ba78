//! Inverse adversarial training (seed Eq. 11–12).

use super::{ce_step, BatchContext, StrategyStep, TrainingStrategy};
use crate::attack::{Attack, Iaa, IaaConfig};
use crate::error::Result;
use crate::model::Classifier;
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// Configuration of [`Iat`]: fresh IAA examples every batch with ε = 8/255, T = 10, λ = 5.
#[derive(Config, Debug)]
pub struct IatConfig {
    /// The inner IAA attack.
    #[config(default = "IaaConfig::new().with_epsilon(8.0 / 255.0)")]
    pub attack: IaaConfig,
}

/// IAT: `mean_i CE(f(IAA(x_i)), y_i)` — train on inverse adversarial examples, pushing the
/// low-confidence inputs back to confident and correct. With ε = 0 it is plain training.
#[derive(Debug, Clone)]
pub struct Iat {
    attack: Iaa,
}

impl Iat {
    /// IAT with these settings.
    pub fn new(config: IatConfig) -> Self {
        Self {
            attack: Iaa::new(config.attack),
        }
    }
}

impl Default for Iat {
    fn default() -> Self {
        Self::new(IatConfig::new())
    }
}

impl<B: AutodiffBackend, M: Classifier<B> + AutodiffModule<B>> TrainingStrategy<B, M> for Iat {
    fn name(&self) -> String {
        "iat".into()
    }
    fn step(
        &mut self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        ctx: BatchContext<'_>,
    ) -> Result<StrategyStep<B>> {
        let eps = self.attack.config.epsilon;
        let iae = Attack::<B, M>::perturb_with(
            &self.attack,
            model,
            images,
            labels.clone(),
            eps,
            ctx.seed,
        )?;
        Ok(ce_step(model, iae.adversarial, labels))
    }
}
