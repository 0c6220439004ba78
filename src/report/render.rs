//! The report rendered for people: a Markdown table and SVG reliability diagrams.

use super::RobustnessReport;
use std::fmt::Write as _;

/// Colours (Okabe–Ito, colour-blind safe, no yellow), dash patterns and markers of the
/// reliability diagram's series.
const SERIES: [(&str, &str, &str, &str); 3] = [
    ("clean", "#000000", "", "circle"),
    ("pgd", "#D55E00", "7 4", "square"),
    ("iaa", "#0072B2", "10 3 2 3", "triangle"),
];

impl RobustnessReport {
    /// The report as a Markdown table: attack, ε, ACC, CONF, ECE and MCS each with its
    /// bootstrap interval in brackets, n and the largest L∞ perturbation; a legend follows.
    ///
    /// ```
    /// # use advcal::data::ImageDataset;
    /// # use advcal::metrics::BootstrapConfig;
    /// # use advcal::model::SmallCnnConfig;
    /// # use advcal::report::{robustness_report, RobustnessConfig};
    /// # use burn::backend::{Autodiff, NdArray};
    /// # let device = Default::default();
    /// # let model = SmallCnnConfig::new().with_width(2).init::<Autodiff<NdArray>>(&device);
    /// # let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
    /// # let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
    /// # let config = RobustnessConfig::new().with_epsilons(vec![0.03]).with_steps(1)
    /// #     .with_progress(false).with_bootstrap(BootstrapConfig::new().with_resamples(20));
    /// let report = robustness_report(&model, &data, &config, &device).unwrap();
    /// let md = report.to_markdown();
    /// assert!(md.starts_with("| attack | ε |"));
    /// assert!(md.contains("| worst | 0.03 |"));
    /// ```
    pub fn to_markdown(&self) -> String {
        let level = self.clean.ci95.level * 100.0;
        let mut s = String::new();
        s.push_str("| attack | ε | ACC | CONF | ECE | MCS | n | max L∞ |\n");
        s.push_str("|---|---:|---|---|---|---|---:|---:|\n");
        for r in std::iter::once(&self.clean).chain(&self.rows) {
            let ci = &r.ci95;
            let _ = writeln!(
                s,
                "| {} | {} | {:.4} [{:.4}, {:.4}] | {:.4} [{:.4}, {:.4}] | {:.4} [{:.4}, {:.4}] | {:+.4} [{:+.4}, {:+.4}] | {} | {:.4} |",
                r.attack,
                r.epsilon,
                r.accuracy,
                ci.accuracy[0],
                ci.accuracy[1],
                r.confidence,
                ci.confidence[0],
                ci.confidence[1],
                r.ece,
                ci.ece[0],
                ci.ece[1],
                r.mcs,
                ci.mcs[0],
                ci.mcs[1],
                r.n,
                r.max_linf,
            );
        }
        let _ = write!(
            s,
            "\nN = {} images, {} bins; brackets: {level:.0}% percentile-bootstrap intervals over \
             images ({} resamples, seed {}). MCS = CONF − ACC: > 0 overconfident, < 0 \
             underconfident. PGD probes overconfidence, IAA and UCA underconfidence (UCA never \
             changes a prediction). `robust`: per image, a misclassifying input if any \
             misclassification attack (PGD, APGD, Square, noise) found one (AutoAttack's robust \
             accuracy). `worst`: per image, the input (clean or any attack at that ε) whose \
             confidence is furthest from its correctness — the calibration an adversary can \
             force.\n",
            self.n, self.config.bins, self.clean.ci95.resamples, self.config.bootstrap.seed,
        );
        for w in &self.warnings {
            let _ = writeln!(s, "\n**Warning:** {w}.");
        }
        s
    }

    /// A reliability diagram at radius `epsilon` as a standalone SVG document: accuracy per
    /// confidence bin as step lines (with a marker at each bin's mean confidence) for the clean
    /// images and, where the report has them, PGD and IAA at `epsilon`, over the diagonal of
    /// perfect calibration. Series differ in colour (Okabe–Ito black, vermillion, blue), dash
    /// pattern and marker; the legend, with each series' ECE and MCS, sits right of the plot.
    /// A series the report lacks (an ε not in the config, an attack left out) is omitted.
    ///
    /// ```
    /// # use advcal::data::ImageDataset;
    /// # use advcal::metrics::BootstrapConfig;
    /// # use advcal::model::SmallCnnConfig;
    /// # use advcal::report::{robustness_report, RobustnessConfig};
    /// # use burn::backend::{Autodiff, NdArray};
    /// # let device = Default::default();
    /// # let model = SmallCnnConfig::new().with_width(2).init::<Autodiff<NdArray>>(&device);
    /// # let pixels = (0..4 * 3 * 8 * 8).map(|i| (i * 7 % 256) as u8).collect();
    /// # let data = ImageDataset::new(pixels, vec![0, 1, 2, 3], [3, 8, 8], 10).unwrap();
    /// # let config = RobustnessConfig::new().with_epsilons(vec![0.03]).with_steps(1)
    /// #     .with_progress(false).with_bootstrap(BootstrapConfig::new().with_resamples(20));
    /// let report = robustness_report(&model, &data, &config, &device).unwrap();
    /// let svg = report.reliability_svg(0.03);
    /// assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    /// assert!(svg.contains("PGD") && svg.contains("IAA"));
    /// ```
    pub fn reliability_svg(&self, epsilon: f32) -> String {
        // Layout: a square data area with the legend to its right, outside it.
        const W: f64 = 680.0;
        const H: f64 = 440.0;
        const LEFT: f64 = 64.0;
        const TOP: f64 = 44.0;
        const SIZE: f64 = 340.0;
        const LEGEND_X: f64 = LEFT + SIZE + 28.0;
        let x = |v: f64| LEFT + v.clamp(0.0, 1.0) * SIZE;
        let y = |v: f64| TOP + (1.0 - v.clamp(0.0, 1.0)) * SIZE;
        let font = "font-family=\"Helvetica, Arial, sans-serif\"";

        let mut s = String::new();
        let _ = writeln!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\">"
        );
        let _ = writeln!(
            s,
            "<title>Reliability diagram at epsilon = {epsilon} (N = {})</title>",
            self.n
        );
        let _ = writeln!(s, "<rect width=\"{W}\" height=\"{H}\" fill=\"#ffffff\"/>");
        let _ = writeln!(
            s,
            "<text x=\"{LEFT}\" y=\"24\" {font} font-size=\"15\" fill=\"#000000\">Reliability at ε = {epsilon} (N = {})</text>",
            self.n
        );
        // Grid, ticks and tick labels.
        for i in 0..=5 {
            let v = i as f64 / 5.0;
            let _ = writeln!(
                s,
                "<line x1=\"{:.1}\" y1=\"{TOP}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#e6e6e6\"/>",
                x(v),
                x(v),
                TOP + SIZE
            );
            let _ = writeln!(
                s,
                "<line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#e6e6e6\"/>",
                y(v),
                LEFT + SIZE,
                y(v)
            );
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" {font} font-size=\"11\" text-anchor=\"middle\" fill=\"#333333\">{v:.1}</text>",
                x(v),
                TOP + SIZE + 16.0
            );
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" {font} font-size=\"11\" text-anchor=\"end\" fill=\"#333333\">{v:.1}</text>",
                LEFT - 6.0,
                y(v) + 4.0
            );
        }
        let _ = writeln!(
            s,
            "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{SIZE}\" height=\"{SIZE}\" fill=\"none\" stroke=\"#333333\"/>"
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" {font} font-size=\"12\" text-anchor=\"middle\" fill=\"#000000\">confidence (max softmax probability)</text>",
            LEFT + SIZE / 2.0,
            TOP + SIZE + 36.0
        );
        let _ = writeln!(
            s,
            "<text transform=\"translate({:.1} {:.1}) rotate(-90)\" {font} font-size=\"12\" text-anchor=\"middle\" fill=\"#000000\">accuracy</text>",
            LEFT - 40.0,
            TOP + SIZE / 2.0
        );
        // Perfect calibration.
        let _ = writeln!(
            s,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999999\" stroke-width=\"1.5\" stroke-dasharray=\"3 3\"/>",
            x(0.0),
            y(0.0),
            x(1.0),
            y(1.0)
        );

        let mut legend: Vec<(String, &str, &str, &str)> = Vec::new();
        for (name, colour, dash, marker) in SERIES {
            let Some(row) = self.row(name, epsilon) else {
                continue;
            };
            let dash_attr = if dash.is_empty() {
                String::new()
            } else {
                format!(" stroke-dasharray=\"{dash}\"")
            };
            // Step line: a horizontal segment over each non-empty bin, joined vertically to the
            // next bin when it is non-empty too.
            let mut path = String::new();
            let mut open = false;
            for bin in &row.report.bins {
                match bin.accuracy {
                    Some(acc) => {
                        if open {
                            let _ = write!(path, " V{:.2}", y(acc));
                        } else {
                            let _ = write!(path, " M{:.2} {:.2}", x(bin.lower), y(acc));
                        }
                        let _ = write!(path, " H{:.2}", x(bin.upper));
                        open = true;
                    }
                    None => open = false,
                }
            }
            if !path.is_empty() {
                let _ = writeln!(
                    s,
                    "<path d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash_attr}/>",
                    path.trim_start()
                );
            }
            for bin in &row.report.bins {
                if let (Some(acc), Some(conf)) = (bin.accuracy, bin.confidence) {
                    s.push_str(&marker_svg(marker, x(conf), y(acc), colour));
                }
            }
            let label = match name {
                "clean" => "clean".to_string(),
                other => other.to_uppercase(),
            };
            legend.push((
                format!("{label}: ECE {:.3}, MCS {:+.3}", row.ece, row.mcs),
                colour,
                dash,
                marker,
            ));
        }
        legend.push(("perfect calibration".to_string(), "#999999", "3 3", ""));
        for (i, (text, colour, dash, marker)) in legend.iter().enumerate() {
            let ly = TOP + 16.0 + 24.0 * i as f64;
            let dash_attr = if dash.is_empty() {
                String::new()
            } else {
                format!(" stroke-dasharray=\"{dash}\"")
            };
            let _ = writeln!(
                s,
                "<line x1=\"{LEGEND_X}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" stroke-width=\"2\"{dash_attr}/>",
                LEGEND_X + 34.0
            );
            if !marker.is_empty() {
                s.push_str(&marker_svg(marker, LEGEND_X + 17.0, ly, colour));
            }
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" {font} font-size=\"12\" fill=\"#000000\">{text}</text>",
                LEGEND_X + 42.0,
                ly + 4.0
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

fn marker_svg(marker: &str, cx: f64, cy: f64, colour: &str) -> String {
    match marker {
        "square" => format!(
            "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"7\" height=\"7\" fill=\"{colour}\"/>\n",
            cx - 3.5,
            cy - 3.5
        ),
        "triangle" => format!(
            "<path d=\"M{:.2} {:.2} L{:.2} {:.2} L{:.2} {:.2} Z\" fill=\"{colour}\"/>\n",
            cx,
            cy - 4.5,
            cx + 4.5,
            cy + 3.5,
            cx - 4.5,
            cy + 3.5
        ),
        _ => format!("<circle cx=\"{cx:.2}\" cy=\"{cy:.2}\" r=\"3.5\" fill=\"{colour}\"/>\n"),
    }
}
