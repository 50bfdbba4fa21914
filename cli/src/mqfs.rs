//! What the mqueue filesystem tells about queues: the list of names, each
//! file's "QSIZE:.. NOTIFY:.. SIGNO:.. NOTIFY_PID:.." line, owner and mode;
//! plus each queue's capacity read with pmq (an open read-only, non-blocking
//! descriptor and mq_getattr), or with the same calls through libc for a name
//! that is not UTF-8, which pmq cannot take.

use std::ffi::{CString, OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::fail::{Failure, NOT_FOUND, OTHER};
use crate::render;
use crate::shm_counters::Counters;

/// Where the mqueue filesystem is normally mounted.
pub const DEFAULT_DIR: &str = "/dev/mqueue";

/// The mqueue mount point: `$PMQ_MQUEUE_DIR` if set (for a mount elsewhere),
/// else /dev/mqueue.
pub fn dir() -> PathBuf {
    match std::env::var_os("PMQ_MQUEUE_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(DEFAULT_DIR),
    }
}

/// The one-line error for a missing mount, with the command that fixes it.
pub fn not_mounted(dir: &Path) -> Failure {
    let d = dir.display();
    let mkdir = if dir.is_dir() {
        String::new()
    } else {
        format!("mkdir -p {d} && ")
    };
    Failure::new(
        OTHER,
        format!(
            "the mqueue filesystem is not mounted at {d}, so queues cannot be listed \
             (sending and receiving still work); mount it as root: {mkdir}mount -t mqueue none {d}"
        ),
    )
}

/// Undoes the octal escapes (`\040` for a space) of /proc/self/mountinfo.
fn unescape_mount_path(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if let Ok(v) = u8::try_from(v) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether an mqueue filesystem is mounted exactly at `dir`. When
/// /proc/self/mountinfo cannot be read, a directory that exists is trusted.
pub fn is_mounted(dir: &Path) -> bool {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return dir.is_dir();
    };
    let want = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    info.lines().any(|line| {
        // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER"
        let mut halves = line.splitn(2, " - ");
        let (Some(left), Some(right)) = (halves.next(), halves.next()) else {
            return false;
        };
        let fstype = right.split(' ').next().unwrap_or("");
        let mount_point = left.split(' ').nth(4).unwrap_or("");
        fstype == "mqueue" && Path::new(&unescape_mount_path(mount_point)) == want
    })
}

/// Fails with the mount hint unless the mqueue filesystem is mounted.
pub fn require_mounted() -> Result<PathBuf, Failure> {
    let d = dir();
    if is_mounted(&d) {
        Ok(d)
    } else {
        Err(not_mounted(&d))
    }
}

/// Who holds a queue's notification registration (at most one process).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Notify {
    /// The holder's pid (as seen from this pid namespace).
    pub pid: i32,
    /// The holder's command name from /proc/PID/comm, when readable.
    pub command: Option<String>,
    /// "signal", "thread" or "none" (SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_NONE).
    pub method: String,
    /// The signal number for method "signal", else null.
    pub signal: Option<i32>,
}

impl Notify {
    /// A short description for tables: `1234 (prog) signal 10`.
    pub fn describe(&self) -> String {
        let who = match &self.command {
            Some(c) => format!("{} ({c})", self.pid),
            None => self.pid.to_string(),
        };
        match self.signal {
            Some(s) => format!("{who} signal {s}"),
            None => format!("{who} {}", self.method),
        }
    }
}

/// The status line of one queue file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// Bytes of message data waiting in the queue.
    pub qsize: u64,
    /// The notification holder, if any.
    pub notify: Option<Notify>,
}

/// Parses "QSIZE:11         NOTIFY:0     SIGNO:0     NOTIFY_PID:0".
pub fn parse_status(line: &str) -> Option<Status> {
    let mut qsize = None;
    let mut method = None;
    let mut signo = None;
    let mut pid = None;
    for field in line.split_whitespace() {
        let (key, value) = field.split_once(':')?;
        match key {
            "QSIZE" => qsize = value.parse::<u64>().ok(),
            "NOTIFY" => method = value.parse::<i32>().ok(),
            "SIGNO" => signo = value.parse::<i32>().ok(),
            "NOTIFY_PID" => pid = value.parse::<i32>().ok(),
            _ => {}
        }
    }
    let qsize = qsize?;
    let pid = pid.unwrap_or(0);
    let notify = if pid > 0 {
        let method = method.unwrap_or(libc::SIGEV_SIGNAL);
        let (method_name, signal) = match method {
            libc::SIGEV_SIGNAL => ("signal", signo),
            libc::SIGEV_THREAD => ("thread", None),
            libc::SIGEV_NONE => ("none", None),
            _ => ("other", None),
        };
        Some(Notify {
            pid,
            command: fs::read_to_string(format!("/proc/{pid}/comm"))
                .ok()
                .map(|s| s.trim_end().to_string()),
            method: method_name.to_string(),
            signal,
        })
    } else {
        None
    };
    Some(Status { qsize, notify })
}

/// One queue as `ls`, `stat` and `limits` see it. Fields that could not be
/// read (no permission, queue gone meanwhile) are `None` ("-" / null).
#[derive(Clone, Debug, Serialize)]
pub struct QueueInfo {
    /// "kernel" (an mq_open queue) or "shm" (pmq's shared-memory queue).
    pub backend: &'static str,
    /// The name; one that is not UTF-8 is escaped as `recv --format text`
    /// escapes a message (`\xHH` for each such byte, `\\` for `\`).
    pub name: String,
    /// False when the name is not UTF-8 (and `name` is escaped).
    pub name_utf8: bool,
    /// The name's exact bytes in lowercase hex, leading slash included.
    pub name_hex: String,
    pub path: String,
    /// Messages waiting (mq_getattr).
    pub messages: Option<i64>,
    /// Bytes of message data waiting (QSIZE).
    pub bytes: Option<u64>,
    pub max_messages: Option<i64>,
    pub max_message_size: Option<i64>,
    /// Permission bits in octal, e.g. "0600".
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    pub owner: String,
    pub group: String,
    pub notify: Option<Notify>,
    /// Bytes charged against the owner's RLIMIT_MSGQUEUE (pmq::queue_cost).
    pub cost: Option<u64>,
    /// Why capacity or size could not be read, if they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// A shared-memory queue's counters (kernel queues keep none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counters: Option<Counters>,
}

/// Capacity and current count, from a read-only (or else write-only)
/// non-blocking descriptor. Opening and closing a descriptor cancels a
/// notification registration held by THIS process only, so it is harmless
/// to other processes' registrations.
fn attributes(name: &str) -> Result<pmq::Attributes, pmq::Error> {
    let open = |read: bool| {
        pmq::OpenOptions::new()
            .read(read)
            .write(!read)
            .block(false)
            .open(Some(name))
    };
    let q = match open(true) {
        Err(e) if e.kind() == pmq::ErrorKind::Permission => open(false)?,
        other => other?,
    };
    q.attributes()
}

/// [`attributes`] for a name that is not UTF-8, which pmq's `&str` names
/// cannot hold: the same non-blocking read-only (or else write-only) open,
/// mq_getattr and close, through libc.
fn raw_attributes(name: &[u8]) -> io::Result<pmq::Attributes> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let open = |access: libc::c_int| {
        // SAFETY: `c` is NUL-terminated and outlives the call; without
        // O_CREAT, mq_open reads no variadic arguments.
        let fd = unsafe { libc::mq_open(c.as_ptr(), access | libc::O_NONBLOCK) };
        if fd == -1 {
            Err(io::Error::last_os_error())
        } else {
            Ok(fd)
        }
    };
    let fd = match open(libc::O_RDONLY) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => open(libc::O_WRONLY)?,
        other => other?,
    };
    // SAFETY: an all-zero mq_attr is a valid value for mq_getattr to
    // overwrite; `fd` is the open queue descriptor just returned.
    let (rc, attr) = unsafe {
        let mut attr: libc::mq_attr = std::mem::zeroed();
        (libc::mq_getattr(fd, &mut attr), attr)
    };
    let getattr_error = io::Error::last_os_error();
    // SAFETY: `fd` is ours, used by nothing else, and closed exactly once.
    unsafe { libc::mq_close(fd) };
    if rc != 0 {
        return Err(getattr_error);
    }
    Ok(pmq::Attributes {
        max_messages: attr.mq_maxmsg,
        max_message_size: attr.mq_msgsize,
        current_messages: attr.mq_curmsgs,
        block: attr.mq_flags & libc::O_NONBLOCK as i64 == 0,
    })
}

/// Reads one queue. `Ok(None)` when it vanished.
pub fn read_queue(dir: &Path, name: &str, users: &Names) -> io::Result<Option<QueueInfo>> {
    read_file(dir, OsStr::new(name.trim_start_matches('/')), users)
}

/// Reads the queue whose file in the mount is `file` (its name without
/// the slash, in any bytes). `Ok(None)` when it vanished.
fn read_file(dir: &Path, file: &OsStr, users: &Names) -> io::Result<Option<QueueInfo>> {
    let path = dir.join(file);
    let raw = [b"/", file.as_bytes()].concat();
    let utf8 = std::str::from_utf8(&raw).ok();
    let (name, shown_path) = match utf8 {
        Some(n) => (n.to_string(), path.display().to_string()),
        None => (
            render::escape(&raw),
            format!("{}/{}", dir.display(), render::escape(file.as_bytes())),
        ),
    };
    let meta = match fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let status = fs::read_to_string(&path)
        .ok()
        .and_then(|s| parse_status(s.trim()));
    let (attrs, unreadable) = match utf8 {
        Some(n) => match attributes(n) {
            Ok(a) => (Some(a), None),
            Err(e) if e.kind() == pmq::ErrorKind::NotFound => return Ok(None),
            Err(e) => (None, Some(e.detail().to_string())),
        },
        None => match raw_attributes(&raw) {
            Ok(a) => (Some(a), None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => (None, Some(format!("cannot open queue {name}: {e}"))),
        },
    };
    Ok(Some(QueueInfo {
        backend: "kernel",
        name,
        name_utf8: utf8.is_some(),
        name_hex: render::hex(&raw),
        path: shown_path,
        messages: attrs.map(|a| a.current_messages),
        bytes: status.as_ref().map(|s| s.qsize),
        max_messages: attrs.map(|a| a.max_messages),
        max_message_size: attrs.map(|a| a.max_message_size),
        mode: format!("{:04o}", meta.permissions().mode() & 0o7777),
        uid: meta.uid(),
        gid: meta.gid(),
        owner: users.user(meta.uid()),
        group: users.group(meta.gid()),
        notify: status.and_then(|s| s.notify),
        cost: attrs.map(|a| pmq::queue_cost(a.max_messages, a.max_message_size)),
        unreadable,
        counters: None,
    }))
}

/// Where shared-memory queue files live (/dev/shm, or PMQ_SHM_DIR), as the
/// library names them.
pub fn shm_dir() -> String {
    shm_file("/q")
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}

/// The file of shared-memory queue `name` (checked by the caller).
fn shm_file(name: &str) -> PathBuf {
    pmq::queue_file(pmq::BackendKind::Shm, name).unwrap_or_default()
}

/// A shared-memory queue by name. `Ok(None)` when there is none.
fn read_shm(name: &str, users: &Names) -> io::Result<Option<QueueInfo>> {
    let path = shm_file(name).display().to_string();
    let meta = match fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let opened = pmq::OpenOptions::new()
        .backend(pmq::BackendKind::Shm)
        .block(false)
        .open(Some(name));
    let (attrs, counters, unreadable) = match &opened {
        Ok(q) => (q.attributes().ok(), Counters::of(q), None),
        Err(e) if e.kind() == pmq::ErrorKind::NotFound => return Ok(None),
        Err(e) => (None, None, Some(e.detail().to_string())),
    };
    Ok(Some(QueueInfo {
        backend: "shm",
        name: name.to_string(),
        name_utf8: true,
        name_hex: render::hex(name.as_bytes()),
        path,
        messages: attrs.map(|a| a.current_messages),
        bytes: None,
        max_messages: attrs.map(|a| a.max_messages),
        max_message_size: attrs.map(|a| a.max_message_size),
        mode: format!("{:04o}", meta.permissions().mode() & 0o7777),
        uid: meta.uid(),
        gid: meta.gid(),
        owner: users.user(meta.uid()),
        group: users.group(meta.gid()),
        notify: None,
        cost: None,
        unreadable,
        counters,
    }))
}

/// Every shared-memory queue, sorted by name (none when /dev/shm is absent).
pub fn list_shm() -> Result<Vec<QueueInfo>, Failure> {
    let names = pmq::list(pmq::BackendKind::Shm)?;
    let users = Names::load();
    let mut out = Vec::new();
    for n in names {
        match read_shm(&n, &users) {
            Ok(Some(info)) => out.push(info),
            Ok(None) => {}
            Err(e) => {
                return Err(Failure::new(
                    OTHER,
                    format!("cannot read {}: {e}", shm_file(&n).display()),
                ))
            }
        }
    }
    Ok(out)
}

/// One shared-memory queue by name, or the not-found error.
pub fn one_shm(name: &str) -> Result<QueueInfo, Failure> {
    match read_shm(name, &Names::load()) {
        Ok(Some(info)) => Ok(info),
        Ok(None) => Err(Failure::new(
            NOT_FOUND,
            format!(
                "shared-memory queue {name} does not exist; `pmq ls` lists the queues, \
                 `pmq --backend shm create {name}` creates it"
            ),
        )),
        Err(e) => Err(Failure::new(
            OTHER,
            format!("cannot read {}: {e}", shm_file(name).display()),
        )),
    }
}

/// Every queue in the mount, sorted by name.
pub fn list(dir: &Path) -> Result<Vec<QueueInfo>, Failure> {
    let entries = fs::read_dir(dir).map_err(|e| {
        Failure::new(
            OTHER,
            format!(
                "cannot read {}: {e}; check that it is readable",
                dir.display()
            ),
        )
    })?;
    let users = Names::load();
    // Every name, UTF-8 or not, sorted by its bytes.
    let mut files: Vec<OsString> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    files.sort();
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        match read_file(dir, &file, &users) {
            Ok(Some(info)) => out.push(info),
            Ok(None) => {} // removed while we looked
            Err(e) => {
                return Err(Failure::new(
                    OTHER,
                    format!(
                        "cannot read {}/{}: {e}",
                        dir.display(),
                        render::escape(file.as_bytes())
                    ),
                ))
            }
        }
    }
    Ok(out)
}

/// One queue by name, or the not-found error.
pub fn one(dir: &Path, name: &str) -> Result<QueueInfo, Failure> {
    match read_queue(dir, name, &Names::load()) {
        Ok(Some(info)) => Ok(info),
        Ok(None) => Err(Failure::new(
            NOT_FOUND,
            format!(
                "queue {name} does not exist; `pmq ls` lists the queues, `pmq create {name}` \
                 creates it"
            ),
        )),
        Err(e) => Err(Failure::new(
            OTHER,
            format!("cannot read {}: {e}", dir.join(&name[1..]).display()),
        )),
    }
}

/// User and group names from /etc/passwd and /etc/group (numbers when absent).
pub struct Names {
    users: Vec<(u32, String)>,
    groups: Vec<(u32, String)>,
}

fn parse_id_file(path: &str) -> Vec<(u32, String)> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id = f.nth(1)?.parse().ok()?;
            Some((id, name.to_string()))
        })
        .collect()
}

impl Names {
    pub fn load() -> Names {
        Names {
            users: parse_id_file("/etc/passwd"),
            groups: parse_id_file("/etc/group"),
        }
    }

    fn find(list: &[(u32, String)], id: u32) -> String {
        list.iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| id.to_string())
    }

    pub fn user(&self, uid: u32) -> String {
        Names::find(&self.users, uid)
    }

    pub fn group(&self, gid: u32) -> String {
        Names::find(&self.groups, gid)
    }
}

/// "rw-------" for 0600.
pub fn mode_text(mode: &str) -> String {
    let bits = u32::from_str_radix(mode, 8).unwrap_or(0);
    let mut s = String::with_capacity(9);
    for shift in [6, 3, 0] {
        let b = (bits >> shift) & 7;
        s.push(if b & 4 != 0 { 'r' } else { '-' });
        s.push(if b & 2 != 0 { 'w' } else { '-' });
        s.push(if b & 1 != 0 { 'x' } else { '-' });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_without_notification() {
        let s = parse_status("QSIZE:11         NOTIFY:0     SIGNO:0     NOTIFY_PID:0").unwrap();
        assert_eq!(s.qsize, 11);
        assert_eq!(s.notify, None);
    }

    #[test]
    fn status_line_with_signal_and_thread_notification() {
        let s = parse_status("QSIZE:0 NOTIFY:0 SIGNO:10 NOTIFY_PID:999999999").unwrap();
        let n = s.notify.unwrap();
        assert_eq!(
            (n.pid, n.method.as_str(), n.signal),
            (999999999, "signal", Some(10))
        );
        let s = parse_status("QSIZE:0 NOTIFY:2 SIGNO:0 NOTIFY_PID:7").unwrap();
        let n = s.notify.unwrap();
        assert_eq!((n.method.as_str(), n.signal), ("thread", None));
        assert!(parse_status("garbage").is_none());
    }

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount_path("/a\\040b"), "/a b");
        assert_eq!(unescape_mount_path("/dev/mqueue"), "/dev/mqueue");
        assert_eq!(unescape_mount_path("/x\\"), "/x\\");
    }

    #[test]
    fn mode_text_matches_ls() {
        assert_eq!(mode_text("0600"), "rw-------");
        assert_eq!(mode_text("0644"), "rw-r--r--");
        assert_eq!(mode_text("0751"), "rwxr-x--x");
    }
}
