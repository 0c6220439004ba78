//! Sanity checks of a robustness evaluation, after AutoAttack's (Croce & Hein 2020,
//! `autoattack/checks.py`): a randomised model, zero input gradients, and a black-box attack
//! that fools images every white-box attack missed — each a sign that the gradient attacks'
//! numbers overstate robustness.
//!
//! A model random enough to change its logits by more than
//! [`INFERENCE_PROBE_TOLERANCE`](crate::attack::INFERENCE_PROBE_TOLERANCE) (relative) is
//! refused before any of this by the attacks' inference probe
//! ([`Error::TrainingBehaviourInEval`](crate::Error::TrainingBehaviourInEval)); the warning
//! covers the smaller randomness the probe lets through.

use super::RobustnessConfig;
use crate::attack::{CrossEntropy, attack_copy, input_gradient};
use crate::error::{Error, Result};
use crate::model::{Classifier, Mode};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::ElementConversion;
use burn::tensor::backend::AutodiffBackend;

/// How much adding Square to the white-box attacks may lower the robust accuracy before the
/// gradient-masking warning (AutoAttack's `check_square_sr` threshold, 0.002).
pub const SQUARE_MARGIN: f64 = 0.002;

/// Findings accumulated over the batches of a report.
#[derive(Debug, Default)]
pub(super) struct Checks {
    /// Largest difference between two forward passes of the same images.
    randomness: f64,
    /// Images whose clean input gradient of the cross-entropy is exactly zero.
    zero_gradients: usize,
    images: usize,
    /// Per ε index: images still correct under every white-box attack (and clean), those
    /// still correct once Square is added, and the images counted.
    square: std::collections::BTreeMap<usize, (usize, usize, usize)>,
}

impl Checks {
    /// Checks one clean batch: the input gradient of Σ CE (one forward and backward pass on
    /// the attacks' frozen copy) and, on the first batch, two inference passes for randomness.
    pub fn batch<B, M>(
        &mut self,
        model: &M,
        inference: &M::InnerModule,
        x: Tensor<B::InnerBackend, 4>,
        y: Tensor<B::InnerBackend, 1, Int>,
        first: bool,
    ) -> Result<()>
    where
        B: AutodiffBackend,
        M: Classifier<B> + AutodiffModule<B>,
        M::InnerModule: Classifier<B::InnerBackend>,
    {
        if first {
            let a = inference.forward_mode(x.clone(), Mode::Eval);
            let b = inference.forward_mode(x.clone(), Mode::Eval);
            let scale: f64 = a.clone().abs().max().into_scalar().elem();
            let diff: f64 = (a - b).abs().max().into_scalar().elem();
            self.randomness = diff / (1.0 + scale);
        }
        let frozen = attack_copy::<B, M>(model, &x, &y, 0.0, Mode::Eval)?;
        let (g, _) = input_gradient::<B, M, _>(
            &frozen,
            x,
            Tensor::from_inner(y),
            &CrossEntropy,
            Mode::Eval,
        )?;
        let largest = g
            .abs()
            .flatten::<2>(1, 3)
            .max_dim(1)
            .into_data()
            .convert::<f64>()
            .into_vec::<f64>()
            .map_err(Error::TensorConversion)?;
        self.images += largest.len();
        self.zero_gradients += largest.iter().filter(|&&v| v == 0.0).count();
        Ok(())
    }

    /// Counts one batch at ε index `e` for the Square check: `white[j]` whether image `j` is
    /// still correct clean and under every white-box attack, `square[j]` under Square.
    pub fn square(&mut self, e: usize, white: &[bool], square: &[bool]) {
        let entry = self.square.entry(e).or_default();
        entry.0 += white.iter().filter(|&&w| w).count();
        entry.1 += white.iter().zip(square).filter(|&(&w, &s)| w && s).count();
        entry.2 += white.len();
    }

    /// The warnings, in words.
    pub fn warnings(&self, config: &RobustnessConfig) -> Vec<String> {
        let mut out = Vec::new();
        if self.randomness > 1e-5 {
            out.push(format!(
                "the model is randomised: two forward passes of the same images differ by {:.2e} \
                 (relative); attacks against it need expectation over transformation (EOT)",
                self.randomness
            ));
        }
        if self.zero_gradients > 0 {
            out.push(format!(
                "{} of {} images have an all-zero input gradient of the cross-entropy: gradient \
                 attacks cannot move them (gradient masking?); trust the black-box `square` row",
                self.zero_gradients, self.images
            ));
        }
        for (e, &eps) in config.epsilons.iter().enumerate() {
            let Some(&(white, union, n)) = self.square.get(&e) else {
                continue;
            };
            let drop = (white - union) as f64 / n as f64;
            if drop > SQUARE_MARGIN {
                out.push(format!(
                    "at ε = {eps}, the black-box Square attack fools {} images that every \
                     white-box attack (PGD, APGD) missed, lowering the robust accuracy from {:.4} \
                     to {:.4}: the gradients may be masked, and the white-box rows overstate \
                     robustness",
                    white - union,
                    white as f64 / n as f64,
                    union as f64 / n as f64
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_warns_only_when_it_fools_images_every_white_box_attack_missed() {
        let config = RobustnessConfig::new().with_epsilons(vec![0.01, 0.03]);
        let mut checks = Checks::default();
        // ε = 0.01: Square fools nothing new (every image it fools a white-box attack fooled).
        checks.square(0, &[true, false, true, false], &[true, false, true, true]);
        // ε = 0.03: Square fools one of the two images every white-box attack missed.
        checks.square(1, &[true, true, false, false], &[true, false, true, false]);
        let w = checks.warnings(&config);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("at ε = 0.03, the black-box Square attack fools 1 images"));
        assert!(w[0].contains("from 0.5000 to 0.2500"));
        // Within AutoAttack's 0.002 of the white-box accuracy: no warning.
        let mut quiet = Checks::default();
        let white = vec![true; 1000];
        let mut square = white.clone();
        square[0] = false;
        quiet.square(0, &white, &square);
        assert!(quiet.warnings(&config).is_empty());
    }
}
