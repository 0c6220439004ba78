//! In-memory image data sets and batching.

use super::Augmentation;
use crate::error::{Error, Result};
use crate::rng::{derive_seed, seeded_rng};
use burn::prelude::*;
use rand::seq::SliceRandom;

/// Images stored as `u8` `[N, C, H, W]` with integer labels.
///
/// ```
/// use advcal::data::ImageDataset;
/// let data = ImageDataset::new(vec![0u8; 2 * 3 * 4 * 4], vec![0, 1], [3, 4, 4], 2).unwrap();
/// assert_eq!(data.len(), 2);
/// assert_eq!(data.label_histogram(), vec![1, 1]);
/// ```
#[derive(Debug, Clone)]
pub struct ImageDataset {
    pixels: Vec<u8>,
    labels: Vec<usize>,
    shape: [usize; 3],
    num_classes: usize,
    class_names: Vec<String>,
}

impl ImageDataset {
    /// Builds a data set from `u8` pixels (`N × C × H × W`, channel planes row-major) and labels.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for an image shape without pixels; [`Error::ShapeMismatch`]
    /// when `pixels.len() != N · C · H · W`; [`Error::LabelOutOfRange`] for a label
    /// `≥ num_classes`.
    pub fn new(
        pixels: Vec<u8>,
        labels: Vec<usize>,
        shape: [usize; 3],
        num_classes: usize,
    ) -> Result<Self> {
        let per_image: usize = shape.iter().product();
        if per_image == 0 {
            return Err(Error::param(
                "shape",
                format!("image shape {shape:?} has no pixel"),
            ));
        }
        if pixels.len() != labels.len() * per_image {
            return Err(Error::ShapeMismatch {
                shape: vec![labels.len(), shape[0], shape[1], shape[2]],
                len: pixels.len(),
            });
        }
        if let Some(&bad) = labels.iter().find(|&&l| l >= num_classes) {
            return Err(Error::LabelOutOfRange {
                label: bad as i64,
                num_classes,
            });
        }
        let class_names = (0..num_classes).map(|c| c.to_string()).collect();
        Ok(Self {
            pixels,
            labels,
            shape,
            num_classes,
            class_names,
        })
    }

    /// Replaces the class names (must have `num_classes` entries; otherwise unchanged).
    pub fn with_class_names(mut self, names: Vec<String>) -> Self {
        if names.len() == self.num_classes {
            self.class_names = names;
        }
        self
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the data set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `[C, H, W]` of every image.
    pub fn image_shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Class names, in label order.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// All labels.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The `u8` pixels of image `i` (`C × H × W`), or `None` when out of range.
    pub fn image(&self, i: usize) -> Option<&[u8]> {
        let per = self.per_image();
        self.pixels.get(i * per..(i + 1) * per)
    }

    /// The raw `u8` pixels of every image.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    fn per_image(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of images per class.
    pub fn label_histogram(&self) -> Vec<usize> {
        let mut h = vec![0; self.num_classes];
        for &l in &self.labels {
            h[l] += 1;
        }
        h
    }

    /// Appends another data set with the same image shape and class count.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] when the image shapes or class counts differ.
    pub fn append(&mut self, other: ImageDataset) -> Result<()> {
        if other.shape != self.shape || other.num_classes != self.num_classes {
            return Err(Error::param("append", "image shape or class count differ"));
        }
        self.pixels.extend_from_slice(&other.pixels);
        self.labels.extend_from_slice(&other.labels);
        Ok(())
    }

    /// The images at `indices`, in that order.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] for an index `≥ len()`.
    pub fn subset(&self, indices: &[usize]) -> Result<ImageDataset> {
        let per = self.per_image();
        let mut pixels = Vec::with_capacity(indices.len() * per);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            let img = self.image(i).ok_or_else(|| {
                Error::param(
                    "indices",
                    format!("index {i} out of range ({} images)", self.len()),
                )
            })?;
            pixels.extend_from_slice(img);
            labels.push(self.labels[i]);
        }
        Ok(ImageDataset {
            pixels,
            labels,
            shape: self.shape,
            num_classes: self.num_classes,
            class_names: self.class_names.clone(),
        })
    }

    /// The first `n` images (all of them when `n ≥ len`).
    pub fn take(&self, n: usize) -> ImageDataset {
        let idx: Vec<usize> = (0..n.min(self.len())).collect();
        self.subset(&idx).expect("indices in range")
    }

    /// Up to `per_class` images of every class, chosen at random with `seed`, then ordered by
    /// their original index.
    pub fn stratified(&self, per_class: usize, seed: u64) -> ImageDataset {
        let mut rng = seeded_rng(seed);
        let mut chosen = Vec::new();
        for c in 0..self.num_classes {
            let mut idx: Vec<usize> = (0..self.len()).filter(|&i| self.labels[i] == c).collect();
            idx.shuffle(&mut rng);
            chosen.extend(idx.into_iter().take(per_class));
        }
        chosen.sort_unstable();
        self.subset(&chosen).expect("indices in range")
    }

    /// Splits into the first `n` images and the rest (e.g. a held-out set for temperature scaling).
    pub fn split_at(&self, n: usize) -> (ImageDataset, ImageDataset) {
        let n = n.min(self.len());
        let head: Vec<usize> = (0..n).collect();
        let tail: Vec<usize> = (n..self.len()).collect();
        (
            self.subset(&head).expect("in range"),
            self.subset(&tail).expect("in range"),
        )
    }

    /// Iterates over mini-batches.
    ///
    /// * `shuffle`: `Some(seed)` shuffles the order with that seed (use a different seed per
    ///   epoch, e.g. [`derive_seed`]`(seed, epoch)`); `None` keeps the stored order.
    /// * `augmentation`: applied per image with a seed derived from the shuffle seed and the
    ///   image position, so a run is reproducible.
    /// * The last batch may be smaller than `batch_size`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] on `batch_size == 0`, [`Error::NoSamples`] for an empty data
    /// set.
    pub fn batches(
        &self,
        batch_size: usize,
        shuffle: Option<u64>,
        augmentation: Option<Augmentation>,
    ) -> Result<Batches<'_>> {
        if batch_size == 0 {
            return Err(Error::param("batch_size", "must be at least 1"));
        }
        if self.is_empty() {
            return Err(Error::NoSamples);
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        if let Some(seed) = shuffle {
            order.shuffle(&mut seeded_rng(seed));
        }
        Ok(Batches {
            data: self,
            order,
            batch_size,
            next: 0,
            augmentation,
            seed: shuffle.unwrap_or(0),
        })
    }

    /// The whole data set as one batch (handy for small evaluation sets).
    pub fn to_batch(&self) -> Batch {
        let idx: Vec<usize> = (0..self.len()).collect();
        make_batch(self, &idx, None, 0)
    }
}

/// Builds a `[N, C, H, W]` image tensor from raw `f32` values, checking the shape (4-D, non-empty,
/// matching length) and the pixel range `[0, 1]` first, so bad input is a typed error instead of
/// a panic inside Burn.
///
/// # Errors
///
/// [`Error::NotFourDimensional`] unless `shape` has 4 entries; [`Error::EmptyBatch`] when one
/// is 0; [`Error::ShapeMismatch`] when `values.len()` is not their product;
/// [`Error::PixelRange`] for a value outside `[0, 1]` or not finite.
///
/// ```
/// use advcal::data::images_from_f32;
/// use burn::backend::NdArray;
/// let d = Default::default();
/// let x = images_from_f32::<NdArray>(vec![0.5; 12], &[1, 3, 2, 2], &d).unwrap();
/// assert_eq!(x.dims(), [1, 3, 2, 2]);
/// assert!(images_from_f32::<NdArray>(vec![0.5; 12], &[3, 2, 2], &d).is_err());
/// ```
pub fn images_from_f32<B: Backend>(
    values: Vec<f32>,
    shape: &[usize],
    device: &B::Device,
) -> Result<Tensor<B, 4>> {
    let dims: [usize; 4] = shape
        .try_into()
        .map_err(|_| Error::NotFourDimensional(shape.to_vec()))?;
    if dims.contains(&0) {
        return Err(Error::EmptyBatch);
    }
    if values.len() != dims.iter().product::<usize>() {
        return Err(Error::ShapeMismatch {
            shape: shape.to_vec(),
            len: values.len(),
        });
    }
    // One pass: range and finiteness together (`f32::min` would silently skip a NaN).
    let (min, max, finite) = values.iter().fold(
        (f32::INFINITY, f32::NEG_INFINITY, true),
        |(lo, hi, ok), &v| (lo.min(v), hi.max(v), ok && v.is_finite()),
    );
    if !finite || min < 0.0 || max > 1.0 {
        return Err(Error::PixelRange {
            min: min as f64,
            max: max as f64,
        });
    }
    Ok(Tensor::from_data(TensorData::new(values, dims), device))
}

/// A mini-batch on the host: pixels in `[0, 1]` as `f32`, labels and dataset indices.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `N × C × H × W` values in `[0, 1]`.
    pub images: Vec<f32>,
    /// `N` labels.
    pub labels: Vec<usize>,
    /// Position of every image in the data set.
    pub indices: Vec<usize>,
    /// `[N, C, H, W]`.
    pub shape: [usize; 4],
}

impl Batch {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Uploads the images (`[N, C, H, W]`, float) to `device`.
    pub fn images_tensor<B: Backend>(&self, device: &B::Device) -> Tensor<B, 4> {
        Tensor::from_data(TensorData::new(self.images.clone(), self.shape), device)
    }

    /// Uploads the labels (`[N]`, int) to `device`.
    pub fn labels_tensor<B: Backend>(&self, device: &B::Device) -> Tensor<B, 1, Int> {
        let labels: Vec<i64> = self.labels.iter().map(|&l| l as i64).collect();
        Tensor::from_data(TensorData::new(labels, [self.labels.len()]), device)
    }

    /// Both tensors.
    pub fn to_tensors<B: Backend>(&self, device: &B::Device) -> (Tensor<B, 4>, Tensor<B, 1, Int>) {
        (self.images_tensor(device), self.labels_tensor(device))
    }
}

/// Iterator over mini-batches, see [`ImageDataset::batches`].
#[derive(Debug)]
pub struct Batches<'a> {
    data: &'a ImageDataset,
    order: Vec<usize>,
    batch_size: usize,
    next: usize,
    augmentation: Option<Augmentation>,
    seed: u64,
}

impl Iterator for Batches<'_> {
    type Item = Batch;
    fn next(&mut self) -> Option<Batch> {
        if self.next >= self.order.len() {
            return None;
        }
        let end = (self.next + self.batch_size).min(self.order.len());
        let batch = make_batch(
            self.data,
            &self.order[self.next..end],
            self.augmentation,
            derive_seed(self.seed, self.next as u64),
        );
        self.next = end;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.order.len() - self.next).div_ceil(self.batch_size);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches<'_> {}

fn make_batch(
    data: &ImageDataset,
    indices: &[usize],
    augmentation: Option<Augmentation>,
    seed: u64,
) -> Batch {
    let [c, h, w] = data.shape;
    let per = c * h * w;
    let mut images = Vec::with_capacity(indices.len() * per);
    let mut rng = seeded_rng(seed);
    let mut scratch = vec![0u8; per];
    for &i in indices {
        let img = data.image(i).expect("index in range");
        let img = match augmentation {
            Some(aug) => {
                aug.apply(img, [c, h, w], &mut rng, &mut scratch);
                &scratch[..]
            }
            None => img,
        };
        images.extend(img.iter().map(|&p| p as f32 / 255.0));
    }
    Batch {
        images,
        labels: indices.iter().map(|&i| data.labels[i]).collect(),
        indices: indices.to_vec(),
        shape: [indices.len(), c, h, w],
    }
}
