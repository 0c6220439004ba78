//! Label smoothing (Szegedy et al., "Rethinking the Inception Architecture for Computer
//! Vision", CVPR 2016, <https://arxiv.org/abs/1512.00567>, Sec. 7): plain training towards a
//! softened target, the calibration baseline a trained-in method is compared with.

use super::{BatchContext, StrategyStep, TrainingStrategy};
use crate::attack::{cross_entropy, uniform_cross_entropy};
use crate::error::{Error, Result};
use crate::model::{Classifier, Mode};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// Configuration of [`LabelSmoothing`]: smoothing α = 0.1 (the value of Szegedy et al. and of
/// Müller et al., "When Does Label Smoothing Help?", NeurIPS 2019).
#[derive(Config, Debug)]
pub struct LabelSmoothingConfig {
    /// α ∈ [0, 1): the weight moved from the true class to the uniform distribution.
    #[config(default = 0.1)]
    pub smoothing: f64,
}

impl LabelSmoothingConfig {
    /// The strategy; [`Error::InvalidParameter`] unless `0 ≤ α < 1`.
    pub fn init(&self) -> Result<LabelSmoothing> {
        if !(0.0..1.0).contains(&self.smoothing) {
            return Err(Error::param(
                "smoothing",
                format!("must lie in [0, 1), got {}", self.smoothing),
            ));
        }
        Ok(LabelSmoothing {
            smoothing: self.smoothing,
        })
    }
}

/// Plain training on clean images towards the smoothed target `q = (1 − α)·onehot(y) + α/K`:
///
/// `L = mean_i [(1 − α)·CE(f(x_i), y_i) + α·CE(f(x_i), uniform)]`,
///
/// which is the cross-entropy with `q` (`CE(z, u) = −(1/K) Σ_k log softmax(z)_k`). At α = 0 it is
/// [`Plain`](super::Plain). Its name is `ls<α>` (`ls0.1`).
///
/// ```
/// use advcal::train::{LabelSmoothingConfig, TrainingStrategy};
/// use advcal::model::SmallCnn;
/// type B = burn::backend::Autodiff<burn::backend::NdArray>;
/// let ls = LabelSmoothingConfig::new().init().unwrap();
/// assert_eq!(TrainingStrategy::<B, SmallCnn<B>>::name(&ls), "ls0.1");
/// assert!(LabelSmoothingConfig::new().with_smoothing(1.0).init().is_err());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LabelSmoothing {
    smoothing: f64,
}

impl LabelSmoothing {
    /// The smoothing α.
    pub fn smoothing(&self) -> f64 {
        self.smoothing
    }
}

impl<B: AutodiffBackend, M: Classifier<B>> TrainingStrategy<B, M> for LabelSmoothing {
    fn name(&self) -> String {
        format!("ls{}", self.smoothing)
    }
    fn step(
        &mut self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        _ctx: BatchContext<'_>,
    ) -> Result<StrategyStep<B>> {
        let logits = model.forward_mode(Tensor::from_inner(images), Mode::Train);
        let a = self.smoothing;
        let true_class = cross_entropy(logits.clone(), Tensor::from_inner(labels.clone()));
        let uniform = uniform_cross_entropy(logits.clone());
        let loss = (true_class.mul_scalar(1.0 - a) + uniform.mul_scalar(a)).mean();
        Ok(StrategyStep {
            loss,
            logits: logits.inner(),
            labels,
            stats: vec![],
        })
    }
}
