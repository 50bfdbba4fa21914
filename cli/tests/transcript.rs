//! Replays the command-line sessions the documentation shows, so that they stay
//! true: the ```console blocks of README.md and of the book's CLI chapter,
//! docs/src/cli.md (tests/readme/snippets.py checks that no other file has one).
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
            in_console = line.trim_end().starts_with("```console");
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
    for doc in ["README.md", "docs/src/cli.md"] {
        replay(doc);
    }
}

fn replay(doc: &str) {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(doc);
    let markdown = std::fs::read_to_string(&doc_path).unwrap();
    let steps = parse(&markdown);
    assert!(steps.len() >= 8, "the transcript lost its commands");
    assert!(steps.iter().all(|s| s.command.contains("pmq ")));
    for sub in ["create", "send", "ls", "recv", "rm", "stat"] {
        assert!(
            steps
                .iter()
                .any(|s| s.command.contains(&format!("pmq {sub} "))),
            "{doc}: the transcript shows no `pmq {sub}`"
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
            "{doc} line {}: `$ {}`",
            step.line, step.command
        );
        assert!(
            out.status.success(),
            "{doc} line {}: `{}` failed; show its exit with `; echo \"exit $?\"`",
            step.line,
            step.command
        );
    }
}
