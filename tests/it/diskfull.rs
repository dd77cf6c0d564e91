//! The database server's disk fills up during a load: a tablespace on an 8 MiB tmpfs this
//! test mounts, holding first the batch's staging table (`temp_tablespaces`), then the
//! target table itself. Either way the batch rolls back whole, the exit code is 75 (a
//! temporary failure, worth a retry once there is room: the README's table), the message
//! says what filled up, and once there is room the same load goes through.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::{code, pgbatch, stderr};
use crate::faults::{assert_state, expected_rows, load_args};
use crate::pg::{TestDb, repo};

/// A tmpfs of `size` mounted at `dir` (the cluster's user may write it) until dropped.
struct Small {
    dir: PathBuf,
}

impl Small {
    fn mount(dir: &Path, size: &str) -> Small {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("mount runs (util-linux)");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs for a tablespace: run it as root (or with \
             CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let small = Small { dir: dir.to_path_buf() };
        if pgbatch::embedded::is_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir)
                .status()
                .unwrap();
            assert!(status.success(), "chown postgres {}", dir.display());
        }
        small
    }
}

impl Drop for Small {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("--lazy").arg(&self.dir).status();
    }
}

#[test]
fn a_full_disk_on_the_server_rolls_the_batch_back_with_75_saying_so() {
    let expected = expected_rows();
    let dir = tempfile::tempdir().unwrap();
    // The cluster's user goes through the temp dir to the mount point.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // The job appends straight into its table; as `replace`, it stages the batch first.
    let staged = dir.path().join("staged");
    std::fs::create_dir_all(&staged).unwrap();
    let spec = std::fs::read_to_string(repo().join("jobs/air_quality_beijing.toml")).unwrap();
    let spec = spec.replace("mode = \"append\"", "mode = \"replace\"");
    assert!(spec.contains("mode = \"replace\""), "the job's mode line");
    std::fs::write(staged.join("air_quality_beijing.toml"), spec).unwrap();
    let jobs = staged.display().to_string();
    for (what, staging) in [("the staging table", true), ("the target table", false)] {
        let mut args = load_args();
        if staging {
            args.splice(0..0, ["--jobs-dir".to_owned(), jobs.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let db = TestDb::new();
        let psql = |sql: &str| db.query(sql);
        let place = dir.path().join(if staging { "staging" } else { "target" });
        let small = Small::mount(&place, "8m");
        let space = format!("{}_small", db.name);
        db.query(&format!("CREATE TABLESPACE {space} LOCATION '{}'", place.display()));
        let url = if staging {
            format!("{} options='-c temp_tablespaces={space}'", db.url())
        } else {
            db.query(&format!("ALTER TABLE measurements SET TABLESPACE {space}"));
            db.url()
        };
        let out = pgbatch(dir.path(), Some(&url), &args);
        let message = stderr(&out);
        assert_eq!(code(&out), 75, "{what} on a full disk: {message}");
        assert!(
            message.contains("the database server's disk is full: could not extend file")
                && message.contains("No space left on device"),
            "{what}: the message says what filled up: {message}"
        );
        assert_state(&format!("{what} on a full disk"), &psql, false, expected);
        // Room again: the same load goes through, once.
        if !staging {
            db.query("ALTER TABLE measurements SET TABLESPACE pg_default");
        }
        db.query(&format!("DROP TABLESPACE {space}"));
        drop(small);
        let out = pgbatch(dir.path(), Some(&db.url()), &args);
        assert_eq!(code(&out), 0, "{what}, with room: {}", stderr(&out));
        assert_state(&format!("{what}, with room"), &psql, true, expected);
    }
}
