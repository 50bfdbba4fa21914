//! The queue file: how it is created (complete or not at all), opened,
//! sized and checked before it is trusted (where it lives: `dir`).

use std::ffi::CString;
use std::mem::offset_of;

use super::dir::{free_space, path_of, shm_dir, SHM_DIR};
use super::errors::{bytes, corrupt, holes_no_space, no_space, open_error, os, unlink_error};
use super::futex::errno;
use super::layout::*;
use super::map::Mapping;
use super::sync;
use crate::backend::OpenRequest;
use crate::error::{Error, ErrorKind, Result};

fn shape_for(req: &OpenRequest<'_>) -> Result<Shape> {
    let (m, s) = (req.max_messages, req.max_message_size);
    let fits = |m: u64, s: u64| Shape::new(m, s).is_some();
    if m < 1 || s < 1 {
        return Err(Error::invalid(format!(
            "max_messages {m} and max_message_size {s} must both be at least 1"
        )));
    }
    match Shape::new(m as u64, s as u64) {
        Some(sh) => Ok(sh),
        None => {
            let hint = if !fits(1, s as u64) {
                format!("a message size of {s} bytes is too large by itself")
            } else {
                let room = free_space().unwrap_or(MAX_FILE_SIZE).min(MAX_FILE_SIZE);
                let stride = (SLOT_HEADER as u64 + s as u64).next_multiple_of(LINE as u64);
                format!(
                    "with {s}-byte messages at most about {} messages fit in {} (free in {SHM_DIR})",
                    room / stride,
                    bytes(room)
                )
            };
            Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "a shared-memory queue of {m} x {s} bytes is larger than pmq creates (1 TiB); \
                     {hint}"
                ),
            ))
        }
    }
}

fn cpath(p: &str) -> CString {
    CString::new(p).expect("queue paths have no NUL (names are validated)")
}

/// Opens an existing file read-write and checks it; `Ok(None)` when there
/// is none.
fn open_existing(req: &OpenRequest<'_>) -> Result<Option<Mapping>> {
    let path = cpath(&path_of(req.name));
    // SAFETY: valid path; the descriptor is owned by the mapping below.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NOFOLLOW,
        )
    };
    if fd < 0 {
        return match errno() {
            libc::ENOENT => Ok(None),
            e => Err(open_error(req, e)),
        };
    }
    check_and_map(req, fd).map(Some)
}

fn identity(fd: i32) -> std::result::Result<libc::stat, i32> {
    // SAFETY: stat is plain data; fstat fills it for an open descriptor.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(errno());
    }
    Ok(st)
}

/// Checks the header of the file behind `fd` (which it takes over) and maps it.
fn check_and_map(req: &OpenRequest<'_>, fd: i32) -> Result<Mapping> {
    let close = |e: Error| {
        // SAFETY: we own `fd` and nothing else uses it.
        unsafe { libc::close(fd) };
        e
    };
    let st = identity(fd).map_err(|e| close(open_error(req, e)))?;
    let size = st.st_size as u64;
    let mut head = [0u8; 128];
    // SAFETY: `head` is writable for its length; pread on our descriptor.
    let n = unsafe { libc::pread(fd, head.as_mut_ptr().cast(), head.len(), 0) };
    if n < 16 {
        return Err(close(corrupt(&format!(
            "the file is {size} bytes, too short for a queue header"
        ))));
    }
    let u32_at = |o: usize| u32::from_ne_bytes(head[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_ne_bytes(head[o..o + 8].try_into().unwrap());
    if u64_at(offset_of!(Ident, magic)) != MAGIC {
        return Err(close(corrupt("it does not start with pmq's magic number")));
    }
    let version = u32_at(offset_of!(Ident, version));
    if version != VERSION {
        let text = if version < VERSION {
            older_layout(version)
        } else {
            format!(
                "the queue file was made by a newer pmq (layout {version}, this build reads                  layout {VERSION}); open it with that version or unlink it"
            )
        };
        return Err(close(Error::new(
            ErrorKind::Corrupted,
            format!("queue {}: {text}", req.name),
        )));
    }
    if size < HEAD_SIZE as u64 || n != head.len() as isize {
        return Err(close(corrupt(&format!(
            "the file is {size} bytes, shorter than a queue header ({HEAD_SIZE})"
        ))));
    }
    for (off, want, what) in abi_fields() {
        let got = u32_at(off);
        if got != want {
            return Err(close(Error::new(
                ErrorKind::Corrupted,
                format!(
                    "queue {} was created by a pmq build with another layout ({what} {got}, \
                     this build uses {want}); open it with the same pmq version and \
                     architecture, or unlink it and create it again",
                    req.name
                ),
            )));
        }
    }
    let shape = Shape::new(
        u64_at(offset_of!(Ident, capacity)),
        u64_at(offset_of!(Ident, msgsize)),
    );
    let Some(shape) = shape.filter(|sh| {
        sh.stride as u64 == u64_at(offset_of!(Ident, stride))
            && u32_at(offset_of!(Ident, openers)) == OPENERS
            && u32_at(offset_of!(Ident, priorities)) == PRIORITIES
            && sh.file_size as u64 == u64_at(offset_of!(Ident, file_size))
    }) else {
        return Err(close(corrupt("its shape fields disagree with each other")));
    };
    if size < shape.file_size as u64 {
        return Err(close(corrupt(&format!(
            "the file is {size} bytes but its header says {}",
            shape.file_size
        ))));
    }
    // Unallocated pages (holes: a sparse copy, or pages punched out) are
    // allocated now: a page that cannot be allocated later would raise
    // SIGBUS at its first touch. Allocation never changes a byte.
    if (st.st_blocks as u64).saturating_mul(512) < shape.file_size as u64 {
        // SAFETY: plain call on our descriptor, mode 0 (allocate only).
        let r = unsafe { libc::fallocate(fd, 0, 0, shape.file_size as libc::off_t) };
        if r != 0 {
            match errno() {
                // This filesystem cannot tell or reserve: the guard stays.
                libc::EOPNOTSUPP | libc::ENOSYS => {}
                e @ (libc::ENOSPC | libc::EFBIG | libc::EDQUOT) => {
                    return Err(close(holes_no_space(
                        req,
                        st.st_blocks as u64 * 512,
                        &shape,
                        e,
                    )));
                }
                e => {
                    return Err(close(os(
                        "fallocate of the queue file's unallocated pages",
                        e,
                    )))
                }
            }
        }
    }
    Mapping::new(fd, shape.file_size, shape).map_err(|e| open_error(req, e))
}

/// A name no other creator uses, in the same directory (so link() works).
fn temp_path() -> Result<String> {
    let mut r = [0u8; 8];
    crate::backend::sys::os_random(&mut r, "a temporary file name")?;
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    Ok(format!(
        "{SHM_DIR}/.pmq-tmp.{pid}.{:016x}",
        u64::from_ne_bytes(r)
    ))
}

/// Prefix of temporary queue files (being created).
const TEMP_PREFIX: &str = ".pmq-tmp.";

/// Removes temporary files whose creator died before linking them: a
/// creator holds a lock on its temporary file until it is done, so a
/// temporary whose lock can be taken has no live creator.
pub(super) fn sweep_orphans() {
    let Ok(dir) = std::fs::read_dir(shm_dir()) else {
        return;
    };
    for entry in dir.flatten() {
        let file = entry.file_name();
        let Some(n) = file.to_str() else { continue };
        if !n.starts_with(TEMP_PREFIX) {
            continue;
        }
        let path = cpath(&format!("{SHM_DIR}/{n}"));
        // SAFETY: valid path; the descriptor is closed below.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            )
        };
        if fd < 0 {
            continue;
        }
        if sync::creator_lock(fd) {
            // SAFETY: valid path; the file is an orphan (its creator is gone).
            unsafe { libc::unlink(path.as_ptr()) };
        }
        // SAFETY: ours; closing drops the lock we took.
        unsafe { libc::close(fd) };
    }
}

/// Creates a complete queue file under a temporary name and returns its
/// descriptor; the caller links it into place.
fn create_temp(req: &OpenRequest<'_>, shape: &Shape, tmp: &CString) -> Result<i32> {
    // SAFETY: valid path; O_EXCL makes the file ours.
    let fd = unsafe {
        libc::open(
            tmp.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
            req.mode as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(open_error(req, errno()));
    }
    // Held until the file is linked (and then for the handle's life): a
    // sweeper that can take it knows the creator is gone.
    sync::creator_lock(fd);
    let fail = |e: Error| {
        // SAFETY: we own `fd` and the temporary name.
        unsafe {
            libc::close(fd);
            libc::unlink(tmp.as_ptr());
        }
        e
    };
    // Reserve every page now: a full /dev/shm fails here, not later with SIGBUS.
    // SAFETY: plain call on our descriptor.
    let r = unsafe { libc::posix_fallocate(fd, 0, shape.file_size as libc::off_t) };
    if r != 0 {
        return Err(fail(match r {
            libc::ENOSPC | libc::EFBIG => no_space(req, shape.file_size),
            e => os("posix_fallocate", e),
        }));
    }
    super::kp!("create.allocated");
    let dup = {
        // SAFETY: plain dup of our descriptor (the mapping takes the copy).
        let d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if d < 0 {
            return Err(fail(open_error(req, errno())));
        }
        d
    };
    let m = Mapping::new(dup, shape.file_size, *shape).map_err(|e| fail(open_error(req, e)))?;
    super::kp!("create.initialised");
    // Last (inside init): the magic says "complete".
    m.ring().init();
    drop(m);
    Ok(fd)
}

/// Opens or creates the queue file of `req`, complete or not at all.
pub(super) fn open_file(req: &OpenRequest<'_>) -> Result<Mapping> {
    loop {
        if !req.exclusive {
            if let Some(m) = open_existing(req)? {
                return Ok(m);
            }
            if !req.create {
                return Err(open_error(req, libc::ENOENT));
            }
        }
        let shape = shape_for(req)?;
        sweep_orphans();
        let tmp = cpath(&temp_path()?);
        let fd = create_temp(req, &shape, &tmp)?;
        let path = cpath(&path_of(req.name));
        // SAFETY: both paths are valid; link fails with EEXIST atomically
        // when the name is taken.
        let linked = unsafe { libc::link(tmp.as_ptr(), path.as_ptr()) };
        let e = errno();
        // SAFETY: the temporary name is ours.
        unsafe { libc::unlink(tmp.as_ptr()) };
        super::kp!("create.linked");
        if linked == 0 {
            return check_and_map(req, fd);
        }
        // SAFETY: we own `fd`.
        unsafe { libc::close(fd) };
        if e == libc::EEXIST && !req.exclusive {
            continue; // another creator won: open theirs
        }
        if e == libc::ENOENT {
            continue; // a sweeper took our temporary for an orphan: again
        }
        return Err(open_error(req, e));
    }
}

/// Whether queue `name`'s file exists.
pub(super) fn exists(name: &str) -> Result<bool> {
    match std::fs::symlink_metadata(path_of(name)) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(crate::backend::exists_error(
            e.raw_os_error().unwrap_or(0),
            name,
        )),
    }
}

/// Removes queue `name`'s file.
pub(super) fn unlink(name: &str) -> Result<()> {
    let path = CString::new(path_of(name)).map_err(|_| Error::invalid("name has a NUL"))?;
    // SAFETY: a valid NUL-terminated path.
    if unsafe { libc::unlink(path.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(unlink_error(name, errno()))
    }
}
