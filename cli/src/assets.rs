//! The man page and shell completions, generated from the command line
//! definition itself (clap_mangen, clap_complete), so they never drift from
//! `pmq --help`.
//!
//! The build runs the freshly built binary with [`ENV`] set to a directory
//! (`make cli-assets`, part of `make` and `make install`, mk/install.mk):
//!
//! ```text
//! PMQ_GENERATE_ASSETS_DIR=target/release/pmq-assets target/release/pmq
//! ```
//!
//! writes `pmq.1` (man page), `pmq.bash`, `_pmq` (zsh) and `pmq.fish` there
//! and exits. (A build script cannot do it: the definition lives in the
//! binary, next to the code it drives.)

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use clap_complete::Shell;

/// The environment variable that asks the binary to write its assets.
pub const ENV: &str = "PMQ_GENERATE_ASSETS_DIR";

/// Writes the man page and the completions for `cmd` into `dir` (created if
/// missing).
pub fn generate(mut cmd: clap::Command, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    cmd.build();
    write_file(&dir.join("pmq.1"), |w| man_page(&cmd, w))?;
    for (shell, file) in [
        (Shell::Bash, "pmq.bash"),
        (Shell::Zsh, "_pmq"),
        (Shell::Fish, "pmq.fish"),
    ] {
        write_file(&dir.join(file), |w| {
            clap_complete::generate(shell, &mut cmd, "pmq", w);
            Ok(())
        })?;
    }
    Ok(())
}

/// pmq.1: clap_mangen's page for `pmq`, then one section per command
/// (`PMQ SEND`, `PMQ BRIDGE OUT`, ...) with its usage, text and options, so
/// the one page documents every command.
fn man_page(cmd: &clap::Command, w: &mut dyn Write) -> std::io::Result<()> {
    clap_mangen::Man::new(cmd.clone()).render(w)?;
    command_sections("pmq", cmd, w)
}

/// The sections of `cmd`'s subcommands, depth first, in definition order.
fn command_sections(path: &str, cmd: &clap::Command, w: &mut dyn Write) -> std::io::Result<()> {
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let path = format!("{path} {}", sub.get_name());
        writeln!(w, ".SH \"{}\"", path.to_uppercase())?;
        let usage = sub.clone().bin_name(&path).render_usage().to_string();
        let usage = usage.trim_start_matches("Usage: ");
        writeln!(w, ".B {}", roff_escape(usage))?;
        writeln!(w, ".PP")?;
        let text = sub
            .get_long_about()
            .or_else(|| sub.get_about())
            .map(|t| t.to_string())
            .unwrap_or_default();
        for para in text.split("\n\n") {
            writeln!(w, "{}", roff_escape(para.trim()))?;
            writeln!(w, ".PP")?;
        }
        let mut opts = Vec::new();
        clap_mangen::Man::new(sub.clone()).render_options_section(&mut opts)?;
        let opts = String::from_utf8_lossy(&opts).replace(".SH OPTIONS", ".SS Options");
        w.write_all(opts.as_bytes())?;
        command_sections(&path, sub, w)?;
    }
    Ok(())
}

/// Text for roff: backslashes as `\e`, `-` as `\-`, and a line starting
/// with `.` or `'` kept from being read as a request.
fn roff_escape(s: &str) -> String {
    s.lines()
        .map(|line| {
            let line = line.replace('\\', "\\e").replace('-', "\\-");
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes through a temporary file and renames it into place, so a reader
/// (or an interrupted build) never sees half a file.
fn write_file(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-pmq-assets");
    let mut w = BufWriter::new(File::create(&tmp)?);
    body(&mut w)?;
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, path)
}
