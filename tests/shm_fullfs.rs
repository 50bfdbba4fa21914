//! Queue files with unallocated pages on a full tmpfs.
//! Touching such a page raised SIGBUS (the kernel cannot allocate it):
//! (a) slot pages punched out of a queue in use, then a receive (and a
//! repair walking them); (b) a header claiming 100,000 slots over a sparse
//! file with the lock "owner died", so the repair walks every slot. Now an
//! open allocates the holes or refuses (no room), and a handle that meets
//! a hole anyway gets Corrupted.
//!
//! Needs root to mount a private 4 MiB tmpfs (CI runs as root); without
//! it, the test prints SKIPPED and returns. The only test of this binary:
//! it points PMQ_SHM_DIR (read once per process) at the tmpfs.

use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use pmq::{BackendKind, ErrorKind, OpenOptions, Queue, Timeout};

const SHM: BackendKind = BackendKind::Shm;
/// Layout version 3: where the slots start (after the fixed part and the
/// ring of 4 bytes a cell, a power of two of cells, page aligned), and
/// header fields.
fn slots_at(capacity: u64) -> u64 {
    (335_872 + 4 * capacity.next_power_of_two()).next_multiple_of(4096)
}
const OFF_MAX_MESSAGES: u64 = 32;
const OFF_FILE_SIZE: u64 = 64;
/// The consumers' robust lock word (a receive takes it).
const OFF_CLOCK: u64 = 256;
/// A robust lock word with FUTEX_OWNER_DIED: "its owner died".
const OWNER_DIED: u32 = 0x4000_0000;

struct Umount(PathBuf);
impl Drop for Umount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn file(dir: &Path, name: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join(format!("pmq.{}", &name[1..])))
        .unwrap()
}

/// Writes into `filler` until the filesystem is full (ENOSPC).
fn fill(dir: &Path) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join("filler"))
        .unwrap();
    let chunk = vec![0x5au8; 4096];
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
                break;
            }
        }
    }
}

/// The capacity of `full_queue`'s queue.
const CAPACITY: u64 = 8;

fn full_queue(name: &str) -> Queue {
    let q = OpenOptions::new()
        .backend(SHM)
        .exclusive(true)
        .max_messages(CAPACITY as i64)
        .max_message_size(4000)
        .open(Some(name))
        .unwrap();
    for i in 0..8u8 {
        q.send(&[i; 4000], u32::from(i % 3), Timeout::TryOnce)
            .unwrap();
    }
    q
}

#[test]
fn unallocated_pages_on_a_full_tmpfs_give_statuses_not_sigbus() {
    let dir = std::env::temp_dir().join(format!("pmq-fullfs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "none"])
        .arg(&dir)
        .status();
    if !mounted.is_ok_and(|s| s.success()) {
        let _ = std::fs::remove_dir(&dir);
        eprintln!(
            "SKIPPED unallocated_pages_on_a_full_tmpfs_give_statuses_not_sigbus: mount -t tmpfs \
             failed (needs root)"
        );
        return;
    }
    let _u = Umount(dir.clone());
    std::env::set_var("PMQ_SHM_DIR", &dir);

    // (a) Slot pages punched out of a queue in use, the tmpfs full.
    let a = "/fullfs-a";
    let q1 = full_queue(a);
    let q2 = OpenOptions::new().backend(SHM).open(Some(a)).unwrap();
    let f = file(&dir, a);
    let len = f.metadata().unwrap().len();
    fill(&dir);
    // SAFETY: plain call on our descriptor.
    let r = unsafe {
        libc::fallocate(
            f.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            slots_at(CAPACITY) as libc::off_t,
            (len - slots_at(CAPACITY)) as libc::off_t,
        )
    };
    assert_eq!(r, 0, "punching the slot pages out failed");
    fill(&dir);
    // The take path reads a slot that has no page.
    let e = q1.receive_vec(Timeout::TryOnce).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
    assert!(e.detail().contains("could not be read"), "{e}");
    // The repair path (lock "owner died") walks every slot.
    f.write_all_at(&OWNER_DIED.to_ne_bytes(), OFF_CLOCK)
        .unwrap();
    let e = q2.receive_vec(Timeout::TryOnce).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
    // A new open cannot allocate the holes: refused, saying why.
    let e = OpenOptions::new().backend(SHM).open(Some(a)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SystemLimit, "{e}");
    for needle in ["allocated", "no room", "free"] {
        assert!(e.detail().contains(needle), "{needle:?} not in {e}");
    }
    drop((q1, q2));
    // With room again, an open allocates the holes; the messages that were
    // in them are gone, and the queue says so: nothing rebuilds the queue
    // from zeros (an empty queue, the loss silent).
    std::fs::remove_file(dir.join("filler")).unwrap();
    let q = OpenOptions::new().backend(SHM).open(Some(a)).unwrap();
    let e = q.receive_vec(Timeout::TryOnce).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
    // Either a repair met the holes (and marked the queue unrecoverable)
    // or the published messages' slots now read as never written.
    assert!(
        e.detail().contains("unrecoverable") || e.detail().contains("unpublished"),
        "{e}"
    );
    drop(q);
    pmq::unlink_from(SHM, a).unwrap();

    // (b) A header claiming 100,000 slots over a sparse file, the lock
    // "owner died": the repair would walk every slot.
    let b = "/fullfs-b";
    drop(
        OpenOptions::new()
            .backend(SHM)
            .exclusive(true)
            .max_messages(8)
            .max_message_size(64)
            .open(Some(b))
            .unwrap(),
    );
    let f = file(&dir, b);
    let slots = 100_000u64;
    let size = slots_at(slots) + slots * 128;
    f.write_all_at(&slots.to_ne_bytes(), OFF_MAX_MESSAGES)
        .unwrap();
    f.write_all_at(&size.to_ne_bytes(), OFF_FILE_SIZE).unwrap();
    f.write_all_at(&OWNER_DIED.to_ne_bytes(), OFF_CLOCK)
        .unwrap();
    f.set_len(size).unwrap();
    fill(&dir);
    let r = OpenOptions::new().backend(SHM).open(Some(b));
    let e = match r {
        Ok(q) => {
            let r = q.receive_vec(Timeout::TryOnce);
            panic!("a 12 MiB sparse queue opened on a full 4 MiB tmpfs; receive: {r:?}")
        }
        Err(e) => e,
    };
    assert_eq!(e.kind(), ErrorKind::SystemLimit, "{e}");
    assert!(e.detail().contains("allocated"), "{e}");
    pmq::unlink_from(SHM, b).unwrap();
}
