//! Fig. 8: clean images, their inverse adversarial examples and the amplified perturbation,
//! captioned with the predicted class and confidence, as one PNG.

use crate::Ctx;
use crate::records::Record;
use advcal::Result;
use advcal::attack::{Attack, AttackConfig};
use advcal::metrics::{CalibrationReport, CalibrationSamples};
use advcal::model::{AnyModel, Classifier, Mode};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;
use image::{Rgb, RgbImage};
use serde::Serialize;
use std::path::Path;

const COLUMNS: usize = 8;
const SCALE: u32 = 3;
const GLYPH_SCALE: u32 = 2;

/// A 3×5 bitmap font (rows top to bottom, 3 bits each) for captions, so the gallery needs no
/// font file.
fn glyph(c: char) -> [u8; 5] {
    match c.to_ascii_uppercase() {
        'A' => [2, 5, 7, 5, 5],
        'B' => [6, 5, 6, 5, 6],
        'C' => [3, 4, 4, 4, 3],
        'D' => [6, 5, 5, 5, 6],
        'E' => [7, 4, 6, 4, 7],
        'F' => [7, 4, 6, 4, 4],
        'G' => [3, 4, 5, 5, 3],
        'H' => [5, 5, 7, 5, 5],
        'I' => [7, 2, 2, 2, 7],
        'J' => [1, 1, 1, 5, 2],
        'K' => [5, 5, 6, 5, 5],
        'L' => [4, 4, 4, 4, 7],
        'M' => [5, 7, 7, 5, 5],
        'N' => [6, 5, 5, 5, 5],
        'O' => [2, 5, 5, 5, 2],
        'P' => [6, 5, 6, 4, 4],
        'Q' => [2, 5, 5, 6, 3],
        'R' => [6, 5, 6, 5, 5],
        'S' => [3, 4, 2, 1, 6],
        'T' => [7, 2, 2, 2, 2],
        'U' => [5, 5, 5, 5, 7],
        'V' => [5, 5, 5, 5, 2],
        'W' => [5, 5, 7, 7, 5],
        'X' => [5, 5, 2, 5, 5],
        'Y' => [5, 5, 2, 2, 2],
        'Z' => [7, 1, 2, 4, 7],
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [6, 1, 2, 4, 7],
        '3' => [6, 1, 2, 1, 6],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 6, 1, 6],
        '6' => [3, 4, 7, 5, 7],
        '7' => [7, 1, 2, 2, 2],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 6],
        '.' => [0, 0, 0, 0, 2],
        '%' => [5, 1, 2, 4, 5],
        '-' => [0, 0, 7, 0, 0],
        '+' => [0, 2, 7, 2, 0],
        ':' => [0, 2, 0, 2, 0],
        _ => [0; 5],
    }
}

pub(crate) fn draw_text(img: &mut RgbImage, text: &str, x: u32, y: u32, color: Rgb<u8>) {
    for (i, c) in text.chars().enumerate() {
        let rows = glyph(c);
        let gx = x + i as u32 * 4 * GLYPH_SCALE;
        for (r, bits) in rows.iter().enumerate() {
            for col in 0..3u32 {
                if bits >> (2 - col) & 1 == 1 {
                    for dy in 0..GLYPH_SCALE {
                        for dx in 0..GLYPH_SCALE {
                            let (px, py) =
                                (gx + col * GLYPH_SCALE + dx, y + r as u32 * GLYPH_SCALE + dy);
                            if px < img.width() && py < img.height() {
                                img.put_pixel(px, py, color);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Copies CHW `[0, 1]` pixels into `img` at (x, y), each pixel a SCALE×SCALE block.
fn blit(img: &mut RgbImage, chw: &[f32], [c, h, w]: [usize; 3], x: u32, y: u32) {
    for i in 0..h {
        for j in 0..w {
            let px = |ch: usize| {
                let v = chw[(ch.min(c - 1) * h + i) * w + j];
                (v.clamp(0.0, 1.0) * 255.0).round() as u8
            };
            let color = Rgb([px(0), px(1), px(2)]);
            for dy in 0..SCALE {
                for dx in 0..SCALE {
                    img.put_pixel(x + j as u32 * SCALE + dx, y + i as u32 * SCALE + dy, color);
                }
            }
        }
    }
}

#[derive(Serialize)]
struct GalleryImage {
    test_index: usize,
    label: String,
    clean_prediction: String,
    clean_confidence: f32,
    iae_prediction: String,
    iae_confidence: f32,
    max_linf: f32,
}

pub(crate) fn top1(probs: &[f32]) -> (usize, f32) {
    probs
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &p)| {
            if p > best.1 { (i, p) } else { best }
        })
}

/// Draws the gallery of `iaa` against `model` into `path` (a PNG), lists its images in
/// `<stem>_images.json` and returns the records of the gallery's images: clean and attacked.
pub fn render<B: AutodiffBackend>(
    ctx: &Ctx<B>,
    model: &AnyModel<B>,
    path: &Path,
    iaa: &AttackConfig,
) -> Result<[Record; 2]> {
    let data = &ctx.test;
    let [c, h, w] = data.image_shape();
    let k = data.num_classes();
    let inner = model.valid();
    // The first correctly classified test images: the IAA keeps them correct but unsure.
    let probe = data.take(64.min(data.len()));
    let (x, _) = probe.to_batch().to_tensors::<B::InnerBackend>(&ctx.device);
    let clean_probs: Vec<f32> = softmax(inner.forward_mode(x, Mode::Eval), 1)
        .into_data()
        .convert::<f32>()
        .into_vec()
        .map_err(|e| advcal::Error::param("gallery", format!("{e:?}")))?;
    let labels = probe.labels().to_vec();
    let picked: Vec<usize> = (0..probe.len())
        .filter(|&i| top1(&clean_probs[i * k..(i + 1) * k]).0 == labels[i])
        .take(COLUMNS)
        .collect();
    if picked.is_empty() {
        return Err(advcal::Error::param(
            "gallery",
            "the model classifies none of the first 64 test images correctly",
        ));
    }
    let chosen = data.subset(&picked)?;
    let (x, y) = chosen.to_batch().to_tensors::<B::InnerBackend>(&ctx.device);
    let eps = 0.03;
    let out = Attack::<B, AnyModel<B>>::perturb_under(
        iaa,
        model,
        x.clone(),
        y,
        advcal::attack::Budget::new(eps).with_seed(ctx.args.seed),
    )?;
    let to_vec = |t: Tensor<B::InnerBackend, 4>| -> Result<Vec<f32>> {
        t.into_data()
            .convert::<f32>()
            .into_vec()
            .map_err(|e| advcal::Error::param("gallery", format!("{e:?}")))
    };
    let clean = to_vec(x)?;
    let adv = to_vec(out.adversarial)?;
    let delta = to_vec(out.perturbation)?;
    let adv_logits: Vec<f32> = out
        .logits
        .clone()
        .into_data()
        .convert::<f32>()
        .into_vec()
        .map_err(|e| advcal::Error::param("gallery", format!("{e:?}")))?;
    let adv_probs: Vec<f32> = softmax(out.logits, 1)
        .into_data()
        .convert::<f32>()
        .into_vec()
        .map_err(|e| advcal::Error::param("gallery", format!("{e:?}")))?;

    let names = data.class_names();
    let name = |i: usize| names.get(i).cloned().unwrap_or_else(|| i.to_string());
    let cell_w = w as u32 * SCALE + 12;
    let caption = 5 * GLYPH_SCALE + 6;
    let cell_h = h as u32 * SCALE + 2 * caption + 8;
    let header = 26;
    let mut img = RgbImage::from_pixel(
        cell_w * picked.len() as u32 + 8,
        header + 3 * cell_h,
        Rgb([255, 255, 255]),
    );
    draw_text(
        &mut img,
        &format!("clean - IAE - delta x{:.0}", 0.5 / eps),
        6,
        6,
        Rgb([0, 0, 0]),
    );
    let per = c * h * w;
    let mut listing = Vec::new();
    let amplify = 0.5 / eps;
    for (col, &i) in picked.iter().enumerate() {
        let x0 = 6 + col as u32 * cell_w;
        let (cp, cc) = top1(&clean_probs[i * k..(i + 1) * k]);
        let (ap, ac) = top1(&adv_probs[col * k..(col + 1) * k]);
        let green = Rgb([0, 120, 0]);
        let red = Rgb([200, 0, 0]);
        // Class name and confidence on two caption lines: long names ("automobile") would
        // otherwise push the confidence out of the cell.
        let rows: [(Vec<f32>, [String; 2], Rgb<u8>); 3] = [
            (
                clean[col * per..(col + 1) * per].to_vec(),
                [name(cp), format!("{:.0}%", cc * 100.0)],
                if cp == labels[i] { green } else { red },
            ),
            (
                adv[col * per..(col + 1) * per].to_vec(),
                [name(ap), format!("{:.0}%", ac * 100.0)],
                if ap == labels[i] { green } else { red },
            ),
            (
                delta[col * per..(col + 1) * per]
                    .iter()
                    .map(|d| 0.5 + d * amplify)
                    .collect(),
                [
                    format!(
                        "max {:.3}",
                        delta[col * per..(col + 1) * per]
                            .iter()
                            .fold(0.0f32, |m, d| m.max(d.abs()))
                    ),
                    String::new(),
                ],
                Rgb([60, 60, 60]),
            ),
        ];
        // Characters that fit a cell; counted in chars, so non-ASCII class names cannot split.
        let fits = (cell_w / (4 * GLYPH_SCALE)) as usize;
        for (r, (pixels, lines, color)) in rows.iter().enumerate() {
            let y0 = header + r as u32 * cell_h;
            blit(&mut img, pixels, [c, h, w], x0, y0);
            for (l, line) in lines.iter().enumerate() {
                let shown: String = line.chars().take(fits).collect();
                let y = y0 + h as u32 * SCALE + 4 + l as u32 * caption;
                draw_text(&mut img, &shown, x0, y, *color);
            }
        }
        listing.push(GalleryImage {
            test_index: i,
            label: name(labels[i]),
            clean_prediction: name(cp),
            clean_confidence: cc,
            iae_prediction: name(ap),
            iae_confidence: ac,
            max_linf: delta[col * per..(col + 1) * per]
                .iter()
                .fold(0.0f32, |m, d| m.max(d.abs())),
        });
    }
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| advcal::Error::param("gallery", e.to_string()))?;
    crate::write_file(path, &bytes)?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("fig8");
    advcal::io::write_json_atomic(path.with_file_name(format!("{stem}_images.json")), &listing)?;

    // The schema's records, over the gallery images: clean and IAA.
    let chosen_labels = chosen.labels().to_vec();
    // Softmax outputs, not logits: they are what the clean pass kept for the chosen images.
    let clean_probs_chosen: Vec<f32> = picked
        .iter()
        .flat_map(|&i| clean_probs[i * k..(i + 1) * k].iter().copied())
        .collect();
    let clean_report =
        CalibrationReport::from_probabilities(&clean_probs_chosen, k, &chosen_labels, 15)?;
    let adv_report = CalibrationReport::from_logits(&adv_logits, k, &chosen_labels, 15)?;
    let model_name = format!("PT/{}", ctx.preset.gallery_arch.name());
    let max_linf = listing.iter().fold(0.0f64, |m, g| m.max(g.max_linf as f64));
    // Bootstrap intervals from the same per-image values (8 images: wide by nature).
    let mut clean_samples = CalibrationSamples::new();
    for (row, &label) in clean_probs_chosen.chunks_exact(k).zip(&chosen_labels) {
        let top = (0..k)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap_or(0);
        clean_samples.push(row[top] as f64, top == label, row[label] as f64)?;
    }
    let mut adv_samples = CalibrationSamples::new();
    adv_samples.extend_from_logits(&adv_logits, k, &chosen_labels)?;
    let mut iae =
        Record::clean(&model_name, &adv_report).with_ci(adv_samples.bootstrap(&ctx.bootstrap())?);
    iae.attack = crate::record_attack::<B>(iaa);
    iae.epsilon = eps;
    iae.lambda = Some(5.0);
    iae.max_linf = max_linf;
    let clean = Record::clean(&model_name, &clean_report)
        .with_ci(clean_samples.bootstrap(&ctx.bootstrap())?);
    Ok([clean, iae])
}
