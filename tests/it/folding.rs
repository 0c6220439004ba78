//! BatchNorm folding for frozen inference-mode attacks.

use crate::common::*;
use advcal::model::*;

#[test]
fn tmp_dump_records() {
    let Some(dir) = std::env::var_os("ADVCAL_FOLD_DUMP") else {
        return;
    };
    let d = dev();
    for arch in Architecture::ALL {
        let mut c = AnyModelConfig::new(arch, 10);
        c.width = 4;
        c.width_divisor = 16;
        let m = seeded_init::<AD, _>(&d, 1, || c.init::<AD>(&d));
        std::fs::write(
            std::path::Path::new(&dir).join(arch.name()),
            snapshot::<AD, _>(&m),
        )
        .unwrap();
    }
}
