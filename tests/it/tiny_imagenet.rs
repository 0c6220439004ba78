//! Tiny ImageNet-200 reader: the real data in the official layout, and broken copies of it.

use advcal::Error;
use advcal::data::*;
use std::path::{Path, PathBuf};

/// Environment variable naming a Tiny ImageNet-200 directory in the official layout.
const TINY_IMAGENET_DIR_ENV: &str = "ADVCAL_TINY_IMAGENET_DIR";

/// The real Tiny ImageNet-200 directory: `$ADVCAL_TINY_IMAGENET_DIR`, else
/// `../shared/data/tiny-imagenet-200` next to the repository (for tests marked as needing it;
/// see `common::data_dir`).
pub fn tiny_imagenet_dir() -> PathBuf {
    crate::common::data_dir(TINY_IMAGENET_DIR_ENV, "../shared/data/tiny-imagenet-200")
}

/// The wnids of `wnids.txt`, sorted (the label order), read independently of the crate.
fn sorted_wnids(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("wnids.txt")).unwrap();
    let mut wnids: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    wnids.sort();
    wnids
}

fn label_of(wnids: &[String], wnid: &str) -> usize {
    wnids.iter().position(|w| w == wnid).unwrap()
}

/// The three channel planes of image `i`.
fn planes(data: &ImageDataset, i: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let img = data.image(i).unwrap();
    let hw = 64 * 64;
    (
        img[..hw].to_vec(),
        img[hw..2 * hw].to_vec(),
        img[2 * hw..].to_vec(),
    )
}

#[test]
#[cfg_attr(
    not(feature = "data-tests"),
    ignore = "needs Tiny ImageNet-200 (ADVCAL_TINY_IMAGENET_DIR or ../shared/data) and the data-tests feature"
)]
fn real_tiny_imagenet_training_images() {
    let dir = tiny_imagenet_dir();
    let wnids = sorted_wnids(&dir);
    assert_eq!(wnids.len(), 200);
    let options = TinyImageNetOptions::default().with_max_per_class(2);
    let train = load_tiny_imagenet_with(&dir, Split::Train, options).unwrap();
    assert_eq!(train.len(), 400);
    assert_eq!(train.num_classes(), 200);
    assert_eq!(train.image_shape(), [3, 64, 64]);
    assert_eq!(train.pixels().len(), 400 * 3 * 64 * 64);
    assert_eq!(train.label_histogram(), vec![2; 200]);
    // Class by class in sorted-wnid order (torchvision's ImageFolder labels).
    let expected: Vec<usize> = (0..200).flat_map(|c| [c, c]).collect();
    assert_eq!(train.labels(), expected.as_slice());
    assert_eq!(wnids[0], "n01443537");
    assert_eq!(train.class_names()[0], "goldfish");
    assert_eq!(
        train.class_names()[label_of(&wnids, "n01629819")],
        "European fire salamander"
    );
    // A colour image has distinct planes.
    let (r, g, b) = planes(&train, 0);
    assert!(r != g || g != b);
    // train/n03544143/images/n03544143_0.JPEG is a one-channel (greyscale) JPEG: it is the
    // first image of its class, so at position 2 × label; its three planes are equal.
    let grey_label = label_of(&wnids, "n03544143");
    assert_eq!(grey_label, 109);
    let i = 2 * grey_label;
    assert_eq!(train.labels()[i], grey_label);
    let (r, g, b) = planes(&train, i);
    assert_eq!(r, g);
    assert_eq!(g, b);
    assert!(r.iter().any(|&p| p != r[0]), "not a constant image");
}

#[test]
#[cfg_attr(
    not(feature = "data-tests"),
    ignore = "needs Tiny ImageNet-200 (ADVCAL_TINY_IMAGENET_DIR or ../shared/data) and the data-tests feature"
)]
fn real_tiny_imagenet_validation_one_per_class() {
    let dir = tiny_imagenet_dir();
    let wnids = sorted_wnids(&dir);
    let options = TinyImageNetOptions::default().with_max_per_class(1);
    let val = load_tiny_imagenet_with(&dir, Split::Test, options).unwrap();
    assert_eq!(val.len(), 200);
    assert_eq!(val.label_histogram(), vec![1; 200]);
    assert_eq!(val.image_shape(), [3, 64, 64]);
    // File-name order: val_0.JPEG (n03444034), val_1.JPEG (n04067472), val_10.JPEG (n04371430),
    // each the first of its class (val_annotations.txt).
    assert_eq!(
        val.labels()[..3],
        [
            label_of(&wnids, "n03444034"),
            label_of(&wnids, "n04067472"),
            label_of(&wnids, "n04371430"),
        ]
    );
    // val_10.JPEG is greyscale.
    let (r, g, b) = planes(&val, 2);
    assert_eq!(r, g);
    assert_eq!(g, b);
    let (r, g, b) = planes(&val, 0);
    assert!(r != g || g != b);
}

#[test]
#[cfg_attr(
    not(feature = "data-tests"),
    ignore = "needs Tiny ImageNet-200 (ADVCAL_TINY_IMAGENET_DIR or ../shared/data) and the data-tests feature"
)]
fn real_tiny_imagenet_full_validation_set() {
    let dir = tiny_imagenet_dir();
    let started = std::time::Instant::now();
    let val = load_tiny_imagenet(&dir, Split::Test).unwrap();
    eprintln!(
        "Tiny ImageNet validation set: {} images in {:.2?}",
        val.len(),
        started.elapsed()
    );
    assert_eq!(val.len(), 10_000);
    assert_eq!(val.label_histogram(), vec![50; 200]);
}

/// The whole training split (20,000 images in the shared copy, 100,000 in the official one):
/// `cargo test --release -- --ignored real_tiny_imagenet_full_training_set`.
#[test]
#[ignore = "decodes every training JPEG; needs Tiny ImageNet-200 (ADVCAL_TINY_IMAGENET_DIR or ../shared/data)"]
fn real_tiny_imagenet_full_training_set() {
    let dir = tiny_imagenet_dir();
    let started = std::time::Instant::now();
    let train = load_tiny_imagenet(&dir, Split::Train).unwrap();
    eprintln!(
        "Tiny ImageNet training set: {} images in {:.2?}",
        train.len(),
        started.elapsed()
    );
    let per_class = train.len() / 200;
    assert!(per_class > 0);
    assert_eq!(train.label_histogram(), vec![per_class; 200]);
}

// ----- Small copies of the layout, intact and broken. -----

fn rgb(path: &Path, value: [u8; 3]) {
    image::RgbImage::from_pixel(64, 64, image::Rgb(value))
        .save(path)
        .unwrap();
}

/// A two-class copy of the official layout:
///
/// * `wnids.txt` lists `n02`, `n01` (unsorted, with a blank line): labels n01 → 0, n02 → 1;
///   `words.txt` names n01 only (n02 falls back to its wnid).
/// * `train/n01/images`: `n01_0.JPEG` (red 200, JPEG), `n01_1.png` (red 1), `n01_10.png`
///   (red 10), `n01_2.png` (red 2) and a `notes.txt` that is not an image;
///   `train/n02/images/n02_0.png` is greyscale (77).
/// * `val/images`: `val_0.png` (n02), `val_1.png` (n01), `val_10.png` (n01), `val_2.png` (n02),
///   listed out of order in `val_annotations.txt` (one line with a CRLF ending).
fn layout(root: &Path) {
    std::fs::write(root.join("wnids.txt"), "n02\nn01\n\n").unwrap();
    std::fs::write(
        root.join("words.txt"),
        "n00\tsomething else\nn01\tgoldfish, Carassius auratus\n",
    )
    .unwrap();
    let n01 = root.join("train/n01/images");
    let n02 = root.join("train/n02/images");
    std::fs::create_dir_all(&n01).unwrap();
    std::fs::create_dir_all(&n02).unwrap();
    rgb(&n01.join("n01_0.JPEG"), [200, 0, 0]);
    for k in [1u8, 10, 2] {
        rgb(&n01.join(format!("n01_{k}.png")), [k, 50, 60]);
    }
    std::fs::write(n01.join("notes.txt"), "not an image").unwrap();
    std::fs::write(
        root.join("train/n01/n01_boxes.txt"),
        "n01_0.JPEG\t0\t0\t63\t63\n",
    )
    .unwrap();
    image::GrayImage::from_pixel(64, 64, image::Luma([77]))
        .save(n02.join("n02_0.png"))
        .unwrap();
    let val = root.join("val/images");
    std::fs::create_dir_all(&val).unwrap();
    for (k, wnid) in [(0u8, "n02"), (1, "n01"), (10, "n01"), (2, "n02")] {
        rgb(
            &val.join(format!("val_{k}.png")),
            [k, 100, wnid.as_bytes()[2]],
        );
    }
    std::fs::write(
        root.join("val/val_annotations.txt"),
        "val_2.png\tn02\t0\t0\t63\t63\nval_10.png\tn01\t1\t2\t3\t4\r\nval_0.png\tn02\t0\t0\t1\t1\nval_1.png\tn01\t5\t5\t9\t9\n",
    )
    .unwrap();
}

fn annotations(root: &Path) -> PathBuf {
    root.join("val/val_annotations.txt")
}

#[test]
fn small_layout_reads_like_the_official_one() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    layout(root);

    let train = load_tiny_imagenet(root, Split::Train).unwrap();
    assert_eq!(train.num_classes(), 2);
    assert_eq!(train.image_shape(), [3, 64, 64]);
    assert_eq!(
        train.class_names(),
        &["goldfish".to_string(), "n02".to_string()]
    );
    // Sorted wnids, then file names in lexicographic order: _0, _1, _10, _2.
    assert_eq!(train.labels(), &[0, 0, 0, 0, 1]);
    let red = |i: usize| train.image(i).unwrap()[0];
    assert!(red(0).abs_diff(200) <= 8, "JPEG red {}", red(0));
    assert_eq!((red(1), red(2), red(3)), (1, 10, 2));
    // Greyscale → three equal planes.
    assert!(train.image(4).unwrap().iter().all(|&p| p == 77));

    let limited = load_tiny_imagenet_with(
        root,
        Split::Train,
        TinyImageNetOptions::default().with_max_per_class(2),
    )
    .unwrap();
    assert_eq!(limited.labels(), &[0, 0, 1]);
    assert_eq!(limited.image(1).unwrap()[0], 1);

    // Validation: file-name order val_0, val_1, val_10, val_2.
    let val = load_tiny_imagenet(root, Split::Test).unwrap();
    assert_eq!(val.labels(), &[1, 0, 0, 1]);
    let first =
        |d: &ImageDataset| -> Vec<u8> { (0..d.len()).map(|i| d.image(i).unwrap()[0]).collect() };
    assert_eq!(first(&val), vec![0, 1, 10, 2]);
    assert_eq!(val.class_names(), train.class_names());
    let one = load_tiny_imagenet_with(
        root,
        Split::Test,
        TinyImageNetOptions {
            max_per_class: Some(1),
        },
    )
    .unwrap();
    assert_eq!(one.labels(), &[1, 0]);
    assert_eq!(first(&one), vec![0, 1]);

    // No words.txt: every name falls back to the wnid.
    std::fs::remove_file(root.join("words.txt")).unwrap();
    let val = load_tiny_imagenet(root, Split::Test).unwrap();
    assert_eq!(val.class_names(), &["n01".to_string(), "n02".to_string()]);

    assert!(matches!(
        load_tiny_imagenet_with(
            root,
            Split::Train,
            TinyImageNetOptions {
                max_per_class: Some(0)
            }
        ),
        Err(Error::InvalidParameter {
            name: "max_per_class",
            ..
        })
    ));
}

#[test]
fn broken_wnids_are_data_errors_naming_wnids_txt() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    layout(root);
    let wnids = root.join("wnids.txt");

    std::fs::remove_file(&wnids).unwrap();
    for split in [Split::Train, Split::Test] {
        match load_tiny_imagenet(root, split) {
            Err(e @ Error::Data { .. }) => {
                let Error::Data { ref path, .. } = e else {
                    unreachable!()
                };
                assert_eq!(path, &wnids);
                assert!(e.to_string().contains("wnids.txt"), "{e}");
            }
            other => panic!("expected a data error, got {other:?}"),
        }
    }

    std::fs::write(&wnids, "\n  \n").unwrap();
    match load_tiny_imagenet(root, Split::Train) {
        Err(Error::Data { path, reason }) => {
            assert_eq!(path, wnids);
            assert!(reason.contains("no wnid"), "{reason}");
        }
        other => panic!("expected a data error, got {other:?}"),
    }

    std::fs::write(&wnids, "n01\nn02\nn01\n").unwrap();
    match load_tiny_imagenet(root, Split::Train) {
        Err(Error::Data { path, reason }) => {
            assert_eq!(path, wnids);
            assert!(
                reason.contains("n01") && reason.contains("line 3"),
                "{reason}"
            );
        }
        other => panic!("expected a data error, got {other:?}"),
    }
}

#[test]
fn unknown_wnid_in_val_annotations_names_the_file_line_and_wnid() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    layout(root);
    let ann = annotations(root);
    let mut text = std::fs::read_to_string(&ann).unwrap();
    text += "val_3.png\tn07\t0\t0\t1\t1\n";
    std::fs::write(&ann, text).unwrap();
    // The training split does not read the annotations.
    assert!(load_tiny_imagenet(root, Split::Train).is_ok());
    match load_tiny_imagenet(root, Split::Test) {
        Err(e @ Error::Data { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("val_annotations.txt"), "{msg}");
            assert!(msg.contains("n07") && msg.contains("line 5"), "{msg}");
            let Error::Data { path, .. } = e else {
                unreachable!()
            };
            assert_eq!(path, ann);
        }
        other => panic!("expected a data error, got {other:?}"),
    }

    // A line without a wnid, and a missing annotations file.
    std::fs::write(&ann, "val_0.png\n").unwrap();
    assert!(
        matches!(load_tiny_imagenet(root, Split::Test), Err(Error::Data { path, reason }) if path == ann && reason.contains("line 1"))
    );
    std::fs::remove_file(&ann).unwrap();
    assert!(
        matches!(load_tiny_imagenet(root, Split::Test), Err(Error::Data { path, .. }) if path == ann)
    );
}

#[test]
fn missing_images_and_folders_are_errors_naming_the_path() {
    // An image listed in val_annotations.txt but absent.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    layout(root);
    let missing = root.join("val/images/val_1.png");
    std::fs::remove_file(&missing).unwrap();
    match load_tiny_imagenet(root, Split::Test) {
        Err(e @ Error::Io { .. }) => {
            assert!(e.to_string().contains("val_1.png"), "{e}");
            let Error::Io { path, source } = e else {
                unreachable!()
            };
            assert_eq!(path, missing);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    // With one image per class, val_1.png is still the first of n01: still an error.
    assert!(
        load_tiny_imagenet_with(
            root,
            Split::Test,
            TinyImageNetOptions::default().with_max_per_class(1)
        )
        .is_err()
    );

    // A class of wnids.txt without a training folder.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    layout(root);
    std::fs::remove_dir_all(root.join("train/n02")).unwrap();
    match load_tiny_imagenet(root, Split::Train) {
        Err(Error::Data { path, reason }) => {
            assert_eq!(path, root.join("train/n02/images"));
            assert!(reason.contains("n02"), "{reason}");
        }
        other => panic!("expected a data error, got {other:?}"),
    }
    // The validation split does not need train/.
    assert!(load_tiny_imagenet(root, Split::Test).is_ok());
}

#[test]
fn undecodable_and_wrongly_sized_images_are_image_errors() {
    // Garbage bytes in a training image.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    layout(root);
    let broken = root.join("train/n01/images/n01_1.png");
    std::fs::write(&broken, b"definitely not an image").unwrap();
    match load_tiny_imagenet(root, Split::Train) {
        Err(e @ Error::Image { .. }) => {
            // The decoder's error is kept as the source.
            let source = std::error::Error::source(&e).expect("a source").to_string();
            assert!(!source.is_empty() && e.to_string().contains(&source), "{e}");
            let Error::Image { path, source } = e else {
                unreachable!()
            };
            assert_eq!(path, broken);
            assert!(
                matches!(source, image::ImageError::Unsupported(_)),
                "{source:?}"
            );
        }
        other => panic!("expected an image error, got {other:?}"),
    }
    // Not reached when the limit stops before it (n01_0, then n01_1 is second).
    assert!(
        load_tiny_imagenet_with(
            root,
            Split::Train,
            TinyImageNetOptions::default().with_max_per_class(1)
        )
        .is_ok()
    );

    // A truncated JPEG in the validation images: the decoder's message is kept.
    let val = root.join("val/images/val_2.png");
    let mut jpeg = Vec::new();
    image::RgbImage::from_pixel(64, 64, image::Rgb([9, 9, 9]))
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    // Cut inside the headers (quantisation tables), before any scan.
    assert!(jpeg.len() > 300 && jpeg[..3] == [0xFF, 0xD8, 0xFF]);
    std::fs::write(&val, &jpeg[..100]).unwrap();
    match load_tiny_imagenet(root, Split::Test) {
        Err(Error::Image { path, source }) => {
            assert_eq!(path, val);
            assert!(!source.to_string().is_empty());
        }
        other => panic!("expected an image error, got {other:?}"),
    }

    // An image that is not 64×64 is rejected, not resized.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    layout(root);
    let small = root.join("val/images/val_10.png");
    image::RgbImage::from_pixel(32, 48, image::Rgb([1, 2, 3]))
        .save(&small)
        .unwrap();
    match load_tiny_imagenet(root, Split::Test) {
        Err(
            e @ Error::ImageSize {
                width: 32,
                height: 48,
                expected_width: 64,
                expected_height: 64,
                ..
            },
        ) => {
            assert!(
                e.to_string().contains("32×48") && e.to_string().contains("64×64"),
                "{e}"
            );
            let Error::ImageSize { path, .. } = e else {
                unreachable!()
            };
            assert_eq!(path, small);
        }
        other => panic!("expected an image size error, got {other:?}"),
    }
}

/// The normalisation constants shipped for Tiny ImageNet are the statistics of its training
/// images (checked on 25 images per class, 5,000 in all, to 0.01).
#[test]
#[cfg_attr(
    not(feature = "data-tests"),
    ignore = "needs Tiny ImageNet-200 (ADVCAL_TINY_IMAGENET_DIR or ../shared/data) and the data-tests feature"
)]
fn tiny_imagenet_normalisation_constants_match_the_training_images() {
    let dir = tiny_imagenet_dir();
    let options = TinyImageNetOptions::default().with_max_per_class(25);
    let data = load_tiny_imagenet_with(&dir, Split::Train, options).unwrap();
    let (mut sum, mut sq, mut count) = ([0f64; 3], [0f64; 3], 0f64);
    for i in 0..data.len() {
        let image = data.image(i).unwrap();
        for c in 0..3 {
            for &p in &image[c * 4096..(c + 1) * 4096] {
                let v = p as f64 / 255.0;
                sum[c] += v;
                sq[c] += v * v;
            }
        }
        count += 4096.0;
    }
    for c in 0..3 {
        let mean = sum[c] / count;
        let std = (sq[c] / count - mean * mean).sqrt();
        let (m, s) = (
            advcal::model::TINY_IMAGENET_MEAN[c] as f64,
            advcal::model::TINY_IMAGENET_STD[c] as f64,
        );
        assert!((mean - m).abs() < 0.01, "channel {c}: mean {mean} vs {m}");
        assert!((std - s).abs() < 0.01, "channel {c}: std {std} vs {s}");
    }
}
