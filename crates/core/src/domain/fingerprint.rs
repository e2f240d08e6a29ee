//! FNV-1a, 64 bit: the one fingerprint of dedup keys and payloads, stable across processes and
//! versions (unlike std's hasher).

/// A running FNV-1a hash over the bytes written to it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    /// Adds `bytes` to the hash.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The hash as 16 lowercase hex digits.
    pub(crate) fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

/// Lets a serialiser write straight into the hash, without building the text.
impl std::io::Write for Fnv1a {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_of_known_input_is_the_published_fnv1a_value() {
        let mut hash = Fnv1a::default();
        hash.update(b"a");
        assert_eq!(hash.hex(), "af63dc4c8601ec8c");
        assert_eq!(Fnv1a::default().hex(), "cbf29ce484222325");
    }
}
