//! Queue names: validation before the kernel sees them, and collision-safe
//! random names from the OS random source.

use crate::backend::sys::os_random;
use crate::error::{Error, Result};

/// Checks a queue name and says exactly what is wrong with it.
///
/// A valid name is `/` followed by 1 to `name_max` bytes, none of which is
/// `/` or NUL, and which is not `.` or `..`. Each backend has its own
/// longest name ([`BackendKind::name_max`](crate::BackendKind::name_max):
/// 255 for the kernel, [`kernel::NAME_MAX`](crate::kernel::NAME_MAX), 251
/// for shared memory); [`BackendKind::validate_name`](crate::BackendKind::validate_name)
/// checks against it and says which limit a long name broke.
pub fn validate_name(name: &str, name_max: usize) -> Result<()> {
    validate_name_noted(name, name_max, "")
}

/// [`validate_name`] whose too-long detail follows "the limit is
/// {name_max}" with `note` (which limit it is, and why).
pub(crate) fn validate_name_noted(name: &str, name_max: usize, note: &str) -> Result<()> {
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
        return Err(Error::invalid(format!(
            "queue name is {} bytes after the slash; the limit is {name_max}{note}; use a \
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
pub fn validate_name_bytes(bytes: &[u8], name_max: usize) -> Result<&str> {
    let s = name_from_bytes(bytes)?;
    validate_name(s, name_max)?;
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
        validate_name("/a", 255).unwrap();
        validate_name(&format!("/{}", "x".repeat(255)), 255).unwrap();
        validate_name(&format!("/{}", "x".repeat(16)), 16).unwrap();
        validate_name("/with space and ünïcode", 255).unwrap();
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
            let e = validate_name(name, 255).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{name:?}");
            assert!(e.detail().contains(needle), "{name:?}: {}", e.detail());
        }
        let long = format!("/{}", "x".repeat(256));
        assert!(validate_name(&long, 255)
            .unwrap_err()
            .detail()
            .contains("limit is 255; use a shorter name"));
        assert!(validate_name(&long[..18], 16)
            .unwrap_err()
            .detail()
            .contains("17 bytes after the slash; the limit is 16"));
        assert!(validate_name_bytes(b"/\xff", 255)
            .unwrap_err()
            .detail()
            .contains("UTF-8"));
    }

    #[test]
    fn random_names_are_valid_and_distinct() {
        let a = random_name().unwrap();
        let b = random_name().unwrap();
        assert_ne!(a, b);
        validate_name(&a, 255).unwrap();
        assert_eq!(a.len(), 5 + RANDOM_NAME_CHARS);
        assert!(a.starts_with("/pmq-"));
    }
}
