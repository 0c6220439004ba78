//! Uniform noise baseline: `x + U(−ε, ε)`, clipped to `[0, 1]` ("UN" in Fig. 5 of
//! <https://arxiv.org/abs/2504.06358>), to tell an attack's effect from that of any perturbation of
//! the same size.

use super::{Attack, AttackOutput, Budget, CrossEntropy, attack_copy};
use crate::error::Result;
use crate::model::{Classifier, Mode};
use crate::rng::uniform_tensor;
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// Configuration of [`UniformNoise`]. Default ε = 0.03.
#[derive(Config, Debug)]
pub struct UniformNoiseConfig {
    /// Noise bound on the `[0, 1]` scale.
    #[config(default = 0.03)]
    pub epsilon: f32,
    /// Seed of the noise.
    #[config(default = 0)]
    pub seed: u64,
}

/// `x_un = clamp(x + ξ, 0, 1)`, `ξ ~ U(−ε, ε)` i.i.d. per pixel and channel. Uses no gradient;
/// the output's `loss` is the cross-entropy at `x_un`.
#[derive(Debug, Clone)]
pub struct UniformNoise {
    /// Hyper-parameters.
    pub config: UniformNoiseConfig,
}

impl UniformNoise {
    /// A noise baseline with these settings.
    pub fn new(config: UniformNoiseConfig) -> Self {
        Self { config }
    }
}

impl Default for UniformNoise {
    fn default() -> Self {
        Self::new(UniformNoiseConfig::new())
    }
}

impl<B, M> Attack<B, M> for UniformNoise
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
{
    fn name(&self) -> String {
        "noise".into()
    }
    fn budget(&self) -> Budget {
        Budget::new(self.config.epsilon).with_seed(self.config.seed)
    }
    fn perturb_under(
        &self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        budget: Budget,
    ) -> Result<AttackOutput<B::InnerBackend>> {
        let Budget { epsilon, seed } = budget;
        let frozen = attack_copy::<B, M>(model, &images, &labels, epsilon, Mode::Eval)?;
        let noise =
            uniform_tensor::<B::InnerBackend, 4>(images.dims(), epsilon, seed, &images.device());
        let adversarial = super::project_linf(images.clone() + noise, images.clone(), epsilon);
        Ok(AttackOutput::with_objective::<B, M, _>(
            &frozen,
            images,
            adversarial,
            labels,
            &CrossEntropy,
        ))
    }
}
