//! Where queue files live: the directory (/dev/shm or PMQ_SHM_DIR), the
//! file name of a queue, and the room left there. A leaf: the file code
//! and the error texts both name these.

use std::ffi::CString;

/// Where queue files live: /dev/shm, or the directory in PMQ_SHM_DIR (read
/// once; for a tmpfs of another size, or tests).
pub(crate) fn shm_dir() -> &'static str {
    static DIR: crate::fork_once::ForkOnce<String> = crate::fork_once::ForkOnce::new();
    DIR.get_or_init(|| {
        std::env::var("PMQ_SHM_DIR")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "/dev/shm".to_string())
    })
}

/// [`shm_dir`] for format strings (`{SHM_DIR}`).
pub(crate) struct ShmDir;
impl std::fmt::Display for ShmDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(shm_dir())
    }
}
pub(crate) const SHM_DIR: ShmDir = ShmDir;
/// Prefix of a queue file's name: `/name` lives at `/dev/shm/pmq.name`.
pub(crate) const FILE_PREFIX: &str = "pmq.";

/// Longest queue name after the leading slash on the shared-memory
/// backend, in bytes: 251, so that its file name `pmq.<name>` fits the file
/// system's 255-byte limit. (The kernel backend's is
/// [`NAME_MAX`](crate::NAME_MAX), 255.)
pub const SHM_NAME_MAX: usize = 255 - FILE_PREFIX.len();

/// The file of queue `name` ("/name").
pub(crate) fn path_of(name: &str) -> String {
    format!("{SHM_DIR}/{FILE_PREFIX}{}", &name[1..])
}

/// The queue name ("/name") whose file is `file` (an entry of [`shm_dir`]),
/// or `None` for a file that is not a queue's.
pub(crate) fn name_of_file(file: &str) -> Option<String> {
    file.strip_prefix(FILE_PREFIX).map(|n| format!("/{n}"))
}

pub(super) fn free_space() -> Option<u64> {
    let dir = CString::new(shm_dir()).ok()?;
    // SAFETY: statvfs is plain data; all-zero is valid.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and writable statvfs.
    if unsafe { libc::statvfs(dir.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}
