//! The fuzz targets' short run, in `cargo test`: every seed (`fuzz/seeds`, cut from
//! ../shared/data and the repository's jobs and routes) and every kept regression
//! (`fuzz/regressions/TARGET/`) through each target's body (`fuzz/src/lib.rs`, the same
//! code AFL++ runs), then mutations of them for a few seconds per target. Not
//! coverage-guided: that is `bash fuzz/run` (AFL++ through cargo-afl), by hand, since
//! instrumenting every crate costs a 25-minute build that CI cannot spare.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::pg::repo;

#[path = "../../fuzz/src/lib.rs"]
mod harness;

/// A target's body: bytes in, a panic when they find a fault.
type Body = fn(&[u8]);

/// How long each target's mutations run.
const SECONDS: u64 = 3;

/// A small deterministic generator (xorshift64*): the same run every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap()
    }
}

/// Bytes a parser treats specially.
const INTERESTING: [u8; 12] = [0, 0xff, 0x80, 0xc3, b',', b';', b'"', b'\\', b'\n', b'\r', b'\t', b'-'];

/// `input` changed one to four times: a bit flipped, a byte set or inserted, a range
/// removed or repeated, or the tail taken from `other`.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if at < out.len() => out[at] ^= 1 << rng.below(8),
            1 if at < out.len() => out[at] = INTERESTING[rng.below(INTERESTING.len())],
            2 => out.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            3 => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at..end);
            }
            4 => {
                let end = (at + rng.below(64)).min(out.len());
                let copy = out[at..end].to_vec();
                out.splice(at..at, copy);
            }
            _ => {
                let from = rng.below(other.len() + 1);
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
        }
    }
    out
}

/// Runs `body` on `input`; a panic fails the test, with the input kept for a regression.
fn run(target: &str, body: Body, input: &[u8], kept: &Path) {
    if let Err(panic) = std::panic::catch_unwind(|| body(input)) {
        let file = kept.join(format!("{target}-{}", input.len()));
        std::fs::write(&file, input).unwrap();
        std::panic::resume_unwind(Box::new(format!(
            "fuzz target {target} failed on {} (copy it to fuzz/regressions/{target}/): {}",
            file.display(),
            pgbatch::error::panic_message(&*panic)
        )));
    }
}

fn inputs(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

#[test]
fn every_target_takes_its_seeds_regressions_and_mutations() {
    let seeds = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("bash")
        .arg(repo().join("fuzz/seeds"))
        .arg(seeds.path())
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "fuzz/seeds: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let targets: [(&str, Body); 5] = [
        ("csv", harness::csv),
        ("parquet", harness::parquet),
        ("dump", harness::dump),
        ("job", harness::job),
        ("params", harness::params),
    ];
    for (target, body) in targets {
        let mut corpus = inputs(&seeds.path().join(target));
        assert!(!corpus.is_empty(), "no seeds for {target}");
        corpus.extend(inputs(&repo().join("fuzz/regressions").join(target)));
        for input in &corpus {
            run(target, body, input, kept);
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let deadline = Instant::now() + Duration::from_secs(SECONDS);
        let mut runs = 0;
        while Instant::now() < deadline {
            let input = &corpus[rng.below(corpus.len())];
            let other = &corpus[rng.below(corpus.len())];
            run(target, body, &mutate(&mut rng, input, other), kept);
            runs += 1;
        }
        assert!(runs > 0, "{target}: no mutation ran");
    }
}
