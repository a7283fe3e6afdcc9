//! Pure-Rust core of `bt_cracktrader` (placeholder; replaced by the real core).

/// Version of the core crate (taken from the workspace `Cargo.toml`).
#[must_use]
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_not_empty() {
        assert!(!version().is_empty());
    }
}
