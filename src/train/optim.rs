//! The optimiser of the paper reproduction: the one every strategy is trained with in the
//! examples.

use burn::optim::{SgdConfig, decay::WeightDecayConfig, momentum::MomentumConfig};

/// Weight decay of [`paper_sgd`] (5e-4), for every strategy.
pub const PAPER_WEIGHT_DECAY: f32 = 5e-4;

/// The optimiser used for all six strategies when reproducing the paper
/// (<https://arxiv.org/abs/2504.06358>): SGD with momentum 0.9 (no dampening) and weight decay
/// [`PAPER_WEIGHT_DECAY`], the usual CIFAR-10 setting of adversarial training (Madry et al.,
/// "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR 2018); pass
/// `nesterov = false` for plain momentum. The learning rate is not part of the config in Burn:
/// it comes from the trainer's schedule.
///
/// ```
/// use advcal::train::paper_sgd;
///
/// // Burn's `SgdConfig` keeps its fields private; its serialised form shows them.
/// let sgd = serde_json::to_value(paper_sgd(false)).unwrap();
/// assert_eq!(sgd["momentum"]["momentum"], 0.9);
/// assert_eq!(sgd["momentum"]["dampening"], 0.0);
/// assert_eq!(sgd["momentum"]["nesterov"], false);
/// assert_eq!(sgd["weight_decay"]["penalty"].as_f64().unwrap() as f32, 5e-4);
/// assert_eq!(serde_json::to_value(paper_sgd(true)).unwrap()["momentum"]["nesterov"], true);
/// ```
pub fn paper_sgd(nesterov: bool) -> SgdConfig {
    SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(0.9)
                .with_dampening(0.0)
                .with_nesterov(nesterov),
        ))
        .with_weight_decay(Some(WeightDecayConfig::new(PAPER_WEIGHT_DECAY)))
}
