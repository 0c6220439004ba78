//! The paper's ImageNet figures on torchvision weights the user supplies: Fig. 1 (one image
//! clean, under PGD and under the IAA, each with its top-5 confidence bars; the paper uses a
//! ResNet-50) and Fig. 8 (images the model misclassifies that the IAA turns into correct but
//! unsure predictions; the paper uses a VGG-19). Built with `--features interop` (the weights
//! are read by `advcal::interop`).
//!
//! ```text
//! paper fig1-imagenet --imagenet-weights resnet50-0676ba61.pth --images DIR --out results/imagenet
//! paper fig8-imagenet --imagenet-weights vgg19_bn-c79401a0.pth --images DIR --out results/imagenet
//! ```
//!
//! `DIR/<class>/<image>` holds images of any size (resized to 256, centre-cropped to 224, as
//! torchvision evaluates). A class folder named by a number is that class index; otherwise the
//! folders in sorted order are classes 0, 1, … (ImageNet's validation set in its 1000-folder
//! layout, whose sorted wnids are torchvision's class order).

use crate::gallery::{draw_text, top1};
use crate::{Args, write_file};
use advcal::attack::{Attack, AttackConfig, Budget, IaaConfig, PgdConfig};
use advcal::data::{ImageDataset, ImageFolderOptions, load_image_folder};
use advcal::interop::{WeightLayout, load_pytorch};
use advcal::model::{AnyModel, AnyModelConfig, Architecture, Classifier};
use advcal::{Error, Result};
use burn::module::AutodiffModule;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;
use image::{Rgb, RgbImage};
use serde::Serialize;
use std::path::Path;

/// Images per Fig. 1 (rows) and per Fig. 8 gallery (columns).
const FIG1_ROWS: usize = 3;
const FIG8_COLUMNS: usize = 8;
const GREEN: Rgb<u8> = Rgb([0, 120, 0]);
const RED: Rgb<u8> = Rgb([200, 0, 0]);
const GREY: Rgb<u8> = Rgb([150, 150, 150]);

/// The model, the images and their class names, from the command line.
struct Setup<B: AutodiffBackend> {
    model: AnyModel<B>,
    data: ImageDataset,
    names: Vec<String>,
    eps: f32,
}

/// Images per forward pass or attack call.
const BATCH: usize = 16;

/// Class labels of the folder: numbered folders are class indices (each below `classes`, no
/// two the same number), others keep their position.
fn relabel(data: ImageDataset, classes: usize, dir: &Path) -> Result<ImageDataset> {
    let numbers: Option<Vec<usize>> = data
        .class_names()
        .iter()
        .map(|n| n.parse::<usize>().ok())
        .collect();
    let Some(numbers) = numbers else {
        return Ok(data);
    };
    let mut seen = std::collections::HashSet::new();
    for (name, &n) in data.class_names().iter().zip(&numbers) {
        if n >= classes || !seen.insert(n) {
            return Err(Error::Data {
                path: dir.join(name),
                reason: format!(
                    "class folder `{name}`: not a distinct class index below {classes}"
                ),
            });
        }
    }
    let labels: Vec<usize> = data.labels().iter().map(|&l| numbers[l]).collect();
    let k = numbers.iter().max().map_or(1, |m| m + 1);
    let names = (0..k).map(|i| i.to_string()).collect();
    let [c, h, w] = data.image_shape();
    Ok(ImageDataset::new(data.pixels().to_vec(), labels, [c, h, w], k)?.with_class_names(names))
}

fn setup<B: AutodiffBackend>(
    args: &Args,
    default_arch: Architecture,
    device: &B::Device,
) -> Result<Setup<B>> {
    let weights = args.imagenet_weights.as_ref().ok_or_else(|| {
        Error::param(
            "imagenet-weights",
            "the ImageNet figures need torchvision weights (.pth)",
        )
    })?;
    let dir = args
        .images
        .as_ref()
        .ok_or_else(|| Error::param("images", "the ImageNet figures need --images DIR"))?;
    let arch = match &args.imagenet_arch {
        Some(name) => Architecture::parse(name)?,
        None => default_arch,
    };
    if !matches!(arch, Architecture::ResNet50 | Architecture::Vgg19Bn) {
        return Err(Error::param(
            "imagenet-arch",
            format!("expected resnet50 or vgg19_bn, got {}", arch.name()),
        ));
    }
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    let mut config = AnyModelConfig::new(arch, args.imagenet_classes);
    config.layers = args.imagenet_layers.clone();
    let model = load_pytorch::<B>(weights, &config, &WeightLayout::Torchvision, device)?;
    let options = ImageFolderOptions::default()
        .with_size(256)
        .with_center_crop(224);
    let mut data = relabel(load_image_folder(dir, options)?, args.imagenet_classes, dir)?;
    if let Some(n) = args.eval_limit {
        data = data.take(n);
    }
    if data.is_empty() {
        return Err(Error::Data {
            path: dir.clone(),
            reason: "no image to draw (--eval-limit 0?)".into(),
        });
    }
    if data.num_classes() > args.imagenet_classes {
        return Err(Error::param(
            "images",
            format!(
                "{} has class {} but the model has {} classes",
                dir.display(),
                data.num_classes() - 1,
                args.imagenet_classes
            ),
        ));
    }
    let mut names: Vec<String> = (0..args.imagenet_classes).map(|i| i.to_string()).collect();
    if let Some(path) = &args.class_names {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        for (name, line) in names.iter_mut().zip(text.lines()) {
            *name = line.trim().to_string();
        }
    }
    eprintln!(
        "{}: {} images from {}, ε = {:.4}",
        arch.name(),
        data.len(),
        dir.display(),
        args.imagenet_epsilon
    );
    Ok(Setup {
        model,
        data,
        names,
        eps: args.imagenet_epsilon,
    })
}

/// Clean probabilities of every image, `BATCH` images at a time.
fn predict<B: AutodiffBackend>(
    model: &AnyModel<B>,
    data: &ImageDataset,
    device: &B::Device,
) -> Result<Vec<f32>> {
    let inner = model.valid();
    let mut out = Vec::with_capacity(data.len() * model.num_classes());
    for start in (0..data.len()).step_by(BATCH) {
        let indices: Vec<usize> = (start..(start + BATCH).min(data.len())).collect();
        let (x, _) = data
            .subset(&indices)?
            .to_batch()
            .to_tensors::<B::InnerBackend>(device);
        out.extend(probabilities(inner.logits(x))?);
    }
    Ok(out)
}

fn probabilities<B: Backend>(logits: Tensor<B, 2>) -> Result<Vec<f32>> {
    softmax(logits, 1)
        .into_data()
        .convert::<f32>()
        .into_vec()
        .map_err(|e| Error::param("imagenet", format!("{e:?}")))
}

fn pixels<B: Backend>(x: Tensor<B, 4>) -> Result<Vec<f32>> {
    x.into_data()
        .convert::<f32>()
        .into_vec()
        .map_err(|e| Error::param("imagenet", format!("{e:?}")))
}

/// Clean probabilities and, for each attack, the attacked images and their probabilities.
struct Views {
    clean: (Vec<f32>, Vec<f32>),
    attacked: Vec<(Vec<f32>, Vec<f32>)>,
}

fn run_attacks<B: AutodiffBackend>(
    setup: &Setup<B>,
    data: &ImageDataset,
    attacks: &[AttackConfig],
    seed: u64,
    device: &B::Device,
) -> Result<Views> {
    let (x, y) = data.to_batch().to_tensors::<B::InnerBackend>(device);
    let clean = (
        pixels(x.clone())?,
        probabilities(setup.model.valid().logits(x.clone()))?,
    );
    let mut attacked = Vec::new();
    for attack in attacks {
        let budget = Budget::new(setup.eps).with_seed(seed);
        let out = Attack::<B, AnyModel<B>>::perturb_under(
            attack,
            &setup.model,
            x.clone(),
            y.clone(),
            budget,
        )?;
        attacked.push((pixels(out.adversarial)?, probabilities(out.logits)?));
    }
    Ok(Views { clean, attacked })
}

/// Copies CHW `[0, 1]` pixels into `img` at (x, y), one output pixel per input pixel.
fn blit(img: &mut RgbImage, chw: &[f32], [c, h, w]: [usize; 3], x: u32, y: u32) {
    for i in 0..h {
        for j in 0..w {
            let px = |ch: usize| {
                (chw[(ch.min(c - 1) * h + i) * w + j].clamp(0.0, 1.0) * 255.0).round() as u8
            };
            img.put_pixel(x + j as u32, y + i as u32, Rgb([px(0), px(1), px(2)]));
        }
    }
}

/// Five bars (the top-5 classes) under a panel: length ∝ probability, the true class green.
fn top5_bars(
    img: &mut RgbImage,
    probs: &[f32],
    label: usize,
    names: &[String],
    x: u32,
    y: u32,
    width: u32,
) {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    for (row, &class) in order.iter().take(5).enumerate() {
        let y0 = y + row as u32 * 22;
        let text = format!("{:.0}% {}", probs[class] * 100.0, names[class]);
        let shown: String = text.chars().take((width / 8) as usize).collect();
        draw_text(img, &shown, x, y0, Rgb([0, 0, 0]));
        let length = (probs[class].clamp(0.0, 1.0) * width as f32).round() as u32;
        let color = if class == label { GREEN } else { GREY };
        for dy in 12..19 {
            for dx in 0..length.max(1) {
                img.put_pixel(x + dx.min(width - 1), y0 + dy, color);
            }
        }
    }
}

#[derive(Serialize)]
struct Panel {
    prediction: String,
    confidence: f32,
    true_class_probability: f32,
}

#[derive(Serialize)]
struct Row {
    image: usize,
    label: String,
    clean_correct: bool,
    panels: Vec<Panel>,
}

fn panel(probs: &[f32], label: usize, names: &[String]) -> Panel {
    let (p, c) = top1(probs);
    Panel {
        prediction: names[p].clone(),
        confidence: c,
        true_class_probability: probs[label],
    }
}

fn png(img: &RgbImage, path: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| Error::param("imagenet", e.to_string()))?;
    write_file(path, &bytes)
}

/// Fig. 1: the first images the model classifies correctly (others when there are fewer),
/// clean / PGD-10 / IAA (Eq. 2), each with its top-5 bars. Writes `fig1_imagenet.png` and
/// `fig1_imagenet.json`.
pub fn fig1<B: AutodiffBackend>(args: &Args, device: &B::Device) -> Result<()> {
    let setup = setup::<B>(args, Architecture::ResNet50, device)?;
    let k = args.imagenet_classes;
    let probs = predict(&setup.model, &setup.data, device)?;
    let labels = setup.data.labels();
    let correct = |i: usize| top1(&probs[i * k..(i + 1) * k]).0 == labels[i];
    let mut picked: Vec<usize> = (0..setup.data.len())
        .filter(|&i| correct(i))
        .take(FIG1_ROWS)
        .collect();
    picked.extend(
        (0..setup.data.len())
            .filter(|&i| !correct(i))
            .take(FIG1_ROWS - picked.len()),
    );
    let chosen = setup.data.subset(&picked)?;
    let attacks = [
        AttackConfig::Pgd(PgdConfig::new().with_steps(10).with_seed(args.seed)),
        AttackConfig::Iaa(IaaConfig::new().with_seed(args.seed)),
    ];
    let views = run_attacks(&setup, &chosen, &attacks, args.seed, device)?;
    let [c, h, w] = chosen.image_shape();
    let (side, bars) = (w as u32 + 16, 5 * 22 + 8);
    let header = 24;
    let mut img = RgbImage::from_pixel(
        3 * side + 8,
        header + picked.len() as u32 * (h as u32 + 20 + bars),
        Rgb([255; 3]),
    );
    draw_text(
        &mut img,
        &format!("clean - pgd - iaa  eps {:.4}", setup.eps),
        6,
        6,
        Rgb([0, 0, 0]),
    );
    let per = c * h * w;
    let mut rows = Vec::new();
    for (r, &i) in picked.iter().enumerate() {
        let y0 = header + r as u32 * (h as u32 + 20 + bars);
        let label = chosen.labels()[r];
        let columns = std::iter::once(&views.clean).chain(&views.attacked);
        let mut panels = Vec::new();
        for (col, (pixels, probs)) in columns.enumerate() {
            let x0 = 6 + col as u32 * side;
            let p = &probs[r * k..(r + 1) * k];
            blit(&mut img, &pixels[r * per..(r + 1) * per], [c, h, w], x0, y0);
            let (pred, conf) = top1(p);
            let color = if pred == label { GREEN } else { RED };
            let caption = format!("{} {:.0}%", setup.names[pred], conf * 100.0);
            let shown: String = caption.chars().take(w / 8).collect();
            draw_text(&mut img, &shown, x0, y0 + h as u32 + 4, color);
            top5_bars(
                &mut img,
                p,
                label,
                &setup.names,
                x0,
                y0 + h as u32 + 20,
                w as u32,
            );
            panels.push(panel(p, label, &setup.names));
        }
        rows.push(Row {
            image: i,
            label: setup.names[label].clone(),
            clean_correct: correct(i),
            panels,
        });
    }
    let out = args.out.join("fig1_imagenet.png");
    png(&img, &out)?;
    advcal::io::write_json_atomic(args.out.join("fig1_imagenet.json"), &rows)?;
    eprintln!(
        "wrote {} ({} images; columns clean, PGD-10, IAA)",
        out.display(),
        rows.len()
    );
    Ok(())
}

/// A gallery column: image index, clean pixels, IAE pixels, IAE probabilities.
type Drawn = (usize, Vec<f32>, Vec<f32>, Vec<f32>);

#[derive(Serialize)]
struct Gallery {
    images: usize,
    misclassified: usize,
    corrected_by_iaa: usize,
    shown: Vec<Row>,
}

/// Fig. 8: of the images the model misclassifies, those the IAA (Eq. 2) turns into a correct
/// prediction, clean above and IAE below. Writes `fig8_imagenet.png` and `fig8_imagenet.json`
/// (with the counts, also when no image qualifies).
pub fn fig8<B: AutodiffBackend>(args: &Args, device: &B::Device) -> Result<()> {
    let setup = setup::<B>(args, Architecture::Vgg19Bn, device)?;
    let k = args.imagenet_classes;
    let iaa = [AttackConfig::Iaa(IaaConfig::new().with_seed(args.seed))];
    let labels = setup.data.labels();
    let clean_probs = predict(&setup.model, &setup.data, device)?;
    let wrong: Vec<usize> = (0..setup.data.len())
        .filter(|&i| top1(&clean_probs[i * k..(i + 1) * k]).0 != labels[i])
        .collect();
    // The IAA runs on the misclassified images only, `BATCH` at a time; the first
    // `FIG8_COLUMNS` it corrects are drawn.
    let mut corrected = Vec::new();
    let mut drawn: Vec<Drawn> = Vec::new();
    for chunk in wrong.chunks(BATCH) {
        let subset = setup.data.subset(chunk)?;
        let views = run_attacks(&setup, &subset, &iaa, args.seed, device)?;
        let (adv_pixels, adv_probs) = &views.attacked[0];
        let per = adv_pixels.len() / chunk.len();
        for (j, &i) in chunk.iter().enumerate() {
            let p = &adv_probs[j * k..(j + 1) * k];
            if top1(p).0 != labels[i] {
                continue;
            }
            corrected.push(i);
            if drawn.len() < FIG8_COLUMNS {
                let clean_pixels = views.clean.0[j * per..(j + 1) * per].to_vec();
                let adv = adv_pixels[j * per..(j + 1) * per].to_vec();
                drawn.push((i, clean_pixels, adv, p.to_vec()));
            }
        }
    }
    let [c, h, w] = setup.data.image_shape();
    let side = w as u32 + 16;
    let cell = h as u32 + 24;
    let header = 24;
    let mut img = RgbImage::from_pixel(
        side * drawn.len().max(1) as u32 + 8,
        header + 2 * cell,
        Rgb([255; 3]),
    );
    draw_text(
        &mut img,
        &format!(
            "misclassified clean - correct iae: {} of {} misclassified",
            corrected.len(),
            wrong.len()
        ),
        6,
        6,
        Rgb([0, 0, 0]),
    );
    let mut rows = Vec::new();
    for (col, (i, clean_pixels, adv_pixels, adv_probs)) in drawn.iter().enumerate() {
        let (i, x0) = (*i, 6 + col as u32 * side);
        let label = labels[i];
        let views = [
            (clean_pixels, &clean_probs[i * k..(i + 1) * k]),
            (adv_pixels, adv_probs.as_slice()),
        ];
        let mut panels = Vec::new();
        for (r, (pixels, p)) in views.into_iter().enumerate() {
            let y0 = header + r as u32 * cell;
            blit(&mut img, pixels, [c, h, w], x0, y0);
            let (pred, conf) = top1(p);
            let caption = format!("{} {:.0}%", setup.names[pred], conf * 100.0);
            let shown: String = caption.chars().take(w / 8).collect();
            draw_text(
                &mut img,
                &shown,
                x0,
                y0 + h as u32 + 4,
                if pred == label { GREEN } else { RED },
            );
            panels.push(panel(p, label, &setup.names));
        }
        rows.push(Row {
            image: i,
            label: setup.names[label].clone(),
            clean_correct: false,
            panels,
        });
    }
    let out = args.out.join("fig8_imagenet.png");
    png(&img, &out)?;
    let gallery = Gallery {
        images: setup.data.len(),
        misclassified: wrong.len(),
        corrected_by_iaa: corrected.len(),
        shown: rows,
    };
    advcal::io::write_json_atomic(args.out.join("fig8_imagenet.json"), &gallery)?;
    eprintln!(
        "wrote {}: the IAA corrects {} of the {} misclassified images (of {})",
        out.display(),
        gallery.corrected_by_iaa,
        gallery.misclassified,
        gallery.images
    );
    Ok(())
}
