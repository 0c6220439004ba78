//! Real image data: CIFAR-10/100 binary files, the official Tiny ImageNet-200 layout, image
//! folders, an in-memory [`ImageDataset`] with subsets, seeded shuffling, augmentation and
//! batching into Burn tensors, and the small CIFAR-10 sample bundled with the repository.

mod augment;
mod cifar;
mod dataset;
mod folder;
mod sample;
mod tiny_imagenet;

pub use augment::Augmentation;
pub use cifar::{
    CIFAR10_CLASSES, Cifar100Labels, Split, load_cifar10, load_cifar100, read_cifar10_file,
    read_cifar100_file,
};
pub use dataset::{Batch, Batches, ImageDataset, images_from_f32};
pub use folder::{ImageFolderOptions, load_image_folder};
pub use sample::{
    CIFAR10_DIR_ENV, bundled_cifar10_sample, bundled_sample_dir, cifar10_dir_from_env,
    load_cifar10_splits, resolve_cifar10_dir,
};
pub use tiny_imagenet::{TinyImageNetOptions, load_tiny_imagenet, load_tiny_imagenet_with};
