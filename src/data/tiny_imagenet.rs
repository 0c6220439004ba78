//! Reader for the official Tiny ImageNet-200 layout (Stanford CS231N, 200 classes of 64×64
//! ImageNet images), read as it comes out of the official archive:
//!
//! ```text
//! tiny-imagenet-200/
//!   wnids.txt                       the class ids (WordNet ids), one per line
//!   words.txt                       "<wnid>\t<synonym>, <synonym>, ..." (names of the classes)
//!   train/<wnid>/images/*.JPEG      the training images of class <wnid>
//!   val/images/*.JPEG               the validation images ...
//!   val/val_annotations.txt         ... labelled by "<file>\t<wnid>\tx0\ty0\tx1\ty1" lines
//! ```
//!
//! Labels follow torchvision's `ImageFolder` convention (the position of the wnid in the
//! *sorted* list of wnids), so label indices match models trained in PyTorch on the same data.

use super::folder::is_image;
use super::{ImageDataset, Split};
use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// Side of every Tiny ImageNet image, in pixels.
const SIDE: u32 = 64;
/// `u8` values of one image (`3 × 64 × 64`).
const PIXELS: usize = 3 * (SIDE as usize) * (SIDE as usize);

/// Options of [`load_tiny_imagenet_with`].
///
/// ```
/// use advcal::data::TinyImageNetOptions;
/// assert_eq!(TinyImageNetOptions::default().max_per_class, None);
/// let options = TinyImageNetOptions::default().with_max_per_class(10);
/// assert_eq!(options.max_per_class, Some(10));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TinyImageNetOptions {
    /// Keep at most this many images per class (`None` = all): the first ones in file-name
    /// order, so the same limit always selects the same images. Applies to both splits; must be
    /// at least 1 when given.
    pub max_per_class: Option<usize>,
}

impl TinyImageNetOptions {
    /// Keeps at most `n` images per class (the first `n` in file-name order).
    pub fn with_max_per_class(mut self, n: usize) -> Self {
        self.max_per_class = Some(n);
        self
    }
}

/// Loads one split of Tiny ImageNet-200 from `root`, a directory in the official layout (see
/// [`load_tiny_imagenet_with`] for the details), with every image of the split.
///
/// # Errors
///
/// As [`load_tiny_imagenet_with`].
///
/// # Example
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use advcal::data::{load_tiny_imagenet, Split};
/// use std::fs;
///
/// // A two-class copy of the official layout, one training and one validation image per class.
/// let tmp = tempfile::tempdir()?;
/// let root = tmp.path();
/// fs::write(root.join("wnids.txt"), "n02\nn01\n")?;
/// fs::write(root.join("words.txt"), "n01\tgoldfish, Carassius auratus\nn02\tbullfrog\n")?;
/// fs::create_dir_all(root.join("val/images"))?;
/// let mut annotations = String::new();
/// for (k, wnid) in ["n01", "n02"].iter().enumerate() {
///     let dir = root.join("train").join(wnid).join("images");
///     fs::create_dir_all(&dir)?;
///     let img = image::RgbImage::from_pixel(64, 64, image::Rgb([k as u8 * 200, 10, 20]));
///     img.save(dir.join(format!("{wnid}_0.png")))?;
///     img.save(root.join(format!("val/images/val_{k}.png")))?;
///     annotations += &format!("val_{k}.png\t{wnid}\t0\t0\t63\t63\n");
/// }
/// fs::write(root.join("val/val_annotations.txt"), annotations)?;
///
/// let train = load_tiny_imagenet(root, Split::Train)?;
/// assert_eq!(train.len(), 2);
/// assert_eq!(train.image_shape(), [3, 64, 64]);
/// // Labels index the *sorted* wnids; names are the first synonym of words.txt.
/// assert_eq!(train.class_names(), ["goldfish", "bullfrog"]);
/// assert_eq!(train.labels(), [0, 1]);
/// let val = load_tiny_imagenet(root, Split::Test)?;
/// assert_eq!(val.labels(), [0, 1]);
/// assert_eq!(val.image(1).unwrap()[0], 200); // red plane of the "n02" image
/// # Ok(())
/// # }
/// ```
pub fn load_tiny_imagenet(root: impl AsRef<Path>, split: Split) -> Result<ImageDataset> {
    load_tiny_imagenet_with(root, split, TinyImageNetOptions::default())
}

/// Loads one split of Tiny ImageNet-200 from `root`, a directory in the official layout, as
/// `u8` RGB images of shape `[3, 64, 64]` (channel planes, row-major).
///
/// * **Classes**: the wnids of `wnids.txt` (one per line; blank lines ignored), **sorted**
///   lexicographically; a class's label is its position in that sorted list, as with
///   torchvision's `ImageFolder`, so label indices match PyTorch models. Class names come from
///   `words.txt` (`<wnid>\t<synonyms>`): the first synonym (before the first comma), trimmed.
///   A wnid missing from `words.txt`, or a missing `words.txt`, falls back to the wnid itself.
/// * [`Split::Train`] reads `train/<wnid>/images/*.{jpeg,jpg,png}` (extension case ignored),
///   class by class in label order and, within a class, in file-name order (lexicographic:
///   `x_0`, `x_1`, `x_10`, ...). The `<wnid>_boxes.txt` files are not read.
/// * [`Split::Test`] is the labelled validation set: the images listed in
///   `val/val_annotations.txt` (`<file>\t<wnid>\t...` lines; the bounding boxes are ignored),
///   read from `val/images/`, in file-name order. (The official test split has no labels.)
/// * [`TinyImageNetOptions::max_per_class`] keeps the first `n` images of every class in that
///   order; only the kept images are decoded.
///
/// Images are decoded by content (not by extension); greyscale ones (the official data has a few
/// hundred) are converted to RGB by replicating the channel. Images are **not resized**: an image
/// that is not 64×64 is an error.
///
/// # Errors
///
/// Every error names the offending path:
///
/// * [`Error::InvalidParameter`] if `max_per_class` is `Some(0)`.
/// * [`Error::Data`] (path of `wnids.txt`) if `wnids.txt` is missing, lists no wnid, or lists a
///   wnid twice.
/// * [`Error::Data`] (path of `val/val_annotations.txt`) if it is missing, or a line (numbered
///   from 1 in the message) has fewer than two fields, a file name that is not a plain file
///   name, a file already listed, or a wnid not in `wnids.txt`.
/// * [`Error::Data`] (path of the folder) if `train/<wnid>/images` is missing for a class of
///   `wnids.txt`, or holds no image.
/// * [`Error::Image`] (path of the image, the decoder's error as its source) if an image cannot
///   be decoded.
/// * [`Error::ImageSize`] (path of the image) if an image is not 64×64.
/// * [`Error::Io`] if an image file is missing or unreadable, a folder cannot be listed or a
///   text file cannot be read (path of the file or folder).
///
/// # Example
///
/// ```no_run
/// use advcal::data::{load_tiny_imagenet_with, Split, TinyImageNetOptions};
/// // The official download, unpacked.
/// let options = TinyImageNetOptions::default().with_max_per_class(10);
/// let val = load_tiny_imagenet_with("data/tiny-imagenet-200", Split::Test, options).unwrap();
/// assert_eq!((val.len(), val.num_classes()), (2000, 200));
/// assert_eq!(val.image_shape(), [3, 64, 64]);
/// ```
///
/// A runnable example on a small copy of the layout is on [`load_tiny_imagenet`].
pub fn load_tiny_imagenet_with(
    root: impl AsRef<Path>,
    split: Split,
    options: TinyImageNetOptions,
) -> Result<ImageDataset> {
    let root = root.as_ref();
    let limit = match options.max_per_class {
        Some(0) => return Err(Error::param("max_per_class", "must be at least 1")),
        Some(n) => n,
        None => usize::MAX,
    };
    let wnids = read_wnids(&root.join("wnids.txt"))?;
    let names = class_names(&root.join("words.txt"), &wnids)?;
    let files = match split {
        Split::Train => train_files(root, &wnids, limit)?,
        Split::Test => val_files(root, &wnids, limit)?,
    };
    let mut pixels = Vec::with_capacity(files.len() * PIXELS);
    let mut labels = Vec::with_capacity(files.len());
    for (path, label) in &files {
        decode_into(path, &mut pixels)?;
        labels.push(*label);
    }
    let side = SIDE as usize;
    Ok(ImageDataset::new(pixels, labels, [3, side, side], wnids.len())?.with_class_names(names))
}

/// Reads a text file (lossily as UTF-8), `None` when it does not exist.
fn read_text(path: &Path) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The wnids of `wnids.txt`, sorted; errors if missing, empty or duplicated.
fn read_wnids(path: &Path) -> Result<Vec<String>> {
    let text = read_text(path)?.ok_or_else(|| {
        Error::data(
            path,
            "file not found (expected the official Tiny ImageNet-200 layout: wnids.txt, words.txt, train/, val/)",
        )
    })?;
    let mut seen = HashSet::new();
    let mut wnids = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let wnid = line.trim();
        if wnid.is_empty() {
            continue;
        }
        if !seen.insert(wnid) {
            return Err(Error::data(
                path,
                format!("line {}: wnid `{wnid}` is listed twice", i + 1),
            ));
        }
        wnids.push(wnid.to_string());
    }
    if wnids.is_empty() {
        return Err(Error::data(path, "lists no wnid"));
    }
    wnids.sort();
    Ok(wnids)
}

/// The name of every wnid (first synonym of `words.txt`, else the wnid), in label order.
fn class_names(path: &Path, wnids: &[String]) -> Result<Vec<String>> {
    let mut found: HashMap<&str, String> = HashMap::new();
    if let Some(text) = read_text(path)? {
        let wanted: HashSet<&str> = wnids.iter().map(String::as_str).collect();
        for line in text.lines() {
            let line = line.trim();
            let Some((wnid, synonyms)) = line
                .split_once('\t')
                .or_else(|| line.split_once(char::is_whitespace))
            else {
                continue;
            };
            let Some(&wnid) = wanted.get(wnid.trim()) else {
                continue;
            };
            let name = synonyms.split(',').next().unwrap_or("").trim();
            if !name.is_empty() {
                // The first entry of a wnid wins.
                found.entry(wnid).or_insert_with(|| name.to_string());
            }
        }
    }
    Ok(wnids
        .iter()
        .map(|w| found.get(w.as_str()).cloned().unwrap_or_else(|| w.clone()))
        .collect())
}

/// `(file, label)` of the training images, class by class, files in name order.
fn train_files(root: &Path, wnids: &[String], limit: usize) -> Result<Vec<(PathBuf, usize)>> {
    let train = root.join("train");
    if !train.is_dir() {
        return Err(Error::data(&train, "training folder not found"));
    }
    let mut files = Vec::new();
    for (label, wnid) in wnids.iter().enumerate() {
        let dir = train.join(wnid).join("images");
        if !dir.is_dir() {
            return Err(Error::data(
                &dir,
                format!("missing: no training folder for class `{wnid}` of wnids.txt"),
            ));
        }
        let mut names: Vec<OsString> = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let path = entry.path();
            if is_image(&path) && path.is_file() {
                names.push(entry.file_name());
            }
        }
        if names.is_empty() {
            return Err(Error::data(
                &dir,
                format!("the training folder of class `{wnid}` holds no .jpeg/.jpg/.png image"),
            ));
        }
        names.sort();
        files.extend(
            names
                .into_iter()
                .take(limit)
                .map(|name| (dir.join(name), label)),
        );
    }
    Ok(files)
}

/// `(file, label)` of the validation images listed in `val/val_annotations.txt`, in file-name
/// order, at most `limit` per class.
fn val_files(root: &Path, wnids: &[String], limit: usize) -> Result<Vec<(PathBuf, usize)>> {
    let path = root.join("val").join("val_annotations.txt");
    let text = read_text(&path)?.ok_or_else(|| {
        Error::data(
            &path,
            "file not found (the validation labels of the official layout)",
        )
    })?;
    let label_of: HashMap<&str, usize> = wnids
        .iter()
        .enumerate()
        .map(|(label, w)| (w.as_str(), label))
        .collect();
    let mut seen = HashSet::new();
    let mut entries: Vec<(&str, usize)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split('\t').map(str::trim);
        let (file, wnid) = match (fields.next(), fields.next()) {
            (Some(file), Some(wnid)) if !file.is_empty() && !wnid.is_empty() => (file, wnid),
            _ => {
                return Err(Error::data(
                    &path,
                    format!("line {line_no}: expected `<file>\\t<wnid>\\t...`, got `{line}`"),
                ));
            }
        };
        if Path::new(file).file_name() != Some(OsStr::new(file)) {
            return Err(Error::data(
                &path,
                format!("line {line_no}: `{file}` is not a plain file name"),
            ));
        }
        let Some(&label) = label_of.get(wnid) else {
            return Err(Error::data(
                &path,
                format!("line {line_no}: unknown wnid `{wnid}` (not in wnids.txt) for `{file}`"),
            ));
        };
        if !seen.insert(file) {
            return Err(Error::data(
                &path,
                format!("line {line_no}: `{file}` is listed twice"),
            ));
        }
        entries.push((file, label));
    }
    entries.sort_unstable_by_key(|&(file, _)| file);
    let images = root.join("val").join("images");
    let mut kept = vec![0usize; wnids.len()];
    let mut files = Vec::new();
    for (file, label) in entries {
        if kept[label] < limit {
            kept[label] += 1;
            files.push((images.join(file), label));
        }
    }
    Ok(files)
}

/// Decodes one 64×64 image as RGB and appends its `3 × 64 × 64` CHW bytes to `out`.
fn decode_into(path: &Path, out: &mut Vec<u8>) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let img = image::load_from_memory(&bytes).map_err(|source| Error::Image {
        path: path.to_path_buf(),
        source,
    })?;
    if (img.width(), img.height()) != (SIDE, SIDE) {
        return Err(Error::ImageSize {
            path: path.to_path_buf(),
            width: img.width(),
            height: img.height(),
            expected_width: SIDE,
            expected_height: SIDE,
        });
    }
    // Greyscale (and any other colour type) → RGB, replicating a single channel.
    let rgb = img.into_rgb8();
    // HWC interleaved → CHW planes.
    let raw = rgb.as_raw();
    for ch in 0..3 {
        out.extend(raw.iter().skip(ch).step_by(3));
    }
    Ok(())
}
