//! Each wrong argument or missing thing is one error line saying what to do.

use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::harness::*;
use pmq::BackendKind;

// ---------------------------------------------------------------- errors

#[test]
fn bridge_errors_are_one_line_with_what_to_do() {
    let mut h = Harness::without_server("errors", BackendKind::Kernel, 2, 64);
    let name = h.a.name.clone();
    let j = h.dir.join("j").display().to_string();
    let dead = format!("nats://127.0.0.1:{}", free_port());
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            refused_out(&name, "http://x:1", "s", &j),
            2,
            "not a NATS server URL",
        ),
        (
            refused_out(&name, "nats://", "s", &j),
            2,
            "not a NATS server URL",
        ),
        (refused_out(&name, &dead, "a.*", &j), 2, "no wildcards"),
        (refused_out(&name, &dead, "a b", &j), 2, "white space"),
        (
            vec![
                "bridge",
                "in",
                &name,
                "--nats",
                &dead,
                "--subject",
                "a",
                "--durable",
                "x.y",
                "--journal",
                &j,
            ],
            2,
            "not a JetStream name",
        ),
        (
            refused_out(&name, &dead, "a", &j),
            1,
            "is nats-server running",
        ),
        (
            refused_out("/pmq-no-such-queue-x", &dead, "a", &j),
            4,
            "does not exist",
        ),
    ];
    // The same line and exit status from pmq-bridge and through `pmq bridge`.
    for face in [Face::Program, Face::Pmq] {
        for (args, code, text) in &cases {
            run_refused(face, args, *code, text);
        }
    }
    // A server without the stream: the error says --create-stream.
    h.server = Some(Server::start(&h.dir));
    let url = h.url();
    run_refused(
        Face::Program,
        &refused_out(&name, &url, "nostream.here", &j),
        4,
        "--create-stream",
    );
    // One journal, two bridges: the second is refused.
    let mut first = h.bridge(
        out_args("kernel", &name, &url, "lock.s", Path::new(&j)),
        "first",
    );
    thread::sleep(Duration::from_millis(500));
    run_refused(
        Face::Program,
        &[
            "bridge",
            "out",
            &name,
            "--nats",
            &url,
            "--subject",
            "lock.s",
            "--create-stream",
            "--journal",
            &j,
        ],
        1,
        "in use by another pmq bridge",
    );
    assert_eq!(first.terminate(), 0, "{}", first.stderr());
}

/// `bridge out QUEUE --nats NATS --subject SUBJECT --journal JOURNAL`: the
/// arguments of an outbound bridge the refusal cases vary.
fn refused_out<'a>(
    queue: &'a str,
    nats: &'a str,
    subject: &'a str,
    journal: &'a str,
) -> Vec<&'a str> {
    vec![
        "bridge",
        "out",
        queue,
        "--nats",
        nats,
        "--subject",
        subject,
        "--journal",
        journal,
    ]
}
