//! `root/<class>/<image>` folders (Tiny ImageNet, ImageNet-style sets).

use super::ImageDataset;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Options of [`load_image_folder`].
///
/// ```
/// use advcal::data::ImageFolderOptions;
/// // torchvision's ImageNet evaluation transform: Resize(256) + CenterCrop(224).
/// let imagenet = ImageFolderOptions::default().with_size(256).with_center_crop(224);
/// assert_eq!(imagenet.output_size(), 224);
/// assert_eq!(ImageFolderOptions::default().output_size(), 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageFolderOptions {
    /// Without [`center_crop`](Self::center_crop): every image is resized to `size × size`
    /// (bilinear) if it is not already that size. With it: the shorter side is resized to
    /// `size`, keeping the aspect ratio (torchvision's `Resize(size)`).
    pub size: u32,
    /// Then the central `c × c` square is cut out (torchvision's `CenterCrop(c)`; `None` = no
    /// crop). Must not exceed `size`.
    pub center_crop: Option<u32>,
    /// Keep at most this many images per class (`None` = all).
    pub max_per_class: Option<usize>,
}

impl Default for ImageFolderOptions {
    fn default() -> Self {
        Self {
            size: 64,
            center_crop: None,
            max_per_class: None,
        }
    }
}

impl ImageFolderOptions {
    /// Sets [`size`](Self::size).
    pub fn with_size(mut self, size: u32) -> Self {
        self.size = size;
        self
    }

    /// Sets [`center_crop`](Self::center_crop).
    pub fn with_center_crop(mut self, crop: u32) -> Self {
        self.center_crop = Some(crop);
        self
    }

    /// Sets [`max_per_class`](Self::max_per_class).
    pub fn with_max_per_class(mut self, n: usize) -> Self {
        self.max_per_class = Some(n);
        self
    }

    /// The side of the square images the loader returns.
    pub fn output_size(&self) -> u32 {
        self.center_crop.unwrap_or(self.size)
    }

    /// One decoded image through the resize (and crop) of these options.
    fn apply(&self, img: image::RgbImage) -> image::RgbImage {
        use image::imageops::{FilterType, crop_imm, resize};
        let s = self.size;
        let Some(c) = self.center_crop else {
            return if img.dimensions() == (s, s) {
                img
            } else {
                resize(&img, s, s, FilterType::Triangle)
            };
        };
        let (w, h) = img.dimensions();
        // The shorter side becomes `s`; the longer one keeps the aspect ratio (rounded down,
        // as torchvision's `Resize(int)` computes it).
        let (nw, nh) = if w <= h {
            (s, ((s as u64 * h as u64) / w as u64) as u32)
        } else {
            (((s as u64 * w as u64) / h as u64) as u32, s)
        };
        let img = if (nw, nh) == (w, h) {
            img
        } else {
            resize(&img, nw, nh, FilterType::Triangle)
        };
        // torchvision's CenterCrop: top = round((h − c) / 2), left = round((w − c) / 2), with
        // Python's round (halves to even). `c ≤ size ≤ min(nw, nh)`, checked by the loader.
        let left = ((nw - c) as f64 / 2.0).round_ties_even() as u32;
        let top = ((nh - c) as f64 / 2.0).round_ties_even() as u32;
        crop_imm(&img, left, top, c, c).to_image()
    }
}

/// Whether `path` has an image extension the readers decode (`png`, `jpg`, `jpeg`, any case).
pub(crate) fn is_image(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("png" | "jpg" | "jpeg")
    )
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|err| Error::io(dir, err)))
        .collect::<Result<Vec<_>>>()?;
    entries.sort();
    Ok(entries)
}

/// Loads `root/<class>/<image>.{png,jpg,jpeg}` as RGB images: classes are the sub-folders in
/// sorted order (label = position), files are read in sorted order.
///
/// Images of any size are brought to one square size by [`ImageFolderOptions`]: a plain resize
/// (the default), or torchvision's resize-shorter-side + centre crop for ImageNet models.
///
/// # Errors
///
/// Every error names the path: [`Error::InvalidParameter`] on `size == 0` or a crop of 0 or
/// larger than `size`; [`Error::Io`] when a
/// folder cannot be listed; [`Error::Data`] when the root has no class folder or a class folder
/// has no image; [`Error::Image`] (with the decoder's error as its source) when an image cannot be
/// opened or decoded.
pub fn load_image_folder(
    root: impl AsRef<Path>,
    options: ImageFolderOptions,
) -> Result<ImageDataset> {
    let root = root.as_ref();
    if options.size == 0 {
        return Err(Error::param("size", "must be at least 1"));
    }
    if let Some(c) = options.center_crop
        && (c == 0 || c > options.size)
    {
        return Err(Error::param(
            "center_crop",
            format!(
                "must be between 1 and the resize size {}, got {c}",
                options.size
            ),
        ));
    }
    let classes: Vec<PathBuf> = sorted_entries(root)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    if classes.is_empty() {
        return Err(Error::data(root, "no class sub-folder found"));
    }
    let s = options.output_size();
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    let mut names = Vec::with_capacity(classes.len());
    for (label, class_dir) in classes.iter().enumerate() {
        names.push(
            class_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let files: Vec<PathBuf> = sorted_entries(class_dir)?
            .into_iter()
            .filter(|p| p.is_file() && is_image(p))
            .collect();
        if files.is_empty() {
            return Err(Error::data(
                class_dir,
                "class folder holds no .png/.jpg image",
            ));
        }
        for file in files
            .iter()
            .take(options.max_per_class.unwrap_or(usize::MAX))
        {
            let img = image::open(file)
                .map_err(|source| Error::Image {
                    path: file.clone(),
                    source,
                })?
                .to_rgb8();
            let img = options.apply(img);
            // HWC interleaved → CHW planes.
            let raw = img.as_raw();
            let hw = (s * s) as usize;
            for ch in 0..3 {
                pixels.extend((0..hw).map(|i| raw[i * 3 + ch]));
            }
            labels.push(label);
        }
    }
    let n = names.len();
    Ok(ImageDataset::new(pixels, labels, [3, s as usize, s as usize], n)?.with_class_names(names))
}
