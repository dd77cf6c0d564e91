//! Content hashes for the ledger: sha256, written as lowercase hex.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// The sha256 of `bytes`, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

/// Lowercase hex of a digest.
pub fn to_hex(digest: &[u8]) -> String {
    digest
        .iter()
        .fold(String::with_capacity(digest.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// Hashes a file as a stream, in blocks of 1 MiB.
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<(String, u64)> {
    sha256_reader(&mut std::fs::File::open(path)?)
}

/// Hashes a stream in blocks of 1 MiB; returns the digest and the byte count.
pub fn sha256_reader(reader: &mut dyn std::io::Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((to_hex(&hasher.finalize()), total))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_of_abc_is_the_fips_vector() {
        assert_eq!(
            super::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
