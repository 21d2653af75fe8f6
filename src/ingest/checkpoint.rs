//! Tail checkpoints: where reading stopped in each followed file, persisted so that a restart
//! resumes exactly there (no event lost, none counted twice).
//!
//! One JSON document per exporter, written atomically (write a temporary file in the same
//! directory, fsync, rename over the old one). A file is identified by (device, inode) and a
//! fingerprint of its first bytes, so that a re-used inode is not mistaken for the old file.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How many leading bytes the fingerprint covers.
pub const FINGERPRINT_LEN: usize = 64;

/// The checkpoint of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The path the file was last seen at.
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    /// Bytes of complete lines already recorded.
    pub offset: u64,
    /// Hex FNV-1a 64 of the first `fingerprint_len` bytes.
    pub fingerprint: String,
    pub fingerprint_len: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub version: u32,
    pub files: Vec<Entry>,
}

impl Checkpoint {
    /// Reads a checkpoint; a missing file is an empty checkpoint.
    pub fn load(path: &Path) -> io::Result<Self> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Checkpoint {
                version: 1,
                files: Vec::new(),
            }),
            Err(e) => Err(e),
        }
    }

    /// Writes atomically: temporary file, fsync, rename, fsync of the directory.
    pub fn store(&self, path: &Path) -> io::Result<()> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp"));
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&serde_json::to_vec_pretty(self).map_err(io::Error::other)?)?;
            f.write_all(b"\n")?;
            f.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// FNV-1a 64 of `bytes`, as hex.
pub fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The fingerprint of an open file: hash of its first `min(len, FINGERPRINT_LEN)` bytes, read
/// with a positioned read (the file's cursor is not moved).
pub fn fingerprint(file: &fs::File, len: usize) -> io::Result<(String, usize)> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; FINGERPRINT_LEN];
    let want = len.min(FINGERPRINT_LEN);
    let mut got = 0;
    while got < want {
        match file.read_at(&mut buf[got..want], got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    Ok((fnv1a(&buf[..got]), got))
}

/// Fingerprint of the file at `path` over exactly `len` bytes (`None` when shorter).
pub fn fingerprint_path(path: &Path, len: usize) -> io::Result<Option<String>> {
    let mut f = fs::File::open(path)?;
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match f.read(&mut buf[got..])? {
            0 => return Ok(None),
            n => got += n,
        }
    }
    Ok(Some(fnv1a(&buf)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.json");
        assert_eq!(Checkpoint::load(&path).unwrap().files.len(), 0);
        let cp = Checkpoint {
            version: 1,
            files: vec![Entry {
                path: "/var/log/a.jsonl".into(),
                dev: 1,
                ino: 2,
                offset: 300,
                fingerprint: fnv1a(b"abc"),
                fingerprint_len: 3,
            }],
        };
        cp.store(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), cp);
        assert!(!dir.path().join(".cp.json.tmp").exists());
    }

    #[test]
    fn corrupt_checkpoint_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.json");
        std::fs::write(&path, "{not json").unwrap();
        assert!(Checkpoint::load(&path).is_err());
    }

    #[test]
    fn fingerprints_cover_the_first_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'x'; 100]).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let (fp, len) = fingerprint(&f, 100).unwrap();
        assert_eq!(len, FINGERPRINT_LEN);
        assert_eq!(fingerprint_path(&path, len).unwrap(), Some(fp));
        assert_eq!(fingerprint_path(&path, 200).unwrap(), None);
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }
}
