//! Random secrets and their digests.

use std::fmt;

use rand::RngExt;
use sha2::{Digest, Sha256};

/// A secret shown to a person once (SCIM token, setup link, session id). `Debug` is redacted
/// so it cannot leak into logs by accident; only its digest is ever stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database stores and looks up.
    pub fn digest(&self) -> String {
        sha256_hex(self.0.as_bytes())
    }

    /// The last four characters, shown to admins to tell tokens apart.
    pub fn last4(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(**redacted**)")
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
    }
    out
}

/// `len` letters and digits from the operating system's CSPRNG (≈5.95 bits each).
pub fn random_alphanumeric(len: usize) -> String {
    rand::rng().sample_iter(&rand::distr::Alphanumeric).take(len).map(char::from).collect()
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A version 7 UUID in its usual text form: the SCIM `id` of new resources.
///
/// The creation time in milliseconds comes first, then 74 random bits: ids of new people
/// sort after older ones, so a batch of creates adds to the last page of the `scim_id` index
/// instead of dirtying a random page of it each (v4 ids cost one WAL page per create).
pub fn new_scim_id() -> String {
    use std::fmt::Write;
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = (bytes[6] & 0x0f) | 0x70;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut id = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            id.push('-');
        }
        let _ = write!(id, "{b:02x}");
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_comparisons() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"sane"));
        assert!(!constant_time_eq(b"same", b"samey"));
    }

    #[test]
    fn random_values_have_the_promised_shape() {
        let a = random_alphanumeric(22);
        assert_eq!(a.len(), 22);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, random_alphanumeric(22));
        let id = new_scim_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_eq!(&id[14..15], "7");
        assert!(id.as_bytes()[8] == b'-' && id.as_bytes()[23] == b'-');
        assert_ne!(id, new_scim_id());
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let s = Secret::new("a01-supersecret".into());
        assert!(!format!("{s:?}").contains("supersecret"));
        assert_eq!(s.last4(), "cret");
    }
}
