//! Error type shared by every public entry point of the crate.

use std::path::PathBuf;

/// Everything that can go wrong in `advcal`, as a typed error.
///
/// Public functions validate their input and return one of these variants instead of
/// panicking inside Burn.
///
/// ```
/// use advcal::Error;
/// let err = Error::InvalidEpsilon(-0.1);
/// assert!(err.to_string().contains("epsilon"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// ε must be finite and lie in `[0, 1]` (the pixel scale).
    #[error("epsilon must be a finite value in [0, 1] on the pixel scale, got {0}")]
    InvalidEpsilon(f64),
    /// An iterative attack needs at least one step.
    #[error("the number of steps must be at least 1, got {0}")]
    InvalidSteps(usize),
    /// A step size must be finite and non-negative.
    #[error("step size must be finite and >= 0, got {0}")]
    InvalidStepSize(f64),
    /// The IAA weight λ must be finite and non-negative.
    #[error("lambda must be finite and >= 0, got {0}")]
    InvalidLambda(f64),
    /// A generic invalid hyper-parameter.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// A backend was asked for by name but is unknown or not compiled in.
    #[error("backend `{name}` is not available in this build (available: {available})")]
    BackendUnavailable {
        /// The requested name.
        name: String,
        /// Comma-separated names of the compiled-in backends.
        available: String,
    },
    /// The batch holds no sample (an image tensor with a zero dimension, or empty labels).
    #[error("the batch is empty")]
    EmptyBatch,
    /// There is nothing to compute a statistic from: a calibration accumulator or sample set to
    /// which no sample was added, or an empty data set.
    #[error("no samples: the metric or data set needs at least one sample")]
    NoSamples,
    /// Images and labels disagree on the batch size.
    #[error("batch size mismatch: {images} images but {labels} labels")]
    BatchSizeMismatch {
        /// Number of images.
        images: usize,
        /// Number of labels.
        labels: usize,
    },
    /// A training batch carries a different number of data-set indices than images
    /// ([`BatchContext::indices`](crate::train::BatchContext::indices)).
    #[error("index count mismatch: {images} images but {indices} data-set indices")]
    IndexCountMismatch {
        /// Number of data-set indices.
        indices: usize,
        /// Number of images.
        images: usize,
    },
    /// A label is outside `0..num_classes`.
    #[error("label {label} is out of range for {num_classes} classes")]
    LabelOutOfRange {
        /// The offending label.
        label: i64,
        /// Number of classes of the model or data set.
        num_classes: usize,
    },
    /// Images must be a 4-D `[N, C, H, W]` batch.
    #[error("images must have 4 dimensions [N, C, H, W], got shape {0:?}")]
    NotFourDimensional(Vec<usize>),
    /// The number of values does not match the declared shape.
    #[error("data length {len} does not match shape {shape:?}")]
    ShapeMismatch {
        /// Declared shape.
        shape: Vec<usize>,
        /// Actual number of elements.
        len: usize,
    },
    /// Pixels must lie in `[0, 1]` (and be finite).
    #[error("image values must be finite and in [0, 1], found range [{min}, {max}]")]
    PixelRange {
        /// Smallest value found.
        min: f64,
        /// Largest value found.
        max: f64,
    },
    /// The number of calibration bins must be at least 1.
    #[error("the number of bins must be at least 1")]
    InvalidBins,
    /// Probabilities or logits have malformed values (NaN or infinite, negative, outside
    /// `[0, 1]`); wrong lengths are [`Error::ShapeMismatch`], wrong class counts
    /// [`Error::ClassCountMismatch`].
    #[error("invalid probabilities or logits: {0}")]
    InvalidProbabilities(String),
    /// The model produced a non-finite loss.
    #[error("non-finite loss {value} at {context}")]
    NonFiniteLoss {
        /// The loss value.
        value: f64,
        /// Where it happened (epoch/step).
        context: String,
    },
    /// A step run inside burn-train's `Learner` failed (see `advcal::learner::StepFailures`).
    #[error("a step inside burn-train failed: {0}")]
    StepFailed(String),
    /// A model evaluated in [`Mode::Eval`](crate::model::Mode::Eval) on an autodiff backend
    /// behaves as in training: the output of an image depends on the rest of the batch (or is
    /// random). Stock `burn::nn::BatchNorm` and `Dropout` do this on every `Autodiff` backend.
    #[error(
        "the model runs in training behaviour although inference (Mode::Eval) was asked for: \
         the logits of one image change by {max_difference:.3e} with the rest of the batch. \
         Stock burn::nn::BatchNorm/Dropout always take their training branch on an Autodiff \
         backend; in Classifier::forward_mode call advcal::model::batch_norm(&self.bn, x, mode) \
         instead of self.bn.forward(x), and skip dropout when mode == Mode::Eval"
    )]
    TrainingBehaviourInEval {
        /// Largest absolute difference between the probe image's logits alone and in a batch.
        max_difference: f64,
    },
    /// A model evaluated for inference on an autodiff backend where it cannot be made to run
    /// in inference behaviour generically.
    #[error(
        "{function} evaluates an inference model, but got one on an autodiff backend, where \
         stock BatchNorm/Dropout run their training branch and would update the model: pass \
         `model.valid()` (the same model on the inner backend)"
    )]
    AutodiffModelForInference {
        /// The function that refused the model.
        function: &'static str,
    },
    /// Logits do not have the shape `[N, K]` for the number of classes `K` that was declared:
    /// a model's [`Classifier::num_classes`](crate::model::Classifier::num_classes), or the
    /// `num_classes` a [`CalibrationAccumulator`](crate::metrics::CalibrationAccumulator) was
    /// created with.
    #[error("{declared} classes were declared, but the logits have shape {logits:?}")]
    ClassCountMismatch {
        /// The declared number of classes.
        declared: usize,
        /// Shape of the logits it produced.
        logits: Vec<usize>,
    },
    /// The images do not have the number of channels the model expects.
    #[error("the model expects {expected} input channels, the images have {found}")]
    ChannelMismatch {
        /// [`Classifier::input_channels`](crate::model::Classifier::input_channels).
        expected: usize,
        /// Channels of the batch.
        found: usize,
    },
    /// The model's forward pass failed (panicked) on the given images, e.g. on a shape the
    /// model does not accept.
    #[error("the model's forward pass failed: {0}")]
    ModelForward(String),
    /// The autodiff backend returned no gradient for the input.
    #[error("no gradient was produced for the attacked input")]
    MissingGradient,
    /// A data file is malformed.
    #[error("malformed data in {path}: {reason}")]
    Data {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An image file could not be opened or decoded.
    #[error("cannot decode image {path}: {source}")]
    Image {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },
    /// An image decoded fine but does not have the size the data set prescribes (images that
    /// are not resized, e.g. Tiny ImageNet's 64×64).
    #[error("image {path} is {width}×{height}, expected {expected_width}×{expected_height}")]
    ImageSize {
        /// The file.
        path: PathBuf,
        /// Width of the decoded image.
        width: u32,
        /// Height of the decoded image.
        height: u32,
        /// Width the data set prescribes.
        expected_width: u32,
        /// Height the data set prescribes.
        expected_height: u32,
    },
    /// Tensor data could not be read back to the host as the requested element type (a
    /// backend returned data of an unexpected type).
    #[error("cannot convert tensor data: {0}")]
    TensorConversion(#[source] burn::tensor::DataError),
    /// A Burn record (model or optimizer state) could not be serialised to or deserialised from
    /// bytes by [`record_to_bytes`](crate::checkpoint::record_to_bytes) /
    /// [`record_from_bytes`](crate::checkpoint::record_from_bytes), which know no file; the
    /// functions that read or write a checkpoint file report [`Error::Checkpoint`] with its path
    /// instead.
    #[error("cannot {operation} record: {source}")]
    Record {
        /// `"serialise"` or `"decode"`.
        operation: &'static str,
        /// Burn's recorder error.
        #[source]
        source: burn::record::RecorderError,
    },
    /// A checkpoint is missing, truncated, or belongs to another architecture.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file or directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A weight file (PyTorch `.pt`/`.pth` or `.safetensors`, see `advcal::interop`, feature `interop`) does not
    /// fit the model: a tensor has the wrong shape or an unsupported dtype, a tensor of the model
    /// is missing from the file, or the file holds a tensor the model has no place for.
    ///
    /// `key` names the tensor: advcal's own parameter path (`blocks.2.shortcut.1.running_var`)
    /// when the problem is seen from the model (shape mismatch, missing tensor), the file's key
    /// (`layer2.0.shortcut.1.running_var`) when it is seen from the file (unexpected tensor,
    /// dtype). `reason` names the other side as well.
    #[error("weights {path}: `{key}`: {reason}")]
    Weights {
        /// The weight file.
        path: PathBuf,
        /// The tensor concerned (model path or file key, see above).
        key: String,
        /// What is wrong, with the expected and found shapes where they differ.
        reason: String,
    },
    /// A weight file could not be parsed or written: a malformed PyTorch archive or pickle, a
    /// malformed safetensors header, a failed write.
    #[error("weights file {path}: {source}")]
    WeightsFile {
        /// The weight file.
        path: PathBuf,
        /// The underlying error (from burn-store's readers and writers).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A weight layout (see `advcal::interop::WeightLayout`, feature `interop`) has no
    /// correspondence for this architecture, because the two networks differ in structure and
    /// not just in names.
    #[error("architecture `{architecture}` has no `{layout}` weight layout: {reason}")]
    UnsupportedLayout {
        /// The architecture name (`"vgg19"`, ...).
        architecture: String,
        /// The layout name (`"torchvision"`, ...).
        layout: String,
        /// Why the networks are incompatible.
        reason: String,
    },
    /// An I/O error, with the path it concerns.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON (de)serialisation error.
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
}

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn data(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Data {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::InvalidParameter`] — for custom attacks and strategies that validate their
    /// own settings.
    ///
    /// ```
    /// let e = advcal::Error::param("momentum", "must be in [0, 1)");
    /// assert_eq!(e.to_string(), "invalid parameter `momentum`: must be in [0, 1)");
    /// ```
    pub fn param(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }
}

/// Validates ε: finite and within `[0, 1]`.
pub(crate) fn check_epsilon(eps: f32) -> Result<()> {
    if eps.is_finite() && (0.0..=1.0).contains(&eps) {
        Ok(())
    } else {
        Err(Error::InvalidEpsilon(eps as f64))
    }
}

/// Validates an iteration count.
pub(crate) fn check_steps(steps: usize) -> Result<()> {
    if steps == 0 {
        Err(Error::InvalidSteps(steps))
    } else {
        Ok(())
    }
}
