//! AT+IAT: PGD adversarial training combined with inverse adversarial training, the combination
//! Cheng et al. propose for models both robust and calibrated ("Towards Calibration Enhanced
//! Network by Inverse Adversarial Attack", <https://arxiv.org/abs/2504.06358>).

use super::{BatchContext, StrategyStep, TrainingStrategy, accuracy_tensor};
use crate::attack::{
    Attack, Iaa, IaaConfig, IaaSelection, Pgd, PgdConfig, StepSize, cross_entropy,
};
use crate::error::Result;
use crate::model::{Classifier, Mode};
use crate::rng::derive_seed;
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

/// How AT+IAT mixes the two kinds of examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AtIatMix {
    /// Both attacks on the whole batch; `½·CE(PGD) + ½·CE(IAA)` (the default; twice the attack
    /// cost of PGD-AT).
    Both,
    /// First half of the batch gets PGD, second half IAA (PGD-AT cost).
    Split,
}

/// Configuration of [`AtIat`].
#[derive(Config, Debug)]
pub struct AtIatConfig {
    /// Inner PGD (ε = 8/255, α = 2/255, T = 10).
    #[config(default = "PgdConfig::new().with_step_size(StepSize::Absolute(2.0 / 255.0))")]
    pub pgd: PgdConfig,
    /// Inner IAA (ε = 8/255, λ = 5; Eq. 2 by default, `IaaConfig::alg1()` for Algorithm 1).
    #[config(default = "IaaConfig::new().with_epsilon(8.0 / 255.0)")]
    pub iaa: IaaConfig,
    /// Weight of the PGD term (the IAA term gets `1 − w`).
    #[config(default = 0.5)]
    pub pgd_weight: f32,
    /// Mixing mode.
    #[config(default = "AtIatMix::Both")]
    pub mix: AtIatMix,
}

/// AT+IAT (<https://arxiv.org/abs/2504.06358>): one training-mode forward over PGD and IAA
/// examples of the current model,
///
/// ```text
/// loss = w · mean_i CE(f_θ(x_i + δ_i), y_i) + (1 − w) · mean_j CE(f_θ(x_j + N_j), y_j)
/// δ = PGD_θ(x, y)  (adversarial, Madry et al. 2018),   N = IAA_θ(x, y)  (inverse adversarial)
/// ```
///
/// with `w` = [`AtIatConfig::pgd_weight`] (½) and both attacks at ε = 8/255, T = 10. The PGD
/// term teaches robustness against overconfident errors, the IAA term removes underconfidence.
/// Logs `acc_pgd` and `acc_iaa`, the training-mode accuracy on each kind of example, and the
/// IAA half's diagnostics that [`Iat`](super::Iat) logs: `iae_correct` (the fraction of IAA
/// examples classified correctly in inference mode when they were generated; Eq. 2's IAA keeps
/// every correct image correct, Algorithm 1's last iterate need not), `clean_correct`,
/// `iae_kept`, `iae_fixed`, `clean_conf`, `iae_conf` and `iae_unperturbed`.
///
/// Its name is `at-iat`, followed by `-alg1` for Algorithm 1's inner IAA ([`IaaConfig::alg1`]),
/// `-w<w>` for a PGD weight other than ½ and `-split` for [`AtIatMix::Split`]
/// (`at-iat-alg1-w0.25-split`).
#[derive(Debug, Clone)]
pub struct AtIat {
    pgd: Pgd,
    iaa: Iaa,
    pgd_weight: f32,
    mix: AtIatMix,
}

impl AtIat {
    /// AT+IAT with these settings.
    pub fn new(config: AtIatConfig) -> Self {
        Self {
            pgd: Pgd::new(config.pgd),
            iaa: Iaa::new(config.iaa),
            pgd_weight: config.pgd_weight,
            mix: config.mix,
        }
    }
}

impl Default for AtIat {
    fn default() -> Self {
        Self::new(AtIatConfig::new())
    }
}

impl<B: AutodiffBackend, M: Classifier<B> + AutodiffModule<B>> TrainingStrategy<B, M> for AtIat {
    fn name(&self) -> String {
        let mut name = String::from("at-iat");
        if self.iaa.config.selection == IaaSelection::LastIterate {
            name.push_str("-alg1");
        }
        if self.pgd_weight != 0.5 {
            name.push_str(&format!("-w{}", self.pgd_weight));
        }
        if self.mix == AtIatMix::Split {
            name.push_str("-split");
        }
        name
    }
    fn step(
        &mut self,
        model: &M,
        images: Tensor<B::InnerBackend, 4>,
        labels: Tensor<B::InnerBackend, 1, Int>,
        ctx: BatchContext<'_>,
    ) -> Result<StrategyStep<B>> {
        let [n, _, _, _] = images.dims();
        let (x_pgd, y_pgd, x_iaa, y_iaa) = match self.mix {
            AtIatMix::Both => (images.clone(), labels.clone(), images, labels),
            AtIatMix::Split => {
                let h = n / 2;
                (
                    images.clone().narrow(0, 0, h),
                    labels.clone().narrow(0, 0, h),
                    images.narrow(0, h, n - h),
                    labels.narrow(0, h, n - h),
                )
            }
        };
        let adv = Attack::<B, M>::adversarial_under(
            &self.pgd,
            model,
            x_pgd,
            y_pgd.clone(),
            crate::attack::Budget::new(self.pgd.config.epsilon).with_seed(derive_seed(ctx.seed, 1)),
        )?;
        let iaa = Attack::<B, M>::perturb_under(
            &self.iaa,
            model,
            x_iaa.clone(),
            y_iaa.clone(),
            crate::attack::Budget::new(self.iaa.config.epsilon).with_seed(derive_seed(ctx.seed, 2)),
        )?;
        let iae_stats = super::iat::iae_stats::<B, M>(&self.iaa, model, &x_iaa, &y_iaa, &iaa)?;
        let iae = iaa.adversarial;
        let n_pgd = y_pgd.dims()[0];
        let x = Tensor::cat(vec![adv, iae], 0);
        let y = Tensor::cat(vec![y_pgd.clone(), y_iaa.clone()], 0);
        let logits = model.forward_mode(Tensor::from_inner(x), Mode::Train);
        let total = y.dims()[0];
        let per_sample = cross_entropy(logits.clone(), Tensor::from_inner(y.clone()));
        let loss = per_sample
            .clone()
            .narrow(0, 0, n_pgd)
            .mean()
            .mul_scalar(self.pgd_weight)
            + per_sample
                .narrow(0, n_pgd, total - n_pgd)
                .mean()
                .mul_scalar(1.0 - self.pgd_weight);
        let inner = logits.inner();
        let mut stats = vec![
            (
                "acc_pgd",
                accuracy_tensor(inner.clone().narrow(0, 0, n_pgd), y_pgd),
            ),
            (
                "acc_iaa",
                accuracy_tensor(inner.clone().narrow(0, n_pgd, total - n_pgd), y_iaa),
            ),
        ];
        stats.extend(iae_stats);
        Ok(StrategyStep {
            loss,
            logits: inner,
            labels: y,
            stats,
        })
    }
}
