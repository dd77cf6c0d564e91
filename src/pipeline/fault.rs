//! Named points of a batch where the fault tests stop it. With the `failpoints` feature
//! (on in test builds only) and `FAILPOINTS=<name>=return(<file>)`, a load that gets to the
//! point creates `<file>` and waits there until `<file>.go` exists, so that a test can kill
//! the process, or stop the server, at exactly that point. Without the feature, nothing.
//!
//! The points: `batch::after_copy` (every row sent), `batch::after_merge`,
//! `batch::after_ledger` (the ledger row written, not committed), `batch::before_commit`,
//! `batch::after_commit` (committed, the summary not given yet), `finalize::after_merge`.

/// Stops at the point `name` when a test asks for it.
pub(crate) fn point(name: &str) {
    #[cfg(feature = "failpoints")]
    fail::fail_point!(name, |marker: Option<String>| hold(marker.as_deref()));
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}

/// Says the point is reached (creates `marker`) and waits for `marker.go`.
#[cfg(feature = "failpoints")]
fn hold(marker: Option<&str>) {
    let Some(marker) = marker else {
        return;
    };
    let go = std::path::PathBuf::from(format!("{marker}.go"));
    let _ = std::fs::write(marker, b"");
    while !go.exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
