//! [`ImageDataset`] as a burn-train data source: the [`Dataset`] impl, the item and the batcher.

use crate::data::ImageDataset;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::prelude::*;

/// One image of an [`ImageDataset`] as burn's data loaders see it.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledImage {
    /// Raw pixels, `C × H × W`, `u8` (scaled to `[0, 1]` by the batcher).
    pub pixels: Vec<u8>,
    /// Class index.
    pub label: usize,
    /// Position in the data set (strategies with per-example state key on it).
    pub index: usize,
}

impl Dataset<LabeledImage> for ImageDataset {
    fn get(&self, index: usize) -> Option<LabeledImage> {
        Some(LabeledImage {
            pixels: self.image(index)?.to_vec(),
            label: *self.labels().get(index)?,
            index,
        })
    }

    fn len(&self) -> usize {
        ImageDataset::len(self)
    }
}

/// A mini-batch on a device: images in `[0, 1]`, labels and data-set indices.
#[derive(Debug, Clone)]
pub struct ImageBatch<B: Backend> {
    /// `[N, C, H, W]`, values in `[0, 1]`.
    pub images: Tensor<B, 4>,
    /// `[N]` class indices.
    pub targets: Tensor<B, 1, Int>,
    /// Data-set index of every image (host side; used for per-batch seeds).
    pub indices: Vec<usize>,
}

/// Stacks [`LabeledImage`]s into an [`ImageBatch`] of the given image shape.
///
/// ```
/// use advcal::data::ImageDataset;
/// use advcal::learner::ImageBatcher;
/// use burn::backend::NdArray;
/// use burn::data::dataloader::batcher::Batcher;
/// use burn::data::dataset::Dataset;
///
/// let data = ImageDataset::new(vec![0, 255, 0, 255, 128, 128, 128, 128], vec![1, 0], [1, 2, 2], 2)
///     .unwrap();
/// let items = vec![data.get(0).unwrap(), data.get(1).unwrap()];
/// let batch: advcal::learner::ImageBatch<NdArray> =
///     ImageBatcher::new([1, 2, 2]).batch(items, &Default::default());
/// assert_eq!(batch.images.dims(), [2, 1, 2, 2]);
/// assert_eq!(batch.indices, vec![0, 1]);
/// assert_eq!(batch.images.max().into_scalar(), 1.0);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ImageBatcher {
    shape: [usize; 3],
}

impl ImageBatcher {
    /// A batcher for images of shape `[C, H, W]` (see [`ImageDataset::image_shape`]).
    pub fn new(shape: [usize; 3]) -> Self {
        Self { shape }
    }

    /// A batcher for the images of `data`.
    pub fn for_dataset(data: &ImageDataset) -> Self {
        Self::new(data.image_shape())
    }
}

impl<B: Backend> Batcher<B, LabeledImage, ImageBatch<B>> for ImageBatcher {
    fn batch(&self, items: Vec<LabeledImage>, device: &B::Device) -> ImageBatch<B> {
        let [c, h, w] = self.shape;
        let n = items.len();
        let per = c * h * w;
        let mut pixels = Vec::with_capacity(n * per);
        let mut labels = Vec::with_capacity(n);
        let mut indices = Vec::with_capacity(n);
        for item in items {
            // Every item comes from a data set whose images all have `shape` (checked when the
            // data set was built); a foreign item of another size is cut or zero-padded rather
            // than panicking inside burn's loader thread.
            pixels.extend(
                item.pixels
                    .iter()
                    .map(|&p| f32::from(p) / 255.0)
                    .chain(std::iter::repeat(0.0))
                    .take(per),
            );
            labels.push(item.label as i64);
            indices.push(item.index);
        }
        ImageBatch {
            images: Tensor::from_data(TensorData::new(pixels, [n, c, h, w]), device),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
            indices,
        }
    }
}
