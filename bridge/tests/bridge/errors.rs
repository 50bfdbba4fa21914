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
            vec![
                "bridge",
                "out",
                &name,
                "--nats",
                "http://x:1",
                "--subject",
                "s",
                "--journal",
                &j,
            ],
            2,
            "not a NATS server URL",
        ),
        (
            vec![
                "bridge",
                "out",
                &name,
                "--nats",
                "nats://",
                "--subject",
                "s",
                "--journal",
                &j,
            ],
            2,
            "not a NATS server URL",
        ),
        (
            vec![
                "bridge",
                "out",
                &name,
                "--nats",
                &dead,
                "--subject",
                "a.*",
                "--journal",
                &j,
            ],
            2,
            "no wildcards",
        ),
        (
            vec![
                "bridge",
                "out",
                &name,
                "--nats",
                &dead,
                "--subject",
                "a b",
                "--journal",
                &j,
            ],
            2,
            "white space",
        ),
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
            vec![
                "bridge",
                "out",
                &name,
                "--nats",
                &dead,
                "--subject",
                "a",
                "--journal",
                &j,
            ],
            1,
            "is nats-server running",
        ),
        (
            vec![
                "bridge",
                "out",
                "/pmq-no-such-queue-x",
                "--nats",
                &dead,
                "--subject",
                "a",
                "--journal",
                &j,
            ],
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
        &[
            "bridge",
            "out",
            &name,
            "--nats",
            &url,
            "--subject",
            "nostream.here",
            "--journal",
            &j,
        ],
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
