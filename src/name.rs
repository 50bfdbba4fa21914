//! Queue names: validation before the kernel sees them, and collision-safe
//! random names from the OS random source.

use crate::backend::sys::os_random;
use crate::backend::BackendKind;
use crate::error::{Error, Result};

/// Checks a queue name and says exactly what is wrong with it.
///
/// A valid name is `/` followed by 1 to 255 bytes (`NAME_MAX`), none of
/// which is `/` or NUL, and which is not `.` or `..`. This checks for the
/// default (kernel) backend; the shared-memory backend takes at most
/// [`crate::SHM_NAME_MAX`] (251) bytes after the slash, which
/// [`crate::OpenOptions::open`] checks.
pub fn validate_name(name: &str) -> Result<()> {
    validate_name_for(name, BackendKind::default())
}

/// [`validate_name`] with the longest name `kind` accepts.
pub(crate) fn validate_name_for(name: &str, kind: BackendKind) -> Result<()> {
    let name_max = kind.name_max();
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err(Error::invalid(
            "queue name is empty; names look like \"/my_queue\"",
        ));
    }
    if bytes[0] != b'/' {
        return Err(Error::invalid(format!(
            "queue name {name:?} does not start with '/'; use \"/{name}\""
        )));
    }
    let rest = &bytes[1..];
    if rest.is_empty() {
        return Err(Error::invalid(
            "queue name \"/\" has nothing after the slash; names look like \"/my_queue\"",
        ));
    }
    if let Some(pos) = rest.iter().position(|&b| b == 0) {
        return Err(Error::invalid(format!(
            "queue name contains a NUL byte at offset {}; names cannot contain NUL",
            pos + 1
        )));
    }
    if rest.contains(&b'/') {
        return Err(Error::invalid(format!(
            "queue name {name:?} contains a second '/'; only the leading slash is allowed"
        )));
    }
    if rest.len() > name_max {
        let why = match kind {
            BackendKind::Shm => {
                " on the shared-memory backend (SHM_NAME_MAX: its file pmq.<name> must fit the \
                 file system's 255-byte names); the kernel backend takes up to 255"
            }
            _ => " (NAME_MAX)",
        };
        return Err(Error::invalid(format!(
            "queue name is {} bytes after the slash; the limit is {name_max}{why}; use a \
             shorter name",
            rest.len()
        )));
    }
    if rest == b"." || rest == b".." {
        return Err(Error::invalid(format!(
            "queue name {name:?} is reserved; choose another name"
        )));
    }
    Ok(())
}

/// Checks raw name bytes (from C): UTF-8 first, then [`validate_name`].
pub fn validate_name_bytes(bytes: &[u8]) -> Result<&str> {
    let s = name_from_bytes(bytes)?;
    validate_name(s)?;
    Ok(s)
}

/// Raw name bytes (from C) as UTF-8, checked for nothing else: for callers
/// whose next step validates the name for its backend (open, unlink), so a
/// refusal names that backend's limit.
pub fn name_from_bytes(bytes: &[u8]) -> Result<&str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => Err(Error::invalid(format!(
            "queue name is not valid UTF-8 (bad byte at offset {}); pmq requires UTF-8 names",
            e.valid_up_to()
        ))),
    }
}

const RANDOM_CHARS: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// Random characters in a generated name: 20 x 5 bits = 100 bits of entropy.
pub(crate) const RANDOM_NAME_CHARS: usize = 20;
/// How many fresh names to try before giving up on exclusive creation.
pub(crate) const RANDOM_NAME_ATTEMPTS: usize = 16;

/// A fresh random name: `/pmq-` followed by 20 base-32 characters from getrandom(2).
pub fn random_name() -> Result<String> {
    let mut raw = [0u8; RANDOM_NAME_CHARS];
    os_random(&mut raw, "a random queue name")?;
    let mut name = String::with_capacity(5 + RANDOM_NAME_CHARS);
    name.push_str("/pmq-");
    for b in raw {
        name.push(RANDOM_CHARS[(b & 31) as usize] as char);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn good_names() {
        validate_name("/a").unwrap();
        validate_name(&format!("/{}", "x".repeat(255))).unwrap();
        validate_name("/with space and ünïcode").unwrap();
    }

    #[test]
    fn bad_names_say_why() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("noslash", "does not start with '/'"),
            ("/", "nothing after the slash"),
            ("/a/b", "second '/'"),
            ("/a\0b", "NUL"),
            ("/.", "reserved"),
            ("/..", "reserved"),
        ];
        for (name, needle) in cases {
            let e = validate_name(name).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{name:?}");
            assert!(e.detail().contains(needle), "{name:?}: {}", e.detail());
        }
        let long = format!("/{}", "x".repeat(256));
        assert!(validate_name(&long)
            .unwrap_err()
            .detail()
            .contains("limit is 255"));
        assert!(validate_name_bytes(b"/\xff")
            .unwrap_err()
            .detail()
            .contains("UTF-8"));
    }

    #[test]
    fn random_names_are_valid_and_distinct() {
        let a = random_name().unwrap();
        let b = random_name().unwrap();
        assert_ne!(a, b);
        validate_name(&a).unwrap();
        assert_eq!(a.len(), 5 + RANDOM_NAME_CHARS);
        assert!(a.starts_with("/pmq-"));
    }
}
