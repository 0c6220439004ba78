//! The optimiser every strategy trains with by default (spec §7.2).

use burn::optim::{decay::WeightDecayConfig, momentum::MomentumConfig, SgdConfig};

/// Weight decay of the spec's optimiser (§7.2), for every strategy.
pub const PAPER_WEIGHT_DECAY: f32 = 5e-4;

/// The spec's optimiser for all six strategies (§7.2): SGD with momentum 0.9 (no dampening) and
/// weight decay [`PAPER_WEIGHT_DECAY`]; `nesterov` is off in the spec. The learning rate is not
/// part of the config in Burn: it comes from the trainer's schedule.
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
