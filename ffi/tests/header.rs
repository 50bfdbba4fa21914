//! The committed include/pmq.h must be exactly what the pinned cbindgen
//! generates from the sources, with version macros matching Cargo.toml.
//! `PMQ_BLESS=1 cargo test -p pmq-ffi --test header` rewrites it.

use std::path::PathBuf;

fn version_macros() -> String {
    let major: u32 = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap();
    let minor: u32 = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap();
    let patch: u32 = env!("CARGO_PKG_VERSION_PATCH").parse().unwrap();
    format!(
        "\n/* Version of this header; compare with pmq_version_number() at run time. */\n\
         #define PMQ_VERSION_MAJOR {major}\n\
         #define PMQ_VERSION_MINOR {minor}\n\
         #define PMQ_VERSION_PATCH {patch}\n\
         #define PMQ_VERSION_STRING \"{}\"\n\
         /* MAJOR * 10000 + MINOR * 100 + PATCH */\n\
         #define PMQ_VERSION_NUMBER {}\n\
         /* The reference's MESSAGE_QUEUES_SUPPORTED, at build time (see also\n \
         * pmq_message_queues_supported()). */\n\
         #if defined(__linux__)\n\
         #define PMQ_MESSAGE_QUEUES_SUPPORTED 1\n\
         #else\n\
         #define PMQ_MESSAGE_QUEUES_SUPPORTED 0\n\
         #endif\n\
         \n/* The timeout_seconds of a `_timeout` call that waits forever: positive\n \
         * infinity (ffi/src/queue.rs PMQ_FOREVER; cbindgen cannot write a float\n \
         * infinity). NaN and negative timeouts are PMQ_STATUS_INVALID_ARGUMENT. */\n\
         #define PMQ_FOREVER ((double)INFINITY)\n",
        env!("CARGO_PKG_VERSION"),
        major * 10000 + minor * 100 + patch
    )
}

/// The repository's top level (this crate is ffi/ inside it).
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn generate() -> String {
    let ffi = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut config = cbindgen::Config::from_file(repo().join("cbindgen.toml")).unwrap();
    config.after_includes = Some(version_macros());
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&ffi)
        .with_config(config)
        .generate()
        .expect("cbindgen failed")
        .write(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn header_is_up_to_date() {
    let path = repo().join("include/pmq.h");
    let fresh = generate();
    if std::env::var_os("PMQ_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/pmq.h is stale: run `PMQ_BLESS=1 cargo test -p pmq-ffi --test header` and commit it"
    );
}
