//! Data: the real CIFAR-10 files, error cases, fuzzing, image folders, batching, augmentation.

use crate::common::*;
use advcal::Error;
use advcal::data::*;
use proptest::prelude::*;
use std::io::Write;

#[test]
#[cfg_attr(
    not(feature = "data-tests"),
    ignore = "needs CIFAR-10 (ADVCAL_CIFAR10_DIR or ../shared/data) and the data-tests feature"
)]
fn real_cifar10_test_batch() {
    let dir = cifar_dir();
    let test = load_cifar10(&dir, Split::Test).unwrap();
    assert_eq!(test.len(), 10_000);
    assert_eq!(test.label_histogram(), vec![1000; 10]);
    assert_eq!(test.image_shape(), [3, 32, 32]);
    // First record, checked independently with Python on the raw file.
    assert_eq!(test.labels()[0], 0);
    let img = test.image(0).unwrap();
    assert_eq!(img.iter().map(|&p| p as u64).sum::<u64>(), 475_641);
    assert_eq!((img[0], img[1024], img[2048]), (141, 159, 179));
    assert_eq!(test.class_names()[3], "cat");
}

#[test]
#[cfg_attr(
    not(feature = "data-tests"),
    ignore = "needs CIFAR-10 (ADVCAL_CIFAR10_DIR or ../shared/data) and the data-tests feature"
)]
fn real_cifar10_training_batch() {
    let dir = cifar_dir();
    let train = load_cifar10(&dir, Split::Train).unwrap();
    // data_batch_{1,3,4,5}: data_batch_2 is held back, so 40,000 images (the shared README).
    assert_eq!(train.len(), 40_000);
    // Per-batch class counts of the README, summed in file order.
    let per_batch = [
        [1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981],
        [994, 1042, 965, 997, 990, 1029, 978, 1015, 961, 1029],
        [1003, 963, 1041, 976, 1004, 1021, 1004, 981, 1024, 983],
        [1014, 1014, 952, 1016, 997, 1025, 980, 977, 1003, 1022],
    ];
    let expected: Vec<usize> = (0..10)
        .map(|c| per_batch.iter().map(|b| b[c]).sum())
        .collect();
    assert_eq!(train.label_histogram(), expected);
    // The first record of data_batch_1 comes first (files are read in order).
    assert_eq!(train.labels()[0], 6);
    assert_eq!(
        train
            .image(0)
            .unwrap()
            .iter()
            .map(|&p| p as u64)
            .sum::<u64>(),
        317_790
    );
}

#[test]
fn bundled_sample_is_real_cifar10() {
    let train = sample(Split::Train);
    let test = sample(Split::Test);
    assert_eq!((train.len(), test.len()), (2000, 1000));
    assert_eq!(test.label_histogram(), vec![100; 10]);
    assert_eq!(
        train
            .image(0)
            .unwrap()
            .iter()
            .map(|&p| p as u64)
            .sum::<u64>(),
        317_790
    );
    assert_eq!(
        test.image(0)
            .unwrap()
            .iter()
            .map(|&p| p as u64)
            .sum::<u64>(),
        475_641
    );
}

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    p
}

#[test]
fn malformed_cifar_files_are_typed_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mut record = vec![3u8];
    record.extend(vec![7u8; 3072]);
    let truncated = write(tmp.path(), "truncated.bin", &record[..3000]);
    match read_cifar10_file(&truncated) {
        Err(Error::Data { path, reason }) => {
            assert_eq!(path, truncated);
            assert!(reason.contains("multiple"), "{reason}");
        }
        other => panic!("expected a data error, got {other:?}"),
    }
    let mut bad_label = record.clone();
    bad_label[0] = 10;
    let p = write(tmp.path(), "label.bin", &bad_label);
    assert!(
        matches!(read_cifar10_file(&p), Err(Error::Data { reason, .. }) if reason.contains("label 10"))
    );
    let p = write(tmp.path(), "empty.bin", &[]);
    assert!(matches!(read_cifar10_file(&p), Err(Error::Data { .. })));
    assert!(matches!(
        read_cifar10_file(tmp.path().join("missing.bin")),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        load_cifar10(tmp.path(), Split::Test),
        Err(Error::Data { .. })
    ));
    // CIFAR-100: two label bytes, fine label < 100.
    let mut rec100 = vec![19u8, 99u8];
    rec100.extend(vec![1u8; 3072]);
    let p = write(tmp.path(), "c100.bin", &rec100);
    let fine = read_cifar100_file(&p, Cifar100Labels::Fine).unwrap();
    assert_eq!((fine.labels()[0], fine.num_classes()), (99, 100));
    let coarse = read_cifar100_file(&p, Cifar100Labels::Coarse).unwrap();
    assert_eq!((coarse.labels()[0], coarse.num_classes()), (19, 20));
    rec100[1] = 100;
    let p = write(tmp.path(), "c100bad.bin", &rec100);
    assert!(read_cifar100_file(&p, Cifar100Labels::Fine).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn cifar_reader_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..7000), records in 0usize..3) {
        let tmp = tempfile::tempdir().unwrap();
        // Random garbage, and valid-length files with random labels.
        let p = write(tmp.path(), "fuzz.bin", &bytes);
        let _ = read_cifar10_file(&p);
        let _ = read_cifar100_file(&p, Cifar100Labels::Fine);
        let sized: Vec<u8> = bytes.iter().cycle().take(records * 3073).copied().collect();
        let p = write(tmp.path(), "sized.bin", &sized);
        match read_cifar10_file(&p) {
            Ok(d) => prop_assert_eq!(d.len(), records),
            Err(e) => prop_assert!(matches!(e, Error::Data { .. }), "unexpected error {}", e),
        }
    }
}

#[test]
fn image_folder_reader() {
    let tmp = tempfile::tempdir().unwrap();
    for (class, color) in [("zebra", [255u8, 0, 0]), ("ant", [0, 0, 255])] {
        let dir = tmp.path().join(class);
        std::fs::create_dir(&dir).unwrap();
        for i in 0..3 {
            let img = image::RgbImage::from_pixel(10 + i, 12, image::Rgb(color));
            img.save(dir.join(format!("{i}.png"))).unwrap();
        }
        std::fs::write(dir.join("notes.txt"), "not an image").unwrap();
    }
    let data = load_image_folder(
        tmp.path(),
        ImageFolderOptions {
            size: 8,
            max_per_class: None,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(data.len(), 6);
    assert_eq!(
        data.class_names(),
        &["ant".to_string(), "zebra".to_string()]
    );
    assert_eq!(data.label_histogram(), vec![3, 3]);
    assert_eq!(data.image_shape(), [3, 8, 8]);
    // "ant" (label 0) is blue: red plane 0, blue plane 255.
    let img = data.image(0).unwrap();
    assert_eq!((img[0], img[128]), (0, 255));
    let limited = load_image_folder(
        tmp.path(),
        ImageFolderOptions {
            size: 8,
            max_per_class: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(limited.len(), 2);

    // Resize the shorter side + centre crop (torchvision's ImageNet transform): a 30×10 image
    // (left and right thirds red, middle green) keeps its size, and the crop is the middle.
    let wide = tempfile::tempdir().unwrap();
    std::fs::create_dir(wide.path().join("c")).unwrap();
    let img = image::RgbImage::from_fn(30, 10, |x, _| {
        image::Rgb(if (10..20).contains(&x) {
            [0, 255, 0]
        } else {
            [255, 0, 0]
        })
    });
    img.save(wide.path().join("c").join("0.png")).unwrap();
    let options = ImageFolderOptions::default()
        .with_size(10)
        .with_center_crop(10);
    let cropped = load_image_folder(wide.path(), options).unwrap();
    assert_eq!(cropped.image_shape(), [3, 10, 10]);
    let px = cropped.image(0).unwrap();
    assert!(px[..100].iter().all(|&r| r == 0), "red plane of the crop");
    assert!(
        px[100..200].iter().all(|&g| g == 255),
        "green plane of the crop"
    );
    // Shorter side 10 → 5: 15×5, then the central 5×5 (still green only in the middle third).
    let smaller = load_image_folder(
        wide.path(),
        ImageFolderOptions::default()
            .with_size(5)
            .with_center_crop(5),
    )
    .unwrap();
    assert_eq!(smaller.image_shape(), [3, 5, 5]);
    // An odd margin: 15 columns cropped to 10 leave 2.5 on each side, which torchvision's
    // CenterCrop rounds to 2 (Python's round: halves to even), not 3.
    let odd = tempfile::tempdir().unwrap();
    std::fs::create_dir(odd.path().join("c")).unwrap();
    let ramp = image::RgbImage::from_fn(15, 10, |x, _| image::Rgb([0, (x * 10) as u8, 0]));
    ramp.save(odd.path().join("c").join("0.png")).unwrap();
    let options = ImageFolderOptions::default()
        .with_size(10)
        .with_center_crop(10);
    let cropped = load_image_folder(odd.path(), options).unwrap();
    let green = &cropped.image(0).unwrap()[100..110];
    assert_eq!(
        green.first(),
        Some(&20),
        "first column of the crop: {green:?}"
    );
    assert!(matches!(
        load_image_folder(
            wide.path(),
            ImageFolderOptions::default()
                .with_size(8)
                .with_center_crop(9)
        ),
        Err(Error::InvalidParameter { .. })
    ));

    // Errors name the offending path.
    std::fs::write(
        tmp.path().join("zebra").join("broken.jpg"),
        b"definitely not a jpeg",
    )
    .unwrap();
    match load_image_folder(tmp.path(), ImageFolderOptions::default()) {
        Err(Error::Image { path, .. }) => assert!(path.ends_with("zebra/broken.jpg")),
        other => panic!("expected an image error, got {other:?}"),
    }
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        load_image_folder(empty.path(), ImageFolderOptions::default()),
        Err(Error::Data { .. })
    ));
    std::fs::create_dir(empty.path().join("cls")).unwrap();
    assert!(
        matches!(load_image_folder(empty.path(), ImageFolderOptions::default()), Err(Error::Data { path, .. }) if path.ends_with("cls"))
    );
}

#[test]
fn batching_shuffling_and_subsets() {
    let data = sample(Split::Test).take(50);
    let order = |seed| {
        data.batches(16, Some(seed), None)
            .unwrap()
            .flat_map(|b| b.indices)
            .collect::<Vec<_>>()
    };
    let a = order(1);
    assert_eq!(a, order(1), "same seed, same order");
    assert_ne!(a, order(2));
    let mut sorted = a.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..50).collect::<Vec<_>>(),
        "every image exactly once"
    );
    let sizes: Vec<usize> = data
        .batches(16, None, None)
        .unwrap()
        .map(|b| b.len())
        .collect();
    assert_eq!(sizes, vec![16, 16, 16, 2]);
    let batch = data.batches(4, None, None).unwrap().next().unwrap();
    let (x, y) = batch.to_tensors::<NB>(&dev());
    assert_eq!(x.dims(), [4, 3, 32, 32]);
    assert_eq!(y.dims(), [4]);
    let v = to_vec(x);
    assert!(v.iter().all(|p| (0.0..=1.0).contains(p)));
    assert!((v[0] - data.image(0).unwrap()[0] as f32 / 255.0).abs() < 1e-7);

    let strat = sample(Split::Train).stratified(7, 3);
    assert_eq!(strat.label_histogram(), vec![7; 10]);
    assert!(data.batches(0, None, None).is_err());
    assert!(data.subset(&[1000]).is_err());
    let (head, tail) = data.split_at(20);
    assert_eq!((head.len(), tail.len()), (20, 30));
}

#[test]
fn augmentation_crop_and_flip() {
    let mut rng = advcal::rng::seeded_rng(0);
    // 1×2×3 image: values 1..6.
    let src = [1u8, 2, 3, 4, 5, 6];
    let mut dst = [0u8; 6];
    let flip = Augmentation {
        padding: 0,
        horizontal_flip: true,
    };
    let mut saw_flip = false;
    for _ in 0..20 {
        flip.apply(&src, [1, 2, 3], &mut rng, &mut dst);
        assert!(dst == src || dst == [3, 2, 1, 6, 5, 4], "{dst:?}");
        saw_flip |= dst == [3, 2, 1, 6, 5, 4];
    }
    assert!(saw_flip);
    let crop = Augmentation {
        padding: 1,
        horizontal_flip: false,
    };
    for _ in 0..20 {
        crop.apply(&src, [1, 2, 3], &mut rng, &mut dst);
        // A shifted copy: every non-zero value keeps its neighbours' order.
        assert!(dst.iter().all(|v| *v == 0 || src.contains(v)));
    }
    // Augmented batches are reproducible.
    let data = sample(Split::Test).take(8);
    let a = data
        .batches(8, Some(5), Some(Augmentation::cifar()))
        .unwrap()
        .next()
        .unwrap()
        .images;
    let b = data
        .batches(8, Some(5), Some(Augmentation::cifar()))
        .unwrap()
        .next()
        .unwrap()
        .images;
    assert_eq!(a, b);
}
