//! SVG plots (plotters): metric-vs-ε panels, grouped bars and the transfer heat map.

use crate::records::Record;
use advcal::Result;
use plotters::prelude::*;
use std::path::Path;

fn plot_err<E: std::fmt::Display>(e: E) -> advcal::Error {
    advcal::Error::param("plot", e.to_string())
}

type Series = Vec<(String, Vec<(f64, f64)>)>;

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
                    .map(|c| vec![(0.0, metric_of(c, metric))])
                    .unwrap_or_default();
                out.push((k, clean));
                out.len() - 1
            }
        };
        out[idx].1.push((r.epsilon as f64, metric_of(r, metric)));
    }
    out
}

fn draw_panels(path: &Path, title: &str, panels: &[Panel]) -> Result<()> {
    let width = 480 * panels.len() as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let root = root.titled(title, ("sans-serif", 20)).map_err(plot_err)?;
        for (area, panel) in root.split_evenly((1, panels.len())).iter().zip(panels) {
            let points = panel.series.iter().flat_map(|(_, p)| p.iter());
            let (mut lo, mut hi) = points
                .clone()
                .map(|p| p.1)
                .chain(panel.references.iter().map(|r| r.1))
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                });
            let x_hi = points.map(|p| p.0).fold(0.0f64, f64::max).max(1e-3);
            if !lo.is_finite() {
                (lo, hi) = (0.0, 1.0);
            }
            let pad = ((hi - lo) * 0.08).max(0.02);
            let mut chart = ChartBuilder::on(area)
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(55)
                .build_cartesian_2d(0.0..x_hi * 1.03, (lo - pad)..(hi + pad))
                .map_err(plot_err)?;
            chart
                .configure_mesh()
                .x_desc("ε")
                .y_desc(label_of(panel.metric))
                .x_label_formatter(&|x| format!("{x:.2}"))
                .y_label_formatter(&|y| format!("{y:.3}"))
                .draw()
                .map_err(plot_err)?;
            if panel.metric == "mcs" {
                chart
                    .draw_series(LineSeries::new(
                        vec![(0.0, 0.0), (x_hi * 1.03, 0.0)],
                        BLACK.mix(0.4),
                    ))
                    .map_err(plot_err)?;
            }
            for (i, (name, pts)) in panel.series.iter().enumerate() {
                let color = Palette99::pick(i).to_rgba();
                chart
                    .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                    .map_err(plot_err)?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                    });
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(plot_err)?;
            }
            for (i, (name, level)) in panel.references.iter().enumerate() {
                let color = Palette99::pick(i).to_rgba();
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(0.0, *level), (x_hi * 1.03, *level)],
                        6,
                        4,
                        color.stroke_width(1),
                    ))
                    .map_err(plot_err)?
                    .label(name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.5))
                .label_font(("sans-serif", 12))
                .draw()
                .map_err(plot_err)?;
        }
        root.present().map_err(plot_err)?;
    }
    crate::write_file(path, svg.as_bytes())
}

/// Fig. 4: ACC, CONF and MCS of IAA for each λ, with the analytic optimum y_G(λ) on CONF.
pub fn fig4(path: &Path, records: &[Record], num_classes: usize) -> Result<()> {
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
                format!("y_G(λ = {l})"),
                advcal::attack::iaa_optimal_confidence(l as f64, num_classes),
            )
        })
        .collect();
    draw_panels(
        path,
        "Fig. 4: IAA against PT for several λ (dashed: analytic optimum y_G)",
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

/// Tables 1–2: MCS, ACC and CONF per model, bars for clean, IAA and UCA.
pub fn bars(path: &Path, title: &str, records: &[Record]) -> Result<()> {
    let mut models: Vec<&str> = Vec::new();
    for r in records {
        if !models.contains(&r.model.as_str()) {
            models.push(&r.model);
        }
    }
    let attacks = ["clean", "iaa", "uca"];
    let metrics = ["mcs", "accuracy", "confidence"];
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (480 * 3, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let root = root
            .titled(
                &format!("{title}: clean vs IAA vs UCA at ε = 0.03"),
                ("sans-serif", 20),
            )
            .map_err(plot_err)?;
        for (area, metric) in root.split_evenly((1, 3)).iter().zip(metrics) {
            let lo = records
                .iter()
                .map(|r| metric_of(r, metric))
                .fold(0.0f64, f64::min);
            let hi = records
                .iter()
                .map(|r| metric_of(r, metric))
                .fold(0.0f64, f64::max);
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
                .y_label_formatter(&|y| format!("{y:.2}"))
                .draw()
                .map_err(plot_err)?;
            for (a, attack) in attacks.iter().enumerate() {
                let color = Palette99::pick(a).to_rgba();
                let bars = models.iter().enumerate().filter_map(|(m, name)| {
                    let r = records
                        .iter()
                        .find(|r| r.model == *name && r.attack == *attack)?;
                    let x0 = m as f64 + 0.1 + a as f64 * 0.27;
                    let v = metric_of(r, metric);
                    Some(Rectangle::new([(x0, 0.0), (x0 + 0.25, v)], color.filled()))
                });
                chart
                    .draw_series(bars)
                    .map_err(plot_err)?
                    .label(*attack)
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.5))
                .draw()
                .map_err(plot_err)?;
        }
        root.present().map_err(plot_err)?;
    }
    crate::write_file(path, svg.as_bytes())
}

/// Table 3: the MCS matrix, rows = model the IAEs were crafted on, columns = evaluated model.
pub fn heatmap(path: &Path, records: &[Record], names: &[&str]) -> Result<()> {
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
        root.draw_text(
            "Table 3: MCS of IAA (ε = 0.03); rows: crafted on, columns: evaluated on",
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
                (x + 35, y + cell / 2 - 10),
            )
            .map_err(plot_err)?;
        }
        root.present().map_err(plot_err)?;
    }
    crate::write_file(path, svg.as_bytes())
}
