//! The streaming evaluation behind [`robustness_report`]: one pass over the data, every attack
//! at every radius, per-row accumulators and the per-image worst case.

use super::*;

impl ReportRow {
    fn from_cell(
        attack: impl Into<String>,
        epsilon: f32,
        cell: Cell,
        bootstrap: &BootstrapConfig,
        sources: Option<BTreeMap<String, usize>>,
    ) -> Result<Self> {
        let report = cell.acc.report()?;
        let ci95 = cell.samples.bootstrap(bootstrap)?;
        Ok(Self {
            attack: attack.into(),
            epsilon,
            accuracy: report.accuracy,
            confidence: report.confidence,
            ece: report.ece,
            mcs: report.mcs,
            n: report.n,
            max_linf: cell.max_linf,
            ci95,
            sources,
            report,
            samples: cell.samples,
        })
    }
}

/// Streaming statistics of one row.
struct Cell {
    acc: CalibrationAccumulator,
    samples: CalibrationSamples,
    max_linf: f64,
}

impl Cell {
    fn new(num_classes: usize, bins: usize, n: usize) -> Result<Self> {
        Ok(Self {
            acc: CalibrationAccumulator::new(num_classes, bins)?,
            samples: CalibrationSamples::with_capacity(n),
            max_linf: 0.0,
        })
    }

    /// Adds a batch of host logits; returns the per-image gaps `|confidence − correctness|` and
    /// correctness.
    fn add(
        &mut self,
        logits: &[f32],
        num_classes: usize,
        labels: &[usize],
        linf: &[f64],
    ) -> Result<(Vec<f64>, Vec<bool>)> {
        let start = self.samples.len();
        self.samples
            .extend_from_logits(logits, num_classes, labels)?;
        self.acc.add_logits_slice(logits, labels)?;
        self.max_linf = linf.iter().fold(self.max_linf, |m, &v| m.max(v));
        let confidences = &self.samples.confidences()[start..];
        let correct = &self.samples.correct()[start..];
        let gaps = confidences
            .iter()
            .zip(correct)
            .map(|(&c, &ok)| (c - if ok { 1.0 } else { 0.0 }).abs())
            .collect();
        Ok((gaps, correct.to_vec()))
    }
}

/// Reads `[n, k]` logits to the host (one read), checking their shape.
fn host_logits<B: Backend>(logits: Tensor<B, 2>, n: usize, k: usize) -> Result<Vec<f32>> {
    let [rows, cols] = logits.dims();
    if rows != n || cols != k {
        return Err(Error::ClassCountMismatch {
            declared: k,
            logits: vec![rows, cols],
        });
    }
    logits
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .map_err(Error::TensorConversion)
}

/// One attack's outcome on a batch, on the host: logits `[n·k]`, per-image L∞ and correctness.
type Outcome = (Vec<f32>, Vec<f64>, Vec<bool>);

/// The logits and L∞ of the candidate `source[j]` (0 = clean, `a + 1` = attack `a`) per image.
fn pick_rows(
    source: &[usize],
    clean_z: &[f32],
    outcomes: &[Outcome],
    k: usize,
) -> (Vec<f32>, Vec<f64>) {
    let mut z = Vec::with_capacity(source.len() * k);
    let mut linf = Vec::with_capacity(source.len());
    for (j, &s) in source.iter().enumerate() {
        let (from, l) = match s {
            0 => (clean_z, 0.0),
            a => (outcomes[a - 1].0.as_slice(), outcomes[a - 1].1[j]),
        };
        z.extend_from_slice(&from[j * k..(j + 1) * k]);
        linf.push(l);
    }
    (z, linf)
}

/// `‖x_adv − x‖∞` of every image of the batch (one read).
fn per_image_linf<B: Backend>(perturbation: Tensor<B, 4>) -> Result<Vec<f64>> {
    perturbation
        .abs()
        .flatten::<2>(1, 3)
        .max_dim(1)
        .into_data()
        .convert::<f64>()
        .into_vec::<f64>()
        .map_err(Error::TensorConversion)
}

fn progress_bar(enabled: bool, units: usize) -> Option<indicatif::ProgressBar> {
    if !enabled || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return None;
    }
    let bar = indicatif::ProgressBar::new(units as u64);
    let style = indicatif::ProgressStyle::with_template(
        "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix("robustness");
    Some(bar)
}

/// Calibration of `model` on `data`, clean and under every attack of `config` at every radius,
/// plus the per-image worst case per radius, with bootstrap intervals (see the
/// [module docs](crate::report)).
///
/// Streams over the data **once**, in batches of `config.batch_size` in data-set order: per
/// batch, the clean logits come from the inference copy `model.valid()` (as
/// [`evaluate`](crate::eval::evaluate)), then every attack runs at every ε on the
/// autodiff model with seed `derive_seed(attack seed, batch index)` (as
/// [`evaluate_under`](crate::eval::evaluate_under)). The model is not modified. Memory grows
/// with 33 bytes per image and row (the per-image data of the intervals).
///
/// # Errors
/// [`RobustnessConfig::validate`]'s errors; [`Error::NoSamples`] for an empty data set;
/// [`Error::InvalidParameter`] when the data has more classes than the model;
/// [`Error::ChannelMismatch`]; [`Error::ClassCountMismatch`] when the model's logits are not
/// `[N, num_classes()]`; the attacks' errors (e.g. [`Error::PixelRange`]).
///
/// ```
/// use advcal::data::ImageDataset;
/// use advcal::metrics::BootstrapConfig;
/// use advcal::model::SmallCnnConfig;
/// use advcal::report::{robustness_report, ReportAttack, RobustnessConfig};
/// use burn::backend::{Autodiff, NdArray};
///
/// let device = Default::default();
/// let model = SmallCnnConfig::new().with_width(2).init::<Autodiff<NdArray>>(&device);
/// let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
/// let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
/// let config = RobustnessConfig::new()
///     .with_epsilons(vec![0.03])
///     .with_steps(1)
///     .with_attacks(vec![ReportAttack::Pgd, ReportAttack::Iaa])
///     .with_progress(false)
///     .with_bootstrap(BootstrapConfig::new().with_resamples(20));
/// let report = robustness_report(&model, &data, &config, &device).unwrap();
/// assert_eq!(report.rows.len(), 4); // pgd, iaa, robust, worst
/// let worst = report.row("worst", 0.03).unwrap();
/// assert!(worst.ci95.ece[0] <= worst.ci95.ece[1]);
/// ```
pub fn robustness_report<B, M>(
    model: &M,
    data: &ImageDataset,
    config: &RobustnessConfig,
    device: &B::Device,
) -> Result<RobustnessReport>
where
    B: AutodiffBackend,
    M: Classifier<B> + AutodiffModule<B>,
    M::InnerModule: Classifier<B::InnerBackend>,
{
    config.validate()?;
    let limited;
    let data = match config.limit {
        Some(n) if n < data.len() => {
            limited = data.take(n);
            &limited
        }
        _ => data,
    };
    if data.is_empty() {
        return Err(Error::NoSamples);
    }
    let k = model.num_classes();
    if data.num_classes() > k {
        return Err(Error::param(
            "data",
            format!(
                "data set has {} classes, model only {k}",
                data.num_classes()
            ),
        ));
    }
    if let Some(expected) = model.input_channels() {
        let found = data.image_shape()[0];
        if found != expected {
            return Err(Error::ChannelMismatch { expected, found });
        }
    }

    let (n, bins) = (data.len(), config.bins);
    let attacks: Vec<Vec<AttackConfig>> = config
        .epsilons
        .iter()
        .map(|&eps| {
            config
                .attacks
                .iter()
                .map(|&a| config.attack_config(a, eps))
                .collect()
        })
        .collect();
    let mut clean = Cell::new(k, bins, n)?;
    let mut attacked = Vec::with_capacity(attacks.len());
    let mut worst = Vec::with_capacity(attacks.len());
    let mut robust = Vec::with_capacity(attacks.len());
    let has_robust = config.attacks.iter().any(ReportAttack::misclassifies);
    for row in &attacks {
        attacked.push(
            row.iter()
                .map(|_| Cell::new(k, bins, n))
                .collect::<Result<Vec<_>>>()?,
        );
        worst.push(Cell::new(k, bins, n)?);
        robust.push(Cell::new(k, bins, n)?);
    }
    let mut checks = checks::Checks::default();
    // The white-box misclassification attacks and Square, for the Square check.
    let white_box: Vec<usize> = (0..config.attacks.len())
        .filter(|&a| {
            matches!(
                config.attacks[a],
                ReportAttack::Pgd | ReportAttack::ApgdCe | ReportAttack::ApgdDlr
            )
        })
        .collect();
    let square = config
        .attacks
        .iter()
        .position(|a| *a == ReportAttack::Square);
    // Per ε: how many images each candidate (0 = clean, 1.. = the attacks) supplied.
    let mut source_counts = vec![vec![0usize; config.attacks.len() + 1]; attacks.len()];

    let inference = model.valid();
    let batches = data.batches(config.batch_size, None, None)?;
    let bar = progress_bar(
        config.progress,
        batches.len() * config.epsilons.len() * config.attacks.len(),
    );
    for (i, batch) in batches.enumerate() {
        let rows = batch.len();
        let (x, y) = batch.to_tensors::<B::InnerBackend>(device);
        let clean_z = host_logits(inference.forward_mode(x.clone(), Mode::Eval), rows, k)?;
        let (clean_gap, clean_right) = clean.add(&clean_z, k, &batch.labels, &vec![0.0; rows])?;
        checks.batch::<B, M>(model, &inference, x.clone(), y.clone(), i == 0)?;

        for (e, &eps) in config.epsilons.iter().enumerate() {
            let mut best_gap = clean_gap.clone();
            let mut best_source = vec![0usize; rows];
            // The `robust` row: per image, a wrong prediction beats a right one, then the
            // larger gap; among the clean image and the misclassification attacks.
            let mut robust_key: Vec<(bool, f64)> = clean_right
                .iter()
                .zip(&clean_gap)
                .map(|(&ok, &g)| (!ok, g))
                .collect();
            let mut robust_source = vec![0usize; rows];
            let mut outcomes: Vec<Outcome> = Vec::with_capacity(attacks[e].len());
            for (a, attack) in attacks[e].iter().enumerate() {
                if let Some(bar) = &bar {
                    bar.set_message(format!("{}@{eps}", AttackConfig::name(attack)));
                }
                let budget = attack.budget();
                let budget = budget.at(eps).with_seed(derive_seed(budget.seed, i as u64));
                let out =
                    Attack::<B, M>::perturb_under(attack, model, x.clone(), y.clone(), budget)?;
                let linf = per_image_linf(out.perturbation)?;
                let z = host_logits(out.logits, rows, k)?;
                let (gap, right) = attacked[e][a].add(&z, k, &batch.labels, &linf)?;
                if config.attacks[a].misclassifies() {
                    for j in 0..rows {
                        let key = (!right[j], gap[j]);
                        // (wrong, gap) in lexicographic order.
                        if key > robust_key[j] {
                            robust_key[j] = key;
                            robust_source[j] = a + 1;
                        }
                    }
                }
                for (j, g) in gap.into_iter().enumerate() {
                    if g > best_gap[j] {
                        best_gap[j] = g;
                        best_source[j] = a + 1;
                    }
                }
                outcomes.push((z, linf, right));
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
            }
            // AutoAttack's Square check: does Square fool images every white-box attack missed?
            if let Some(sq) = square
                && !white_box.is_empty()
            {
                let mut white_right = clean_right.clone();
                for &a in &white_box {
                    for (w, &ok) in white_right.iter_mut().zip(&outcomes[a].2) {
                        *w &= ok;
                    }
                }
                checks.square(e, &white_right, &outcomes[sq].2);
            }
            for &source in &best_source {
                source_counts[e][source] += 1;
            }
            let (worst_z, worst_linf) = pick_rows(&best_source, &clean_z, &outcomes, k);
            worst[e].add(&worst_z, k, &batch.labels, &worst_linf)?;
            if has_robust {
                let (z, linf) = pick_rows(&robust_source, &clean_z, &outcomes, k);
                robust[e].add(&z, k, &batch.labels, &linf)?;
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    let bootstrap = config.bootstrap_config();
    let clean = ReportRow::from_cell("clean", 0.0, clean, &bootstrap, None)?;
    let mut rows = Vec::with_capacity(attacks.len() * (config.attacks.len() + 1));
    for ((((&eps, cells), worst_cell), robust_cell), counts) in config
        .epsilons
        .iter()
        .zip(attacked)
        .zip(worst)
        .zip(robust)
        .zip(source_counts)
    {
        for (&attack, cell) in config.attacks.iter().zip(cells) {
            rows.push(ReportRow::from_cell(
                attack.name(),
                eps,
                cell,
                &bootstrap,
                None,
            )?);
        }
        if has_robust {
            rows.push(ReportRow::from_cell(
                "robust",
                eps,
                robust_cell,
                &bootstrap,
                None,
            )?);
        }
        let sources = std::iter::once("clean")
            .chain(config.attacks.iter().map(|a| a.name()))
            .zip(counts)
            .map(|(name, count)| (name.to_string(), count))
            .collect();
        rows.push(ReportRow::from_cell(
            "worst",
            eps,
            worst_cell,
            &bootstrap,
            Some(sources),
        )?);
    }
    let warnings = checks.warnings(config);
    Ok(RobustnessReport {
        n,
        num_classes: k,
        clean,
        rows,
        config: config.clone(),
        warnings,
    })
}
