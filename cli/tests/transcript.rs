//! Replays the session in README.md's "command line" section (the README's "command line"
//! section) so that what the documentation shows stays true.
//!
//! Each `$ ` line of a ```console block runs in `sh -c` with the real `pmq`
//! first on PATH and stderr merged into stdout; the lines up to the next `$`
//! are its expected output. The doc's queue `/demo` becomes a unique name and
//! its user `alice` stands for whoever runs the test; runs of spaces are
//! compared as one (table columns widen with the longer name).

mod common;

use std::path::Path;
use std::process::Command;

use common::{text, user_name, Guard};

struct Step {
    command: String,
    expected: Vec<String>,
    line: usize,
}

fn parse(doc: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_console = false;
    for (i, line) in doc.lines().enumerate() {
        if !in_console {
            in_console = line.trim_end() == "```console";
            continue;
        }
        if line.trim_end() == "```" {
            in_console = false;
        } else if let Some(cmd) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: cmd.to_string(),
                expected: Vec::new(),
                line: i + 1,
            });
        } else {
            steps
                .last_mut()
                .expect("output before the first `$` line")
                .expected
                .push(line.to_string());
        }
    }
    steps
}

fn squeeze(s: &str) -> String {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Replaces `word` where it stands alone (not inside a longer word).
fn replace_word(s: &str, word: &str, with: &str) -> String {
    s.split(' ')
        .map(|w| if w == word { with } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_documented_session_is_true() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&doc_path).unwrap();
    // Only the "Command line" section: up to the next second-level heading.
    let start = readme
        .find("\n## Command line\n")
        .expect("README.md has a \"## Command line\" section");
    let rest = &readme[start + 1..];
    let doc = match rest[3..].find("\n## ") {
        Some(end) => &rest[..end + 3],
        None => rest,
    };
    let steps = parse(doc);
    assert!(steps.len() >= 8, "the transcript lost its commands");
    assert!(steps.iter().all(|s| s.command.contains("pmq ")));
    for sub in ["create", "send", "ls", "recv", "rm", "stat"] {
        assert!(
            steps
                .iter()
                .any(|s| s.command.contains(&format!("pmq {sub} "))),
            "the transcript shows no `pmq {sub}`"
        );
    }

    let q = Guard::new("transcript");
    let bin_dir = Path::new(common::PMQ).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let me = user_name();
    for step in &steps {
        let command = step.command.replace("/demo", q.name());
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("umask 022; exec 2>&1; {command}"))
            .env("PATH", &path)
            .env_remove("PMQ_MQUEUE_DIR")
            .output()
            .unwrap();
        let actual: Vec<String> = text(&out.stdout)
            .lines()
            .map(|l| squeeze(&replace_word(l, &me, "alice")))
            .collect();
        let expected: Vec<String> = step
            .expected
            .iter()
            .map(|l| squeeze(&l.replace("/demo", q.name())))
            .collect();
        assert_eq!(
            actual, expected,
            "README.md (command line section) line {}: `$ {}`",
            step.line, step.command
        );
        assert!(
            out.status.success(),
            "line {}: `{}` failed; show its exit with `; echo \"exit $?\"`",
            step.line,
            step.command
        );
    }
}
