//! `root/<class>/<image>` folders (Tiny ImageNet, ImageNet-style sets).

use super::ImageDataset;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Options of [`load_image_folder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageFolderOptions {
    /// Every image is resized to `size × size` (bilinear) if it is not already that size.
    pub size: u32,
    /// Keep at most this many images per class (`None` = all).
    pub max_per_class: Option<usize>,
}

impl Default for ImageFolderOptions {
    fn default() -> Self {
        Self {
            size: 64,
            max_per_class: None,
        }
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
/// # Errors
///
/// Every error names the path: [`Error::InvalidParameter`] on `size == 0`; [`Error::Io`] when a
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
    let classes: Vec<PathBuf> = sorted_entries(root)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    if classes.is_empty() {
        return Err(Error::data(root, "no class sub-folder found"));
    }
    let s = options.size;
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
            let img = if img.dimensions() == (s, s) {
                img
            } else {
                image::imageops::resize(&img, s, s, image::imageops::FilterType::Triangle)
            };
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
