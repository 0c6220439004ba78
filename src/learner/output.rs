//! What the validation step hands to burn-train's metrics: clean outputs plus one view per
//! evaluation attack.

use super::metric::{CalibrationInput, CalibrationView};
use burn::backend::Flex;
use burn::prelude::*;
use burn::train::ClassificationOutput;
use burn::train::metric::{AccuracyInput, Adaptor, ItemLazy, LossInput};

/// The model's outputs on one attacked copy of a validation batch.
pub struct AttackedView<B: Backend> {
    /// `<attack>@<ε>`, as [`AttackConfig::label`](crate::attack::AttackConfig::label) spells it.
    pub label: String,
    /// Loss (the clean cross-entropy objective on the attacked images), logits and targets.
    pub output: ClassificationOutput<B>,
}

/// Validation output of [`ValidationModel`](super::ValidationModel): the clean
/// [`ClassificationOutput`] (so burn's `AccuracyMetric` and `LossMetric` work unchanged) and
/// one [`AttackedView`] per evaluation attack, read by
/// [`CalibrationMetric::under_attack`](super::CalibrationMetric::under_attack).
pub struct CalibrationOutput<B: Backend> {
    /// Outputs on the clean images.
    pub clean: ClassificationOutput<B>,
    /// Outputs on the attacked images, in the order of the configured attacks.
    pub attacked: Vec<AttackedView<B>>,
}

impl<B: Backend> ItemLazy for CalibrationOutput<B> {
    type ItemSync = CalibrationOutput<Flex>;

    fn sync(self) -> Self::ItemSync {
        CalibrationOutput {
            clean: self.clean.sync(),
            attacked: self
                .attacked
                .into_iter()
                .map(|v| AttackedView {
                    label: v.label,
                    output: v.output.sync(),
                })
                .collect(),
        }
    }
}

impl<B: Backend> Adaptor<AccuracyInput<B>> for CalibrationOutput<B> {
    fn adapt(&self) -> AccuracyInput<B> {
        self.clean.adapt()
    }
}

impl<B: Backend> Adaptor<LossInput<B>> for CalibrationOutput<B> {
    fn adapt(&self) -> LossInput<B> {
        self.clean.adapt()
    }
}

impl<B: Backend> Adaptor<CalibrationInput<B>> for CalibrationOutput<B> {
    fn adapt(&self) -> CalibrationInput<B> {
        let mut views = vec![CalibrationView::clean(&self.clean)];
        views.extend(self.attacked.iter().map(|v| CalibrationView {
            label: Some(v.label.clone()),
            logits: v.output.output.clone(),
            targets: v.output.targets.clone(),
        }));
        CalibrationInput { views }
    }
}

impl<B: Backend> Adaptor<CalibrationInput<B>> for ClassificationOutput<B> {
    fn adapt(&self) -> CalibrationInput<B> {
        CalibrationInput {
            views: vec![CalibrationView::clean(self)],
        }
    }
}

impl<B: Backend> core::fmt::Debug for CalibrationOutput<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CalibrationOutput")
            .field("clean", &self.clean.output.dims())
            .field(
                "attacked",
                &self.attacked.iter().map(|v| &v.label).collect::<Vec<_>>(),
            )
            .finish()
    }
}
