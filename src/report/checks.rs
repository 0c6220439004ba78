//! Sanity checks of a robustness evaluation, after AutoAttack's (Croce & Hein 2020,
//! `autoattack/checks.py`): a randomised model, zero input gradients, and a black-box attack
//! that beats the white-box ones — each a sign that the gradient attacks' numbers overstate
//! robustness.

use super::{ReportRow, RobustnessConfig};
use crate::attack::{CrossEntropy, attack_copy, input_gradient};
use crate::error::{Error, Result};
use crate::model::{Classifier, Mode};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::ElementConversion;
use burn::tensor::backend::AutodiffBackend;

/// How far below the best white-box accuracy Square's may fall before the gradient-masking
/// warning (AutoAttack's `check_square_sr` threshold, 0.002).
pub const SQUARE_MARGIN: f64 = 0.002;

/// Findings accumulated over the batches of a report.
#[derive(Debug, Default)]
pub(super) struct Checks {
    /// Largest difference between two forward passes of the same images.
    randomness: f64,
    /// Images whose clean input gradient of the cross-entropy is exactly zero.
    zero_gradients: usize,
    images: usize,
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

    /// The warnings, in words.
    pub fn warnings(&self, config: &RobustnessConfig, rows: &[ReportRow]) -> Vec<String> {
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
        for &eps in &config.epsilons {
            let at = |name: &str| {
                rows.iter()
                    .find(|r| r.attack == name && (r.epsilon - eps).abs() <= 1e-6)
            };
            let Some(square) = at("square") else { continue };
            let white = ["pgd", "apgd-ce", "apgd-dlr"]
                .iter()
                .filter_map(|n| at(n))
                .min_by(|a, b| a.accuracy.total_cmp(&b.accuracy));
            if let Some(w) = white
                && square.accuracy < w.accuracy - SQUARE_MARGIN
            {
                out.push(format!(
                    "at ε = {eps}, the black-box Square attack leaves accuracy {:.4}, below the \
                     best white-box attack's ({} {:.4}): the gradients may be masked, and the \
                     white-box rows overstate robustness",
                    square.accuracy, w.attack, w.accuracy
                ));
            }
        }
        out
    }
}
