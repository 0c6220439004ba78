//! Build script: with the `tch` feature, compiles `csrc/torch_ops.cpp`, a small C++ shim over two
//! LibTorch backward kernels that `tch` cannot bind (see `src/model/fused/`). Without `tch` it
//! does nothing.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_TCH").is_some() {
        tch_shim::build();
    }
}

#[cfg(feature = "tch")]
mod tch_shim {
    use std::path::PathBuf;

    /// The libtorch directory `torch-sys` linked against: its `cargo:libtorch_lib` (`<dir>/lib`,
    /// seen here as `DEP_TCH_LIBTORCH_LIB` because `torch-sys` has `links = "tch"`), else
    /// `$LIBTORCH`, the variable `scripts/setup-libtorch.sh` exports.
    fn libtorch_dir() -> PathBuf {
        for var in ["DEP_TCH_LIBTORCH_LIB", "LIBTORCH"] {
            println!("cargo:rerun-if-env-changed={var}");
        }
        if let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB") {
            let lib = PathBuf::from(lib);
            if let Some(dir) = lib.parent().filter(|d| d.join("include").is_dir()) {
                return dir.to_path_buf();
            }
        }
        match std::env::var_os("LIBTORCH") {
            Some(dir) => PathBuf::from(dir),
            None => panic!(
                "advcal's `tch` feature needs libtorch's headers: set LIBTORCH \
                 (`eval \"$(bash scripts/setup-libtorch.sh --print-env)\"`)"
            ),
        }
    }

    pub fn build() {
        let dir = libtorch_dir();
        let include = std::env::var_os("LIBTORCH_INCLUDE")
            .map(PathBuf::from)
            .unwrap_or_else(|| dir.clone());
        println!("cargo:rerun-if-env-changed=LIBTORCH_INCLUDE");
        println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
        println!("cargo:rerun-if-changed=csrc/torch_ops.cpp");
        // The same ABI default as torch-sys (libtorch 2.x is built with the C++11 ABI). With
        // `LIBTORCH_USE_PYTORCH`, torch-sys asks Python instead; a mismatch fails at link time.
        let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
        cc::Build::new()
            .cpp(true)
            .pic(true)
            .warnings(false)
            .include(include.join("include"))
            .include(include.join("include/torch/csrc/api/include"))
            .flag("-std=c++17")
            .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
            .file("csrc/torch_ops.cpp")
            .compile("advcal_torch_ops");
        // The shim calls into libtorch_cpu/c10, which torch-sys links; naming them again after
        // the static shim keeps the link order right under `--as-needed`. A static libtorch
        // (`LIBTORCH_STATIC`, linked whole by torch-sys) has no shared libraries to name.
        println!("cargo:rerun-if-env-changed=LIBTORCH_STATIC");
        let static_torch = std::env::var("LIBTORCH_STATIC")
            .is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false" | "FALSE"));
        if !static_torch {
            let lib = dir.join("lib");
            println!("cargo:rustc-link-search=native={}", lib.display());
            println!("cargo:rustc-link-lib=dylib=torch_cpu");
            println!("cargo:rustc-link-lib=dylib=c10");
        }
    }
}

#[cfg(not(feature = "tch"))]
mod tch_shim {
    pub fn build() {}
}
