//! Async producer and consumer on one queue with pmq::tokio::AsyncQueue:
//! `cargo run --example tokio_queue --features tokio [-- shm]`.
use std::time::Duration;

use pmq::tokio::AsyncQueue;
use pmq::{BackendKind, OpenOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> pmq::Result<()> {
    let backend = match std::env::args().nth(1).as_deref() {
        Some("shm") => BackendKind::Shm,
        _ => BackendKind::Kernel,
    };
    // The queue name: the second argument if given (make test passes one with
    // its per-run prefix), else one of this process's own.
    let name = std::env::args()
        .nth(2)
        .unwrap_or_else(|| format!("/pmq-tokio-example-{}", std::process::id()));
    let open = || {
        OpenOptions::new()
            .backend(backend)
            .create(true)
            .max_messages(2) // small: the producer waits for room
            .max_message_size(64)
            .open(Some(&name))
    };
    let producer = AsyncQueue::new(open()?)?;
    let consumer = AsyncQueue::new(open()?)?;
    let send_all = async {
        for i in 0..5u32 {
            producer.send(format!("job {i}").as_bytes(), i % 2).await?;
        }
        producer.send(b"", 0).await // the end
    };
    let receive_all = async {
        loop {
            // Cancel-safe: a receive dropped by the timeout took nothing.
            match tokio::time::timeout(Duration::from_secs(5), consumer.receive_vec()).await {
                Ok(Ok((m, _))) if m.is_empty() => return Ok(()),
                Ok(Ok((m, p))) => {
                    println!("received (priority {p}): {}", String::from_utf8_lossy(&m))
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => println!("nothing for 5 s"),
            }
        }
    };
    let (sent, received) = tokio::join!(send_all, receive_all);
    pmq::unlink_from(backend, &name)?;
    sent.and(received)
}
