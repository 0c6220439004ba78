//! # advcal
//!
//! Adversarial and **inverse**-adversarial attacks and calibration metrics for the
//! [Burn](https://burn.dev) deep-learning framework, implementing *"Towards Calibration Enhanced
//! Network by Inverse Adversarial Attack"* (Cheng et al., 2025,
//! <https://arxiv.org/abs/2504.06358>).
//!
//! * PGD exposes **overconfidence** (wrong, but confident); the inverse adversarial attack
//!   ([`attack::Iaa`]) finds inputs inside an L∞ ball that the model still classifies correctly,
//!   but with minimal confidence, exposing **underconfidence**.
//! * Calibration is measured by ACC, CONF, ECE and the signed miscalibration score
//!   MCS = CONF − ACC ([`metrics`]): positive = overconfident, negative = underconfident.
//!
//! Everything is generic over the Burn backend: the same code runs on NdArray, Flex and LibTorch
//! (CPU; LibTorch also CUDA), WGPU and CUDA. Attacks need an autodiff backend (`Autodiff<B>`) to
//! take input gradients; their inputs and outputs live on the inner backend.
//!
//! ```
//! use advcal::prelude::*;
//! use burn::backend::{Autodiff, NdArray};
//! use burn::prelude::*;
//!
//! type B = Autodiff<NdArray>;
//! let device = Default::default();
//! let model = SmallCnnConfig::new().with_width(4).init::<B>(&device);
//! let images = Tensor::<NdArray, 4>::full([4, 3, 32, 32], 0.5, &device);
//! let labels = Tensor::<NdArray, 1, Int>::from_ints([0, 1, 2, 3], &device);
//!
//! let iaa = Iaa::new(IaaConfig::new().with_epsilon(0.03).with_steps(2));
//! let out = iaa.perturb(&model, images, labels.clone()).unwrap();
//!
//! let mut acc = CalibrationAccumulator::new(10, 15).unwrap();
//! acc.add_batch(out.logits, labels).unwrap();
//! let report = acc.report().unwrap();
//! println!("ACC {:.3} CONF {:.3} ECE {:.3} MCS {:+.3}", report.accuracy, report.confidence, report.ece, report.mcs);
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

pub mod attack;
pub mod backend;
pub mod checkpoint;
pub mod data;
mod error;
pub mod eval;
#[cfg(feature = "interop")]
#[cfg_attr(docsrs, doc(cfg(feature = "interop")))]
pub mod interop;
pub mod io;
#[cfg(feature = "learner")]
#[cfg_attr(docsrs, doc(cfg(feature = "learner")))]
pub mod learner;
pub mod metrics;
pub mod model;
pub mod report;
pub mod rng;
pub mod train;

pub use burn;
pub use error::{Error, Result};

/// The items most programs need: attacks, evaluation, calibration metrics, models, training
/// strategies and the trainer.
///
/// Made to be glob-imported beside Burn's prelude (`use burn::prelude::*; use
/// advcal::prelude::*;`): no name here clashes with one of Burn's (`Config`, `Module`, `Tensor`,
/// `Backend`, `Float`, ...).
///
/// ```
/// use advcal::prelude::*;
/// use burn::prelude::*;
///
/// let strategy = StrategyKind::parse("at-iat").unwrap();
/// assert_eq!(strategy, StrategyKind::AtIat);
/// let pgd = AttackConfig::from_spec("pgd:0.03", 10).unwrap();
/// assert_eq!(pgd.label(), "pgd@0.03");
/// let _iat = Iat::new(IatConfig::new().with_attack(IaaConfig::new().with_lambda(5.0)));
/// let x = Tensor::<burn::backend::NdArray, 1>::zeros([1], &Default::default());
/// assert_eq!(x.dims(), [1]);
/// ```
pub mod prelude {
    pub use crate::attack::{
        Attack, AttackConfig, AttackGoal, AttackOutput, Budget, Fgsm, FgsmConfig, Iaa, IaaConfig,
        Pgd, PgdConfig, SignGradient, SignGradientConfig, Uca, UcaConfig, UniformNoise,
        UniformNoiseConfig, run_epsilons,
    };
    pub use crate::eval::{Evaluation, EvaluationConfig, evaluate, evaluate_under};
    pub use crate::metrics::{CalibrationAccumulator, CalibrationReport};
    pub use crate::model::{
        Classifier, MobileNetV2, MobileNetV2Config, Mode, ResNet18, ResNet18Config, SmallCnn,
        SmallCnnConfig, Vgg19, Vgg19Config,
    };
    pub use crate::report::{RobustnessConfig, robustness_report};
    pub use crate::train::{
        AceAt, AceAtConfig, AtIat, AtIatConfig, Ccat, CcatConfig, Fit, Iat, IatConfig, PgdAt,
        PgdAtConfig, Plain, StrategyKind, TrainerConfig, TrainingStrategy,
    };
    pub use crate::{Error, Result};
}

/// The code blocks of the README, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
