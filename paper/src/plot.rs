//! SVG plots (plotters): metric-vs-ε panels, grouped bars and the transfer heat map. Every point
//! carries its 95 % bootstrap interval (error bars); legends sit in a strip beside the panels,
//! never over the data; the palette is Okabe–Ito without its yellow (readable on white, and by
//! colour-blind readers).
//!
//! [`draw`] is the one place that knows which plot each experiment gets, so `paper replot`
//! redraws every plot from the JSON records alone.

use crate::records::Record;
use advcal::Result;
use plotters::prelude::*;
use std::path::Path;

fn plot_err<E: std::fmt::Display>(e: E) -> advcal::Error {
    advcal::Error::param("plot", e.to_string())
}

/// Okabe–Ito's colour-blind-safe palette, yellow left out (too little contrast on white).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Width of the legend strip to the right of the panels.
const LEGEND_WIDTH: u32 = 230;

/// One plotted point: x, the metric, and its 95 % interval (the point itself when the record
/// has none).
#[derive(Debug, Clone, Copy)]
struct Point {
    x: f64,
    y: f64,
    lo: f64,
    hi: f64,
}

type Series = Vec<(String, Vec<Point>)>;

/// One panel: a metric against ε, one line per series, optional dashed reference levels.
struct Panel {
    metric: &'static str,
    series: Series,
    references: Vec<(String, f64)>,
}

fn metric_of(r: &Record, metric: &str) -> f64 {
    match metric {
        "accuracy" => r.accuracy,
        "confidence" => r.confidence,
        "ece" => r.ece,
        "gt_confidence" => r.gt_confidence,
        _ => r.mcs,
    }
}

/// The record's 95 % interval of `metric`; `[v, v]` without intervals.
fn interval_of(r: &Record, metric: &str) -> [f64; 2] {
    let v = metric_of(r, metric);
    r.ci95.map_or([v, v], |c| match metric {
        "accuracy" => c.accuracy,
        "confidence" => c.confidence,
        "ece" => c.ece,
        "gt_confidence" => c.gt_confidence,
        _ => c.mcs,
    })
}

fn point(x: f64, r: &Record, metric: &str) -> Point {
    let [lo, hi] = interval_of(r, metric);
    Point {
        x,
        y: metric_of(r, metric),
        lo,
        hi,
    }
}

fn label_of(metric: &str) -> &'static str {
    match metric {
        "accuracy" => "ACC",
        "confidence" => "CONF",
        "ece" => "ECE",
        "gt_confidence" => "GT-CONF",
        _ => "MCS = CONF − ACC",
    }
}

/// Groups attacked records into series by `key`; each series starts at its clean point (ε = 0).
fn series_by(records: &[Record], key: impl Fn(&Record) -> String, metric: &str) -> Series {
    let mut out: Series = Vec::new();
    for r in records.iter().filter(|r| r.attack != "clean") {
        let k = key(r);
        let idx = match out.iter().position(|(n, _)| *n == k) {
            Some(i) => i,
            None => {
                let clean = records
                    .iter()
                    .find(|c| c.attack == "clean" && c.model == r.model)
                    .map(|c| vec![point(0.0, c, metric)])
                    .unwrap_or_default();
                out.push((k, clean));
                out.len() - 1
            }
        };
        out[idx].1.push(point(r.epsilon as f64, r, metric));
    }
    out
}

/// A legend entry: a solid line with a marker (series), a dashed line (reference) or a box (bars).
enum Key {
    Line,
    Dashed,
    Bar,
}

/// Draws the legend in its own strip, outside every data area, under an optional note.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    note: Option<&str>,
    entries: &[(String, RGBColor, Key)],
) -> Result<()> {
    let font = ("sans-serif", 14).into_font();
    let mut y = 50;
    if let Some(note) = note {
        area.draw_text(note, &font.color(&BLACK.mix(0.7)), (8, 20))
            .map_err(plot_err)?;
    }
    for (name, c, kind) in entries {
        match kind {
            Key::Line => {
                area.draw(&PathElement::new(vec![(8, y), (36, y)], c.stroke_width(2)))
                    .map_err(plot_err)?;
                area.draw(&Circle::new((22, y), 3, c.filled()))
                    .map_err(plot_err)?;
            }
            Key::Dashed => {
                for x0 in [8, 20, 32] {
                    area.draw(&PathElement::new(
                        vec![(x0, y), (x0 + 6, y)],
                        c.stroke_width(1),
                    ))
                    .map_err(plot_err)?;
                }
            }
            Key::Bar => {
                area.draw(&Rectangle::new([(10, y - 6), (34, y + 6)], c.filled()))
                    .map_err(plot_err)?;
            }
        }
        area.draw_text(name, &TextStyle::from(font.clone()), (44, y - 7))
            .map_err(plot_err)?;
        y += 24;
    }
    Ok(())
}

/// Splits `(width + legend, height)` into the panel area and the legend strip.
fn with_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    width: u32,
) -> (
    DrawingArea<DB, plotters::coord::Shift>,
    DrawingArea<DB, plotters::coord::Shift>,
) {
    root.split_horizontally(width)
}

/// Vertical error bars, one per point, with caps `cap` wide on each side (in x units).
fn error_bars(points: &[Point], dx: f64, cap: f64, c: RGBColor) -> Vec<PathElement<(f64, f64)>> {
    points
        .iter()
        .filter(|p| p.hi > p.lo)
        .flat_map(|p| {
            let x = p.x + dx;
            [
                PathElement::new(vec![(x, p.lo), (x, p.hi)], c.stroke_width(1)),
                PathElement::new(vec![(x - cap, p.lo), (x + cap, p.lo)], c.stroke_width(1)),
                PathElement::new(vec![(x - cap, p.hi), (x + cap, p.hi)], c.stroke_width(1)),
            ]
        })
        .collect()
}

/// A tick label: no "−0.00" for a tick that is zero up to rounding.
fn tick(y: f64, decimals: usize) -> String {
    let y = if y.abs() < 0.5 * 10f64.powi(-(decimals as i32)) {
        0.0
    } else {
        y
    };
    format!("{y:.decimals$}")
}

/// Horizontal offset of series `i` of `n`, so that the error bars of neighbouring series at the
/// same ε stay apart ("dodge"; at most ±0.002 on the 0.01 grid).
fn dodge(i: usize, n: usize) -> f64 {
    if n < 2 {
        return 0.0;
    }
    let step = (0.004 / (n - 1) as f64).min(0.0008);
    (i as f64 - (n - 1) as f64 / 2.0) * step
}

fn draw_panels(path: &Path, title: &str, panels: &[Panel]) -> Result<()> {
    draw_panels_over(path, title, "ε", panels)
}

/// [`draw_panels`] with another quantity than ε on the x axis.
fn draw_panels_over(path: &Path, title: &str, x_desc: &str, panels: &[Panel]) -> Result<()> {
    let width = 480 * panels.len() as u32;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (width + LEGEND_WIDTH, 440)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let root = root.titled(title, ("sans-serif", 20)).map_err(plot_err)?;
        let (plots, strip) = with_legend(&root, width);
        for (area, panel) in plots.split_evenly((1, panels.len())).iter().zip(panels) {
            let points = panel.series.iter().flat_map(|(_, p)| p.iter());
            let (mut lo, mut hi) = points
                .clone()
                .flat_map(|p| [p.lo, p.hi, p.y])
                .chain(panel.references.iter().map(|r| r.1))
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                });
            let x_hi = points.map(|p| p.x).fold(0.0f64, f64::max).max(1e-3) * 1.04;
            if !lo.is_finite() {
                (lo, hi) = (0.0, 1.0);
            }
            let pad = ((hi - lo) * 0.06).max(0.01);
            // Enough decimals that neighbouring tick labels differ.
            let decimals = if hi + 2.0 * pad - lo < 0.1 { 3 } else { 2 };
            let mut chart = ChartBuilder::on(area)
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(55)
                .build_cartesian_2d(-0.004..x_hi, (lo - pad)..(hi + pad))
                .map_err(plot_err)?;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(label_of(panel.metric))
                .x_label_formatter(&|x| format!("{x:.2}"))
                .y_label_formatter(&|y| tick(*y, decimals))
                .light_line_style(BLACK.mix(0.05))
                .draw()
                .map_err(plot_err)?;
            if panel.metric == "mcs" {
                chart
                    .draw_series(LineSeries::new(
                        vec![(-0.004, 0.0), (x_hi, 0.0)],
                        BLACK.mix(0.4),
                    ))
                    .map_err(plot_err)?;
            }
            let n = panel.series.len();
            for (i, (_, pts)) in panel.series.iter().enumerate() {
                let (c, dx) = (color(i), dodge(i, n));
                chart
                    .draw_series(error_bars(pts, dx, 0.0012, c))
                    .map_err(plot_err)?;
                let line: Vec<(f64, f64)> = pts.iter().map(|p| (p.x + dx, p.y)).collect();
                chart
                    .draw_series(LineSeries::new(line.clone(), c.stroke_width(2)))
                    .map_err(plot_err)?;
                chart
                    .draw_series(line.into_iter().map(|p| Circle::new(p, 3, c.filled())))
                    .map_err(plot_err)?;
            }
            for (i, (_, level)) in panel.references.iter().enumerate() {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(-0.004, *level), (x_hi, *level)],
                        6,
                        4,
                        color(i).stroke_width(1),
                    ))
                    .map_err(plot_err)?;
            }
        }
        // One legend for all panels: every panel has the same series.
        let mut entries: Vec<(String, RGBColor, Key)> = Vec::new();
        if let Some(first) = panels.first() {
            for (i, (name, _)) in first.series.iter().enumerate() {
                entries.push((name.clone(), color(i), Key::Line));
            }
        }
        for panel in panels {
            for (i, (name, _)) in panel.references.iter().enumerate() {
                entries.push((name.clone(), color(i), Key::Dashed));
            }
        }
        let intervals = panels
            .iter()
            .flat_map(|p| p.series.iter().flat_map(|(_, pts)| pts.iter()))
            .any(|p| p.hi > p.lo);
        legend(&strip, intervals.then_some("bars: 95 % interval"), &entries)?;
        root.present().map_err(plot_err)?;
    }
    crate::write_file(path, svg.as_bytes())
}

/// Fig. 4: ACC, CONF and MCS of IAA for each λ, with the analytic optimum y_G(λ) on CONF.
pub fn fig4(path: &Path, records: &[Record], num_classes: usize, suffix: &str) -> Result<()> {
    let key = |r: &Record| format!("λ = {}", r.lambda.unwrap_or(0.0));
    let mut panels: Vec<Panel> = ["accuracy", "confidence", "mcs"]
        .into_iter()
        .map(|m| Panel {
            metric: m,
            series: series_by(records, key, m),
            references: Vec::new(),
        })
        .collect();
    let mut lambdas: Vec<f32> = records.iter().filter_map(|r| r.lambda).collect();
    lambdas.dedup();
    panels[1].references = lambdas
        .iter()
        .map(|&l| {
            (
                format!("y_G(λ = {l}), K = {num_classes}"),
                advcal::attack::iaa_optimal_confidence(l as f64, num_classes),
            )
        })
        .collect();
    draw_panels(
        path,
        &format!("Fig. 4: IAA against PT for several λ (dashed: analytic optimum y_G){suffix}"),
        &panels,
    )
}

/// One panel per metric, one line per value of `key` (Fig. 5: the attack; Figs. 6–7: the model).
pub fn by_key(
    path: &Path,
    title: &str,
    records: &[Record],
    metrics: &[&'static str],
    key: impl Fn(&Record) -> String + Copy,
) -> Result<()> {
    let panels: Vec<Panel> = metrics
        .iter()
        .map(|&m| Panel {
            metric: m,
            series: series_by(records, key, m),
            references: Vec::new(),
        })
        .collect();
    draw_panels(path, title, &panels)
}

/// Tables 1–2: MCS, ACC and CONF per model, bars for clean, IAA and UCA with 95 % error bars.
pub fn bars(path: &Path, title: &str, records: &[Record]) -> Result<()> {
    let mut models: Vec<&str> = Vec::new();
    for r in records {
        if !models.contains(&r.model.as_str()) {
            models.push(&r.model);
        }
    }
    let attacks = ["clean", "iaa", "uca"];
    let metrics = ["mcs", "accuracy", "confidence"];
    let eps = records
        .iter()
        .find(|r| r.attack != "clean")
        .map_or(0.0, |r| r.epsilon);
    let width = 520 * 3;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (width + LEGEND_WIDTH, 440)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let root = root
            .titled(
                &format!("{title}: clean vs IAA vs UCA at ε = {eps}"),
                ("sans-serif", 20),
            )
            .map_err(plot_err)?;
        let (plots, strip) = with_legend(&root, width);
        for (area, metric) in plots.split_evenly((1, 3)).iter().zip(metrics) {
            let values = records.iter().flat_map(|r| {
                interval_of(r, metric)
                    .into_iter()
                    .chain([metric_of(r, metric)])
            });
            let lo = values.clone().fold(0.0f64, f64::min);
            let hi = values.fold(0.0f64, f64::max);
            let mut chart = ChartBuilder::on(area)
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(55)
                .build_cartesian_2d(0.0..models.len() as f64, (lo - 0.05)..(hi + 0.05))
                .map_err(plot_err)?;
            let names = models.clone();
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(models.len() * 2 + 1)
                .x_label_formatter(&move |x| {
                    let i = x.floor() as usize;
                    if (x - i as f64 - 0.5).abs() < 0.01 {
                        names.get(i).map(|s| s.to_string()).unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .y_desc(label_of(metric))
                .y_label_formatter(&|y| tick(*y, 2))
                .draw()
                .map_err(plot_err)?;
            for (a, attack) in attacks.iter().enumerate() {
                let c = color(a);
                let cells: Vec<(f64, &Record)> = models
                    .iter()
                    .enumerate()
                    .filter_map(|(m, name)| {
                        let r = records
                            .iter()
                            .find(|r| r.model == *name && r.attack == *attack)?;
                        Some((m as f64 + 0.1 + a as f64 * 0.27, r))
                    })
                    .collect();
                chart
                    .draw_series(cells.iter().map(|&(x0, r)| {
                        Rectangle::new([(x0, 0.0), (x0 + 0.25, metric_of(r, metric))], c.filled())
                    }))
                    .map_err(plot_err)?;
                let whiskers: Vec<Point> = cells
                    .iter()
                    .map(|&(x0, r)| point(x0 + 0.125, r, metric))
                    .collect();
                // The whiskers in black so that they show on the bar of their own colour.
                chart
                    .draw_series(error_bars(&whiskers, 0.0, 0.05, BLACK))
                    .map_err(plot_err)?;
            }
        }
        let entries: Vec<(String, RGBColor, Key)> = attacks
            .iter()
            .enumerate()
            .map(|(a, name)| (name.to_string(), color(a), Key::Bar))
            .collect();
        let intervals = records.iter().any(|r| r.ci95.is_some());
        legend(
            &strip,
            intervals.then_some("black whiskers: 95 % interval"),
            &entries,
        )?;
        root.present().map_err(plot_err)?;
    }
    crate::write_file(path, svg.as_bytes())
}

/// Table 3: the MCS matrix, rows = model the IAEs were crafted on, columns = evaluated model.
pub fn heatmap(path: &Path, records: &[Record], names: &[&str], suffix: &str) -> Result<()> {
    let n = names.len();
    let cell = 150i32;
    let (left, top) = (150i32, 80i32);
    let mut svg = String::new();
    {
        let size = (
            (left + cell * n as i32 + 20) as u32,
            (top + cell * n as i32 + 40) as u32,
        );
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let text = TextStyle::from(("sans-serif", 15).into_font());
        let interval = if records.iter().any(|r| r.ci95.is_some()) {
            " [95 % interval]"
        } else {
            ""
        };
        root.draw_text(
            &format!(
                "Table 3: MCS of IAA{suffix} (ε = 0.03){interval}; rows: crafted on, columns: evaluated on"
            ),
            &text,
            (10, 10),
        )
        .map_err(plot_err)?;
        for (i, name) in names.iter().enumerate() {
            let c = left + cell * i as i32;
            root.draw_text(name, &text, (c + 20, top - 25))
                .map_err(plot_err)?;
            root.draw_text(name, &text, (10, top + cell * i as i32 + cell / 2))
                .map_err(plot_err)?;
        }
        for r in records {
            let (Some(ti), Some(gi)) = (
                names.iter().position(|n| Some(*n) == r.source.as_deref()),
                names.iter().position(|n| *n == r.model),
            ) else {
                continue;
            };
            // Blue for underconfidence (MCS < 0), red for overconfidence; saturated at |MCS| = 1.
            let v = r.mcs.clamp(-1.0, 1.0);
            let fade = (255.0 * (1.0 - v.abs())) as u8;
            let color = if v < 0.0 {
                RGBColor(fade, fade, 255)
            } else {
                RGBColor(255, fade, fade)
            };
            let (x, y) = (left + cell * gi as i32, top + cell * ti as i32);
            root.draw(&Rectangle::new(
                [(x, y), (x + cell, y + cell)],
                color.filled(),
            ))
            .map_err(plot_err)?;
            root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], BLACK))
                .map_err(plot_err)?;
            root.draw_text(
                &format!("{:+.4}", r.mcs),
                &TextStyle::from(("sans-serif", 22).into_font()),
                (x + 35, y + cell / 2 - 22),
            )
            .map_err(plot_err)?;
            if let Some(ci) = r.ci95 {
                root.draw_text(
                    &format!("[{:+.3}, {:+.3}]", ci.mcs[0], ci.mcs[1]),
                    &TextStyle::from(("sans-serif", 14).into_font()),
                    (x + 22, y + cell / 2 + 8),
                )
                .map_err(plot_err)?;
            }
        }
        root.present().map_err(plot_err)?;
    }
    crate::write_file(path, svg.as_bytes())
}

/// Draws the plot of `experiment` from its records into `dir` (`<experiment>.svg`, IAA by
/// Algorithm 1, the records `iaa`) and, when the records hold Eq. 2's IAA (`iaa-eq2`), its
/// twin `<experiment>-eq2.svg`; `Ok(false)` for experiments without a plot of records (Fig. 8's
/// gallery is drawn from images; the IAT ablation, the fine-tuning comparison, `iat-eq2` and
/// `baselines` are tables). `robustness-apgd` and `two-sided` get one plot each.
pub fn draw(dir: &Path, experiment: &str, records: &[Record]) -> Result<bool> {
    // Plots of their own: one each, whatever IAA their records hold.
    if matches!(experiment, "robustness-apgd" | "two-sided") {
        let path = dir.join(format!("{experiment}.svg"));
        return draw_one(&path, experiment, records, "");
    }
    let alg1: Vec<Record> = records
        .iter()
        .filter(|r| r.attack != "iaa-eq2")
        .cloned()
        .collect();
    let drawn = draw_one(
        &dir.join(format!("{experiment}.svg")),
        experiment,
        &alg1,
        "",
    )?;
    if drawn && records.iter().any(|r| r.attack == "iaa-eq2") {
        let eq2: Vec<Record> = records
            .iter()
            .filter(|r| r.attack != "iaa")
            .cloned()
            .map(|mut r| {
                if r.attack == "iaa-eq2" {
                    r.attack = "iaa".into();
                }
                r
            })
            .collect();
        let path = dir.join(format!("{experiment}-eq2.svg"));
        draw_one(&path, experiment, &eq2, " (Eq. 2)")?;
    }
    Ok(drawn)
}

/// One plot of `experiment` at `path`, `suffix` appended to the name of its IAA in the title.
fn draw_one(path: &Path, experiment: &str, records: &[Record], suffix: &str) -> Result<bool> {
    match experiment {
        // Fig. 4 runs on CIFAR-10: K = 10 classes for the analytic optimum.
        "fig4" => fig4(path, records, 10, suffix)?,
        "fig5" => by_key(
            path,
            &format!("Fig. 5: PT under noise, PGD and IAA{suffix}"),
            records,
            &["mcs"],
            |r: &Record| r.attack.clone(),
        )?,
        "fig6" => by_key(
            path,
            &format!("Fig. 6: IAA{suffix} against six training strategies"),
            records,
            &["mcs", "confidence"],
            |r: &Record| r.model.clone(),
        )?,
        "fig7" => by_key(
            path,
            "Fig. 7: PGD against six training strategies",
            records,
            &["accuracy", "confidence", "mcs"],
            |r: &Record| r.model.clone(),
        )?,
        "robustness-apgd" => by_key(
            path,
            "Robust accuracy under PGD-10 and the APGD-CE/APGD-DLR worst case",
            records,
            &["accuracy"],
            |r: &Record| format!("{} ({})", r.model, r.attack),
        )?,
        "two-sided" => two_sided(path, records)?,
        "table1" => bars(path, &format!("Table 1{suffix}"), records)?,
        "table2" => bars(
            path,
            &format!("Table 2 (Tiny ImageNet-200){suffix}"),
            records,
        )?,
        "table3" => {
            let mut names: Vec<&str> = Vec::new();
            for r in records {
                if let Some(s) = r.source.as_deref()
                    && !names.contains(&s)
                {
                    names.push(s);
                }
            }
            heatmap(path, records, &names, suffix)?
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The two-sided sweep: AT+IAT's PGD weight w against clean and worst-case ECE (PGD or IAA per
/// image), and the two sides of the bound |MCS_PGD| + |MCS_IAA| ≥ ACC_IAA − ACC_PGD.
fn two_sided(path: &Path, records: &[Record]) -> Result<()> {
    let mut weights: Vec<f32> = records.iter().filter_map(|r| r.weight).collect();
    weights.sort_by(f32::total_cmp);
    weights.dedup();
    let at = |w: f32, attack: &str| {
        records
            .iter()
            .find(|r| r.weight == Some(w) && r.attack == attack)
    };
    let exact = |x: f64, y: f64| Point { x, y, lo: y, hi: y };
    let mut ece: Series = vec![
        ("clean ECE".into(), Vec::new()),
        ("worst-case ECE (PGD or IAA per image)".into(), Vec::new()),
    ];
    let mut bound: Series = vec![
        ("|MCS_PGD| + |MCS_IAA|".into(), Vec::new()),
        ("ACC_IAA − ACC_PGD".into(), Vec::new()),
    ];
    for &w in &weights {
        let (Some(clean), Some(pgd), Some(iaa), Some(worst)) = (
            at(w, "clean"),
            at(w, "pgd"),
            at(w, "iaa-eq2"),
            at(w, "pgd+iaa-eq2"),
        ) else {
            continue;
        };
        let x = w as f64;
        ece[0].1.push(point(x, clean, "ece"));
        ece[1].1.push(point(x, worst, "ece"));
        bound[0].1.push(exact(x, pgd.mcs.abs() + iaa.mcs.abs()));
        bound[1].1.push(exact(x, iaa.accuracy - pgd.accuracy));
    }
    if ece[0].1.is_empty() {
        return Ok(());
    }
    let panels = [
        Panel {
            metric: "ece",
            series: ece,
            references: vec![
                ("clean ECE 0.03".into(), 0.03),
                ("worst ECE 0.15".into(), 0.15),
            ],
        },
        Panel {
            metric: "mcs",
            series: bound,
            references: Vec::new(),
        },
    ];
    draw_panels_over(
        path,
        "Two-sided calibration of AT+IAT (Eq. 2) against its PGD weight w",
        "w (PGD weight)",
        &panels,
    )
}

/// `paper replot`: redraws every plot in `dir` from the `<experiment>.json` records found there.
pub fn replot(dir: &Path, experiments: &[&str]) -> Result<()> {
    let mut found = 0;
    for experiment in experiments {
        let path = dir.join(format!("{experiment}.json"));
        if !path.is_file() {
            continue;
        }
        found += 1;
        let text = std::fs::read_to_string(&path).map_err(|e| advcal::Error::io(&path, e))?;
        let records: Vec<Record> = serde_json::from_str(&text)
            .map_err(|e| advcal::Error::param("records", format!("{}: {e}", path.display())))?;
        if draw(dir, experiment, &records)? {
            eprintln!("redrew {}", dir.join(format!("{experiment}.svg")).display());
        }
    }
    if found == 0 {
        return Err(advcal::Error::param(
            "out",
            format!("{} holds no experiment records to redraw", dir.display()),
        ));
    }
    Ok(())
}
