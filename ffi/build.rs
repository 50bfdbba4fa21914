//! Sets the SONAME of the shared library (cargo sets none) and restricts its
//! exported symbols to `pmq_*`, the way cargo-c does.

use std::env;
use std::path::PathBuf;

fn main() {
    let major: u32 = env::var("CARGO_PKG_VERSION_MAJOR")
        .unwrap()
        .parse()
        .unwrap();
    let minor: u32 = env::var("CARGO_PKG_VERSION_MINOR")
        .unwrap()
        .parse()
        .unwrap();
    // Before 1.0 every minor release may break the ABI, so the minor is part of the SONAME.
    let soname = if major == 0 {
        format!("libpmq.so.0.{minor}")
    } else {
        format!("libpmq.so.{major}")
    };
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
        let script = manifest.join("pmq.map");
        println!("cargo:rerun-if-changed={}", script.display());
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
        println!(
            "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
            script.display()
        );
    }
    println!("cargo:rustc-env=PMQ_SONAME={soname}");
    println!("cargo:rerun-if-changed=build.rs");
}
