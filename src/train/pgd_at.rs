//! PGD adversarial training (Madry et al., "Towards Deep Learning Models Resistant to
//! Adversarial Attacks", ICLR 2018, <https://arxiv.org/abs/1706.06083>).

use super::{BatchContext, StrategyStep, TrainingStrategy, ce_step};
use crate::attack::{Attack, Pgd, PgdConfig, StepSize};
use crate::error::Result;
use crate::model::Classifier;
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// Configuration of [`PgdAt`]: ε = 8/255, α = 2/255, T = 10, random start.
#[derive(Config, Debug)]
pub struct PgdAtConfig {
    /// The inner attack.
    #[config(default = "PgdConfig::new().with_step_size(StepSize::Absolute(2.0 / 255.0))")]
    pub attack: PgdConfig,
}

/// PGD-AT: `mean_i CE(f(PGD(x_i)), y_i)` — adversarial examples only, no clean term.
#[derive(Debug, Clone)]
pub struct PgdAt {
    attack: Pgd,
}

impl PgdAt {
    /// PGD-AT with these settings.
    pub fn new(config: PgdAtConfig) -> Self {
        Self {
            attack: Pgd::new(config.attack),
        }
    }
}

impl Default for PgdAt {
    fn default() -> Self {
        Self::new(PgdAtConfig::new())
    }
}

impl<B: AutodiffBackend, M: Classifier<B> + AutodiffModule<B>> TrainingStrategy<B, M> for PgdAt {
    fn name(&self) -> String {
        "pgd-at".into()
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
        Ok(ce_step(model, adv, labels))
    }
}
