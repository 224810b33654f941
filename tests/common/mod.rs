//! Plumbing shared by the integration tests that load the bundled plugin.

// Every test crate compiles this whole module but uses only part of it.
#![allow(dead_code)]

pub mod clap_host;

use std::path::PathBuf;

/// The path of a bundle in `target/bundled/`.
///
/// `cargo test` does not build bundles (`cargo xtask bundle cantus` does, and `cargo xtask test`
/// runs it first), so a missing bundle fails the test with that hint instead of being skipped.
pub fn bundled(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/bundled")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask bundle cantus` first (`cargo xtask test` does it)",
        path.display()
    );
    path
}

/// The plugin's CLAP id, as hosts see it in the bundle's factory.
pub const PLUGIN_ID: &str = "org.cantus.cantus";

/// A fresh instance of the bundled CLAP plugin (`target/bundled/cantus.clap`).
pub fn instance() -> clap_host::Instance {
    clap_host::TestHost::load(&bundled("cantus.clap")).instantiate(PLUGIN_ID)
}

/// A seeded xorshift64 generator: reproducible random input without a dependency.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        // Zero is the one state xorshift never leaves.
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `low..=high` (the modulo bias is irrelevant for tests).
    pub fn range(&mut self, low: u32, high: u32) -> u32 {
        let span = u64::from(high - low) + 1;
        low + (self.next_u64() % span) as u32
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}
