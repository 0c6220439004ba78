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
    load_cifar10, load_cifar100, read_cifar100_file, read_cifar10_file, Cifar100Labels, Split,
    CIFAR10_CLASSES,
};
pub use dataset::{images_from_f32, Batch, Batches, ImageDataset};
pub use folder::{load_image_folder, ImageFolderOptions};
pub use sample::{
    bundled_cifar10_sample, bundled_sample_dir, cifar10_dir_from_env, load_cifar10_splits,
    resolve_cifar10_dir, CIFAR10_DIR_ENV,
};
pub use tiny_imagenet::{load_tiny_imagenet, load_tiny_imagenet_with, TinyImageNetOptions};
