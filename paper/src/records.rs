//! The result schema shared by every experiment, with the invariants each file must satisfy.

use advcal::Result;
use advcal::eval::Evaluation;
use advcal::metrics::{CalibrationReport, ConfidenceIntervals};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One (model, attack, ε) measurement. `attack` is `clean` for unattacked images.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Evaluated model (for Table 3: the target model).
    pub model: String,
    /// Table 3 only: the model the IAEs were crafted on (the "threat" model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub attack: String,
    pub epsilon: f32,
    pub lambda: Option<f32>,
    pub accuracy: f64,
    pub confidence: f64,
    pub ece: f64,
    pub mcs: f64,
    pub n: usize,
    /// Mean probability of the true class.
    pub gt_confidence: f64,
    /// CONF over the correctly classified images only (`null` when none is): what IAA's
    /// analytic optimum y_G(λ) predicts.
    #[serde(default)]
    pub correct_confidence: Option<f64>,
    /// ECE split: overconfident and underconfident bin contributions.
    pub over: f64,
    pub under: f64,
    /// Largest ‖x_adv − x‖∞ over the evaluated images (0 for clean).
    pub max_linf: f64,
    /// 95 % percentile-bootstrap intervals over the images (seeded: `--seed`), for ACC, CONF,
    /// ECE, MCS (and GT-CONF, CONF | correct), with the level and number of resamples.
    pub ci95: Option<ConfidenceIntervals>,
    /// Mean negative log-likelihood of the true class (records measured since the calibration
    /// baselines; absent from older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nll: Option<f64>,
    /// Mean Brier score (as `nll`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brier: Option<f64>,
    /// Training seed of the model, on the records of experiments that train several seeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Temperature of a temperature-scaled model (fitted on held-out images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// AT+IAT's PGD weight `w` in the two-sided sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f32>,
}

impl Record {
    fn from_report(model: &str, attack: &str, epsilon: f32, r: &CalibrationReport) -> Self {
        Self {
            model: model.into(),
            source: None,
            attack: attack.into(),
            epsilon,
            lambda: None,
            accuracy: r.accuracy,
            confidence: r.confidence,
            ece: r.ece,
            mcs: r.mcs,
            n: r.n,
            gt_confidence: r.gt_confidence,
            correct_confidence: r.correct_confidence,
            over: r.over,
            under: r.under,
            max_linf: 0.0,
            ci95: None,
            nll: Some(r.nll),
            brier: Some(r.brier),
            seed: None,
            temperature: None,
            weight: None,
        }
    }

    /// The record of an [`Evaluation`] (clean or attacked), intervals included.
    pub fn evaluated(model: &str, e: &Evaluation, lambda: Option<f32>) -> Self {
        Self {
            lambda,
            max_linf: e.max_linf,
            ci95: e.ci95,
            ..Self::from_report(model, &e.attack, e.epsilon, &e.report)
        }
    }

    /// The same record with bootstrap intervals.
    pub fn with_ci(self, ci95: ConfidenceIntervals) -> Self {
        Self {
            ci95: Some(ci95),
            ..self
        }
    }

    pub fn clean(model: &str, r: &CalibrationReport) -> Self {
        Self::from_report(model, "clean", 0.0, r)
    }

    /// A Table 3 cell: `attack`'s IAEs crafted on `source`, evaluated on `target`.
    pub fn transfer(
        source: &str,
        target: &str,
        attack: &str,
        epsilon: f32,
        r: &CalibrationReport,
        max_linf: f64,
    ) -> Self {
        Self {
            source: Some(source.into()),
            lambda: Some(5.0),
            max_linf,
            ..Self::from_report(target, attack, epsilon, r)
        }
    }

    /// Whether this record measures `key` (same model, training seed, temperature, source,
    /// attack, ε, λ and n).
    fn measures(&self, key: &Key<'_>) -> bool {
        self.model == key.model
            && self.seed == key.seed
            && self.temperature == key.temperature
            && self.source.as_deref() == key.source
            && self.attack == key.attack
            && self.epsilon == key.epsilon
            && self.lambda == key.lambda
            && self.n == key.n
    }

    /// The invariants every record must satisfy; CI checks them again on the written JSON.
    fn check(&self) -> std::result::Result<(), String> {
        let values = [
            self.accuracy,
            self.confidence,
            self.ece,
            self.mcs,
            self.gt_confidence,
            self.over,
            self.under,
            self.max_linf,
        ];
        if values.iter().any(|v| !v.is_finite()) {
            return Err("non-finite value".into());
        }
        if (self.mcs - (self.confidence - self.accuracy)).abs() > 1e-6 {
            return Err(format!("MCS {} != CONF − ACC", self.mcs));
        }
        if self.max_linf > self.epsilon as f64 + 1e-6 {
            return Err(format!(
                "‖δ‖∞ = {} exceeds ε = {}",
                self.max_linf, self.epsilon
            ));
        }
        if self.n == 0 || !(0.0..=1.0).contains(&self.accuracy) {
            return Err("empty or out-of-range record".into());
        }
        let Some(ci) = &self.ci95 else {
            return Err("no bootstrap intervals".into());
        };
        let correct = match (self.correct_confidence, ci.correct_confidence) {
            (Some(c), Some(interval)) => Some(("correct_confidence", interval, c)),
            (None, None) => None,
            _ => return Err("CONF | correct without its interval, or the reverse".into()),
        };
        if self
            .correct_confidence
            .is_some_and(|c| !(0.0..=1.0).contains(&c))
        {
            return Err("CONF | correct outside [0, 1]".into());
        }
        for (name, [lo, hi], point) in [
            ("accuracy", ci.accuracy, self.accuracy),
            ("confidence", ci.confidence, self.confidence),
            ("mcs", ci.mcs, self.mcs),
        ]
        .into_iter()
        .chain(correct)
        {
            if !(lo <= hi && lo - 1e-9 <= point && point <= hi + 1e-9) {
                return Err(format!("{name} {point} outside its interval [{lo}, {hi}]"));
            }
        }
        Ok(())
    }
}

/// Checks every record, then writes `<stem>.json` and `<stem>.md` atomically.
pub fn finish(stem: PathBuf, records: &[Record]) -> Result<()> {
    for r in records {
        r.check().map_err(|reason| {
            advcal::Error::param(
                "record",
                format!("{} / {} / ε={}: {reason}", r.model, r.attack, r.epsilon),
            )
        })?;
    }
    advcal::io::write_json_atomic(stem.with_extension("json"), records)?;
    let mut md = String::from(
        "| model | source | attack | ε | λ | ACC | CONF | ECE | MCS | GT-CONF | n | ACC 95 % | MCS 95 % |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in records {
        md.push_str(&format!(
            "| {} | {} | {} | {:.2} | {} | {:.4} | {:.4} | {:.4} | {:+.4} | {:.4} | {} | {} | {} |\n",
            model_cell(r),
            r.source.as_deref().unwrap_or(""),
            r.attack,
            r.epsilon,
            r.lambda.map(|l| format!("{l}")).unwrap_or_default(),
            r.accuracy,
            r.confidence,
            r.ece,
            r.mcs,
            r.gt_confidence,
            r.n,
            r.ci95
                .map(|c| format!("[{:.4}, {:.4}]", c.accuracy[0], c.accuracy[1]))
                .unwrap_or_default(),
            r.ci95
                .map(|c| format!("[{:+.4}, {:+.4}]", c.mcs[0], c.mcs[1]))
                .unwrap_or_default(),
        ));
    }
    advcal::io::write_atomic(stem.with_extension("md"), md.as_bytes())?;
    eprintln!("wrote {}", stem.with_extension("json").display());
    Ok(())
}

/// The model column of the Markdown tables: the label, with the training seed, the temperature
/// and AT+IAT's PGD weight where the record has them.
fn model_cell(r: &Record) -> String {
    let mut extra = Vec::new();
    if let Some(s) = r.seed {
        extra.push(format!("seed {s}"));
    }
    if let Some(t) = r.temperature {
        extra.push(format!("T = {t:.3}"));
    }
    if let Some(w) = r.weight {
        extra.push(format!("w = {w}"));
    }
    if extra.is_empty() {
        r.model.clone()
    } else {
        format!("{} ({})", r.model, extra.join(", "))
    }
}

/// What a record measures: the identity under which [`RecordStore`] finds it again.
pub struct Key<'a> {
    pub model: &'a str,
    /// Training seed, for experiments that train several (`None` elsewhere).
    pub seed: Option<u64>,
    /// Temperature of a temperature-scaled model (`None` elsewhere): a record of another
    /// temperature is another model.
    pub temperature: Option<f64>,
    pub source: Option<&'a str>,
    pub attack: &'a str,
    pub epsilon: f32,
    pub lambda: Option<f32>,
    /// Number of evaluated images.
    pub n: usize,
}

/// Adds the records of the journal at `path` measured under `context` to `known` (a missing
/// journal adds none; unreadable lines, such as a line torn by a killed run, are skipped);
/// returns whether its last line lacks its newline.
fn read_journal(path: &Path, context: &str, known: &mut Vec<Record>) -> Result<bool> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            known.extend(
                text.lines()
                    .filter_map(|l| serde_json::from_str::<JournalLine>(l).ok())
                    .filter(|l| l.context == context)
                    .map(|l| l.record),
            );
            Ok(!text.is_empty() && !text.ends_with('\n'))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(advcal::Error::io(path, e)),
    }
}

/// One line of the journal: a finished record and the run settings it was measured under.
#[derive(Serialize, Deserialize)]
struct JournalLine {
    context: String,
    record: Record,
}

/// Records already measured, so that an interrupted or extended experiment measures only what
/// it lacks: every record the run finishes is appended to `<out>/journal.jsonl` (with the
/// preset, seed and attack steps as its context) and found there again by the next run of the
/// same settings; `--reuse DIR` adds the records of `DIR/*.json` and `DIR/journal.jsonl` (e.g.
/// the committed results, to add the Eq. 2 IAA rows beside them without re-measuring the rest,
/// and a committed journal of a run still under way). A reused record is the
/// same measurement only for the same models: delete the journal after retraining a model.
pub struct RecordStore {
    known: Vec<Record>,
    journal: PathBuf,
    context: String,
    /// The journal's last line lacks its newline (a run killed while writing).
    torn: bool,
    /// Records found by [`RecordStore::get`] and stored by [`RecordStore::put`] so far.
    pub reused: usize,
    pub measured: usize,
}

impl RecordStore {
    /// Opens `<out>/journal.jsonl` (lines of another `context` or unreadable lines are
    /// ignored) and reads the record lists `DIR/<stem>.json` of `reuse` whose stem `files`
    /// accepts (records do not name their dataset: Table 2's are kept apart).
    pub fn open(
        out: &Path,
        context: String,
        reuse: &[PathBuf],
        files: impl Fn(&str) -> bool,
    ) -> Result<Self> {
        std::fs::create_dir_all(out).map_err(|e| advcal::Error::io(out, e))?;
        let journal = out.join("journal.jsonl");
        let mut known = Vec::new();
        let torn = read_journal(&journal, &context, &mut known)?;
        for dir in reuse {
            read_journal(&dir.join("journal.jsonl"), &context, &mut known)?;
            let entries = std::fs::read_dir(dir).map_err(|e| advcal::Error::io(dir, e))?;
            for entry in entries {
                let path = entry.map_err(|e| advcal::Error::io(dir, e))?.path();
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                if path.extension().is_some_and(|e| e == "json") && files(stem) {
                    let text =
                        std::fs::read_to_string(&path).map_err(|e| advcal::Error::io(&path, e))?;
                    // Files that are not record lists (derived numbers, the gallery) are skipped.
                    if let Ok(records) = serde_json::from_str::<Vec<Record>>(&text) {
                        known.extend(records);
                    }
                }
            }
        }
        Ok(Self {
            known,
            journal,
            context,
            torn,
            reused: 0,
            measured: 0,
        })
    }

    /// The record measuring `key`, when one is known.
    pub fn get(&mut self, key: &Key<'_>) -> Option<Record> {
        let found = self.known.iter().find(|r| r.measures(key)).cloned();
        self.reused += usize::from(found.is_some());
        found
    }

    /// Keeps `record` and appends it to the journal (flushed before returning).
    pub fn put(&mut self, record: &Record) -> Result<()> {
        let mut line = if self.torn {
            "\n".to_owned()
        } else {
            String::new()
        };
        let entry = JournalLine {
            context: self.context.clone(),
            record: record.clone(),
        };
        line.push_str(
            &serde_json::to_string(&entry)
                .map_err(|e| advcal::Error::param("journal", e.to_string()))?,
        );
        line.push('\n');
        let io = |e| advcal::Error::io(&self.journal, e);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.journal)
            .map_err(io)?;
        file.write_all(line.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)?;
        self.torn = false;
        self.measured += 1;
        self.known.push(record.clone());
        Ok(())
    }
}
