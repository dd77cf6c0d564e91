//! The machine's cores split in two: the database on one half, its clients (`wrk`, the
//! API, `pgbench`) on the other, as when the database is a server of its own (Aurora).
//! With everything on the same cores, the HTTP client and the API take CPU from the
//! database that `pgbench`, a client of the database alone, does not; split, the question
//! is only whether the API keeps the database as busy as `pgbench` does.

use std::process::Command;

/// The cores as `taskset` lists them: the database's and the clients'.
pub struct Split {
    pub database: String,
    pub clients: String,
}

impl Split {
    /// This machine's cores in two halves (the first to the database), or none on one core.
    pub fn of_this_machine() -> Option<Split> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let half = cores / 2;
        (half >= 1).then(|| Split {
            database: format!("0-{}", half - 1),
            clients: format!("{half}-{}", cores - 1),
        })
    }
}

/// `program` to run on `cores` (`taskset -c`), or anywhere.
pub fn on(cores: Option<&str>, program: &str) -> Command {
    match cores {
        Some(cores) => {
            let mut command = Command::new("taskset");
            command.args(["-c", cores, program]);
            command
        }
        None => Command::new(program),
    }
}

/// Pins process `pid`, its threads and its children, to `cores`; the children it forks
/// later (a server's new connections) inherit them.
pub fn pin(pid: u32, cores: &str) {
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", cores, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("taskset runs (util-linux)");
    assert!(status.success(), "taskset could not pin process {pid} to cores {cores}");
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
        pin(child, cores);
    }
}

/// The postmaster of the cluster whose data folder is `data`.
pub fn postmaster(data: &std::path::Path) -> u32 {
    let pid = std::fs::read_to_string(data.join("postmaster.pid")).expect("the cluster's postmaster.pid");
    pid.lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .expect("a pid on postmaster.pid's first line")
}
