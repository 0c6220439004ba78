//! Checkpoints: round trip, truncation, wrong architecture, atomic writes.

use crate::common::*;
use advcal::checkpoint::*;
use advcal::model::{Classifier, Mode, SmallCnnConfig};
use advcal::Error;
use burn::module::{AutodiffModule, Module};

#[test]
fn round_trip_preserves_outputs_and_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let config = SmallCnnConfig::new().with_width(4);
    let model = tiny_cnn(4, 3);
    let path = tmp.path().join("sub").join("model.ckpt");
    let meta = CheckpointMeta::new("small_cnn", &config)
        .unwrap()
        .with_epoch(7)
        .with_seed(42)
        .with_step(70);
    save_checkpoint::<AD, _>(&path, &model, &meta, None).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "temporary file left behind");
    let (loaded, m) = load_model::<AD, _, _>(
        &path,
        config.init::<AD>(&dev()),
        "small_cnn",
        &config,
        &dev(),
    )
    .unwrap();
    assert_eq!((m.epoch, m.seed, m.step), (7, 42, 70));
    let x = images::<NB>([2, 3, 8, 8], 1, &dev());
    let a = to_vec(model.valid().forward_mode(x.clone(), Mode::Eval));
    let b = to_vec(loaded.valid().forward_mode(x, Mode::Eval));
    assert_eq!(
        a, b,
        "BatchNorm statistics and weights must round-trip exactly"
    );
}

#[test]
fn corrupt_or_foreign_checkpoints_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let config = SmallCnnConfig::new().with_width(4);
    let model = config.init::<NB>(&dev());
    let path = tmp.path().join("m.ckpt");
    save_checkpoint::<NB, _>(
        &path,
        &model,
        &CheckpointMeta::new("small_cnn", &config).unwrap(),
        None,
    )
    .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let load = |p: &std::path::Path| {
        load_model::<NB, _, _>(p, config.init::<NB>(&dev()), "small_cnn", &config, &dev())
    };

    for cut in [0, 5, 11, 20, bytes.len() / 2, bytes.len() - 1] {
        let p = tmp.path().join(format!("cut{cut}.ckpt"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        assert!(
            matches!(load(&p), Err(Error::Checkpoint { .. })),
            "truncated at {cut} loaded"
        );
    }
    let mut garbage = bytes.clone();
    let mid = garbage.len() / 2;
    for b in &mut garbage[mid..mid + 64] {
        *b = 0xFF;
    }
    let p = tmp.path().join("garbage.ckpt");
    std::fs::write(&p, &garbage).unwrap();
    assert!(load(&p).is_err());
    assert!(matches!(
        load(&tmp.path().join("missing.ckpt")),
        Err(Error::Io { .. })
    ));

    // Wrong architecture name, wrong config, and a record of another width.
    assert!(matches!(
        load_model::<NB, _, _>(
            &path,
            config.init::<NB>(&dev()),
            "resnet18",
            &config,
            &dev()
        ),
        Err(Error::Checkpoint { .. })
    ));
    let wider = SmallCnnConfig::new().with_width(8);
    assert!(matches!(
        load_model::<NB, _, _>(&path, wider.init::<NB>(&dev()), "small_cnn", &wider, &dev()),
        Err(Error::Checkpoint { .. })
    ));
    let file = read_checkpoint(&path).unwrap();
    let err = load_record_into::<NB, _>(&path, wider.init::<NB>(&dev()), file.model, &dev());
    assert!(
        matches!(err, Err(Error::Checkpoint { .. })),
        "a width-4 record loaded into a width-8 model"
    );
    let _ = model.num_params();
}
