//! Which queues a backend holds: [`list`], and the file a queue lives in,
//! [`queue_file`]. The shared-memory backend's file naming stays in
//! `backend::shm`; this asks it, so no program copies it.

use std::path::PathBuf;

use crate::backend::{shm, BackendKind};
use crate::error::{Error, ErrorKind, Result};

/// Where the kernel's queues are visible: the mqueue filesystem's usual
/// mount point.
const MQUEUE_DIR: &str = "/dev/mqueue";

/// The names ("/name") of the queues that exist now in backend `kind`,
/// sorted by their bytes.
///
/// - [`BackendKind::Kernel`]: the files of the mqueue filesystem mounted at
///   `/dev/mqueue` (every kernel queue of this IPC namespace, whoever made
///   it). Fails with [`ErrorKind::NotSupported`] when nothing is mounted
///   there (opening queues by name still works); mount it as root with
///   `mount -t mqueue none /dev/mqueue`. A name that is not UTF-8, which
///   only a program other than pmq can make, is left out: pmq cannot open
///   it (the `pmq ls` command shows such names escaped).
/// - [`BackendKind::Shm`]: the queue files in `/dev/shm` (or `$PMQ_SHM_DIR`);
///   none when that directory does not exist.
///
/// A queue created or removed while this runs may or may not be listed.
///
/// ```no_run
/// for name in pmq::list(pmq::BackendKind::Shm)? {
///     println!("{name}");
/// }
/// # Ok::<(), pmq::Error>(())
/// ```
pub fn list(kind: BackendKind) -> Result<Vec<String>> {
    let (dir, name_of): (&str, fn(&str) -> Option<String>) = match kind {
        BackendKind::Shm => (shm::shm_dir(), shm::name_of_file),
        _ => (MQUEUE_DIR, |file| Some(format!("/{file}"))),
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && kind == BackendKind::Shm => {
            return Ok(Vec::new())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::new(
                ErrorKind::NotSupported,
                format!(
                    "the mqueue filesystem is not mounted at {dir}, so kernel queues cannot be \
                     listed (opening them by name still works); mount it as root: \
                     mkdir -p {dir} && mount -t mqueue none {dir}"
                ),
            )
            .with_errno(libc::ENOENT))
        }
        Err(e) => return Err(read_failure(dir, &e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| read_failure(dir, &e))?;
        let Ok(file) = entry.file_name().into_string() else {
            continue;
        };
        if let Some(name) = name_of(&file).filter(|n| kind.validate_name(n).is_ok()) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// The file queue `name` lives in, on backend `kind`: the kernel's
/// `/dev/mqueue/NAME` (its mode and owner are the queue's, and reading it
/// gives the kernel's status line), or the shared-memory queue's file
/// (`/dev/shm/pmq.NAME`, or under `$PMQ_SHM_DIR`). The queue need not exist.
/// Fails with [`ErrorKind::InvalidArgument`] for an invalid name.
pub fn queue_file(kind: BackendKind, name: &str) -> Result<PathBuf> {
    kind.validate_name(name)?;
    Ok(match kind {
        BackendKind::Shm => PathBuf::from(shm::path_of(name)),
        _ => PathBuf::from(format!("{MQUEUE_DIR}{name}")),
    })
}

fn read_failure(dir: &str, e: &std::io::Error) -> Error {
    Error::new(
        ErrorKind::Os,
        format!("cannot list the queues in {dir}: {e}; check that it is readable"),
    )
    .with_errno(e.raw_os_error().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue name of this test run (`make test` looks for leftovers
    /// under PMQ_TEST_PREFIX).
    fn test_name(tag: &str) -> String {
        let prefix = std::env::var("PMQ_TEST_PREFIX").unwrap_or_else(|_| "pmq".into());
        format!(
            "/{prefix}-list-{tag}-{}",
            &crate::random_name().unwrap()[5..]
        )
    }

    fn listed_while_it_exists(kind: BackendKind, tag: &str) {
        let name = test_name(tag);
        let q = crate::OpenOptions::new()
            .backend(kind)
            .create(true)
            .exclusive(true)
            .max_messages(1)
            .max_message_size(8)
            .open(Some(&name))
            .unwrap();
        let listed = list(kind);
        let file = queue_file(kind, &name).unwrap();
        let file_exists = file.exists();
        crate::unlink_from(kind, &name).unwrap();
        drop(q);
        let listed = listed.unwrap();
        assert!(listed.contains(&name), "{name} not in {listed:?}");
        assert!(listed.windows(2).all(|w| w[0] <= w[1]), "not sorted");
        assert!(file_exists, "{} does not exist", file.display());
        assert!(!list(kind).unwrap().contains(&name), "{name} still listed");
    }

    #[test]
    fn shm_list_has_a_queue_while_it_exists() {
        listed_while_it_exists(BackendKind::Shm, "shm");
    }

    #[test]
    fn kernel_list_has_a_queue_while_it_exists() {
        if !std::path::Path::new(MQUEUE_DIR).is_dir() {
            // Not a skip: without the mount the listing must say so.
            let e = list(BackendKind::Kernel).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::NotSupported, "{}", e.detail());
            return;
        }
        listed_while_it_exists(BackendKind::Kernel, "kernel");
    }

    #[test]
    fn shm_files_that_are_not_queues_are_not_listed() {
        assert_eq!(shm::name_of_file("pmq.jobs").as_deref(), Some("/jobs"));
        assert_eq!(shm::name_of_file(".pmq-tmp.1.2"), None);
        assert_eq!(shm::name_of_file("other"), None);
        // "pmq." alone would be the name "/", which no queue has.
        let bare = shm::name_of_file("pmq.").unwrap();
        assert!(BackendKind::Shm.validate_name(&bare).is_err());
    }

    #[test]
    fn queue_file_names_the_backend_file() {
        let shm = queue_file(BackendKind::Shm, "/jobs").unwrap();
        assert!(shm.ends_with("pmq.jobs"), "{}", shm.display());
        assert_eq!(
            queue_file(BackendKind::Kernel, "/jobs").unwrap(),
            PathBuf::from("/dev/mqueue/jobs")
        );
        assert_eq!(
            queue_file(BackendKind::Shm, "jobs").unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}
