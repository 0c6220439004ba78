//! Plain training (PT).

use super::{BatchContext, StrategyStep, TrainingStrategy, ce_step};
use crate::error::Result;
use crate::model::Classifier;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// PT: `mean_i CE(f(x_i), y_i)` on clean images.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl<B: AutodiffBackend, M: Classifier<B>> TrainingStrategy<B, M> for Plain {
    fn name(&self) -> String {
        "pt".into()
    }
    fn step(
        &mut self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        _ctx: BatchContext<'_>,
    ) -> Result<StrategyStep<B>> {
        Ok(ce_step(model, images, labels))
    }
}
