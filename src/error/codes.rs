//! The exit codes and how every SQLSTATE class maps to one: the one table `exit_code`
//! reads, `pgbatch exit-codes` prints, and the AWS Batch job definitions retry by.
//! See <https://www.postgresql.org/docs/current/errcodes-appendix.html>.

use super::exit;

/// One process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ExitCode {
    pub code: u8,
    pub name: &'static str,
    pub meaning: &'static str,
    /// Whether running the same command again may succeed.
    pub retryable: bool,
}

const fn code(code: u8, name: &'static str, meaning: &'static str, retryable: bool) -> ExitCode {
    ExitCode {
        code,
        name,
        meaning,
        retryable,
    }
}

/// Every exit code pgbatch uses.
pub const EXIT_CODES: [ExitCode; 8] = [
    code(exit::OK, "ok", "loaded, or already loaded", false),
    code(exit::USAGE, "usage", "bad command line", false),
    code(
        exit::DATA,
        "data",
        "bad data, including rows the database refuses (keys, constraints, triggers)",
        false,
    ),
    code(
        exit::NO_INPUT,
        "no_input",
        "an input file or object is missing, or a glob matches nothing",
        false,
    ),
    code(
        exit::UNAVAILABLE,
        "unavailable",
        "the database or a store cannot be reached, or went away",
        true,
    ),
    code(
        exit::SOFTWARE,
        "software",
        "an internal error in pgbatch (a bug): report it",
        false,
    ),
    code(
        exit::TEMP_FAIL,
        "temp_fail",
        "a temporary failure: deadlock, serialization, lock or statement timeout, resources, shards not all recorded",
        true,
    ),
    code(
        exit::CONFIG,
        "config",
        "configuration: job spec, migrations, connection settings, privileges",
        false,
    ),
];

/// A SQLSTATE (a whole code, or a class of two characters) and its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SqlState {
    pub sqlstate: &'static str,
    pub exit_code: u8,
    pub meaning: &'static str,
}

const fn state(sqlstate: &'static str, exit_code: u8, meaning: &'static str) -> SqlState {
    SqlState {
        sqlstate,
        exit_code,
        meaning,
    }
}

/// Whole codes first (they override their class), then every class PostgreSQL defines.
/// A code of no listed class is an internal error: never retried blindly.
pub const SQLSTATES: [SqlState; 51] = [
    state("57014", exit::TEMP_FAIL, "query canceled (statement timeout)"),
    state("57P01", exit::UNAVAILABLE, "admin shutdown"),
    state("57P02", exit::UNAVAILABLE, "crash shutdown"),
    state(
        "57P03",
        exit::UNAVAILABLE,
        "cannot connect now (starting up, recovering)",
    ),
    state("57P04", exit::CONFIG, "database dropped"),
    state("57P05", exit::TEMP_FAIL, "idle session timeout"),
    state("55P03", exit::TEMP_FAIL, "lock not available (lock timeout)"),
    state("55006", exit::TEMP_FAIL, "object in use"),
    state("58030", exit::TEMP_FAIL, "I/O error on the server"),
    state("00", exit::OK, "successful completion"),
    state("01", exit::OK, "warning"),
    state("02", exit::OK, "no data"),
    state("03", exit::SOFTWARE, "SQL statement not yet complete"),
    state("08", exit::UNAVAILABLE, "connection exception"),
    state("09", exit::DATA, "triggered action exception"),
    state("0A", exit::CONFIG, "feature not supported"),
    state("0B", exit::SOFTWARE, "invalid transaction initiation"),
    state("0F", exit::CONFIG, "locator exception"),
    state("0L", exit::CONFIG, "invalid grantor"),
    state("0P", exit::CONFIG, "invalid role specification"),
    state("0Z", exit::SOFTWARE, "diagnostics exception"),
    state("20", exit::DATA, "case not found"),
    state(
        "21",
        exit::DATA,
        "cardinality violation (a key twice in one upsert batch)",
    ),
    state("22", exit::DATA, "data exception"),
    state("23", exit::DATA, "integrity constraint violation"),
    state("24", exit::SOFTWARE, "invalid cursor state"),
    state("25", exit::SOFTWARE, "invalid transaction state"),
    state("26", exit::SOFTWARE, "invalid SQL statement name"),
    state("27", exit::DATA, "triggered data change violation"),
    state("28", exit::CONFIG, "invalid authorization specification"),
    state("2B", exit::SOFTWARE, "dependent privilege descriptors still exist"),
    state("2D", exit::SOFTWARE, "invalid transaction termination"),
    state("2F", exit::DATA, "SQL routine exception"),
    state("34", exit::SOFTWARE, "invalid cursor name"),
    state("38", exit::DATA, "external routine exception"),
    state("39", exit::DATA, "external routine invocation exception"),
    state("3B", exit::SOFTWARE, "savepoint exception"),
    state("3D", exit::CONFIG, "invalid catalog name (no such database)"),
    state("3F", exit::CONFIG, "invalid schema name"),
    state(
        "40",
        exit::TEMP_FAIL,
        "transaction rollback (serialization failure, deadlock)",
    ),
    state(
        "42",
        exit::CONFIG,
        "syntax error or access rule violation (undefined objects, privileges)",
    ),
    state("44", exit::DATA, "WITH CHECK OPTION violation"),
    state(
        "53",
        exit::TEMP_FAIL,
        "insufficient resources (disk full, out of memory, too many connections)",
    ),
    state(
        "54",
        exit::DATA,
        "program limit exceeded (a row or index entry too large)",
    ),
    state("55", exit::TEMP_FAIL, "object not in prerequisite state"),
    state("57", exit::UNAVAILABLE, "operator intervention"),
    state("58", exit::UNAVAILABLE, "system error (external to PostgreSQL)"),
    state("72", exit::TEMP_FAIL, "snapshot too old"),
    state("F0", exit::CONFIG, "configuration file error"),
    state("HV", exit::UNAVAILABLE, "foreign data wrapper error"),
    state("P0", exit::DATA, "PL/pgSQL error (raised by a trigger or function)"),
];

/// The exit code for a SQLSTATE: its own entry, else its class's, else 70 (`XX`, internal
/// errors, and any class PostgreSQL adds later).
pub fn for_sqlstate(code: &str) -> u8 {
    if let Some(entry) = SQLSTATES.iter().find(|s| s.sqlstate == code) {
        return entry.exit_code;
    }
    let class = code.get(..2).unwrap_or("");
    SQLSTATES
        .iter()
        .find(|s| s.sqlstate.len() == 2 && s.sqlstate == class)
        .map_or(exit::SOFTWARE, |s| s.exit_code)
}

/// Whether an exit code is one worth retrying.
pub fn is_retryable(code: u8) -> bool {
    EXIT_CODES.iter().any(|e| e.code == code && e.retryable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_then_classes_then_software() {
        assert_eq!(for_sqlstate("23503"), exit::DATA);
        assert_eq!(for_sqlstate("21000"), exit::DATA);
        assert_eq!(for_sqlstate("P0001"), exit::DATA);
        assert_eq!(for_sqlstate("54000"), exit::DATA);
        assert_eq!(for_sqlstate("08006"), exit::UNAVAILABLE);
        assert_eq!(for_sqlstate("57P01"), exit::UNAVAILABLE);
        assert_eq!(for_sqlstate("57014"), exit::TEMP_FAIL);
        assert_eq!(for_sqlstate("55P03"), exit::TEMP_FAIL);
        assert_eq!(for_sqlstate("40P01"), exit::TEMP_FAIL);
        assert_eq!(for_sqlstate("53100"), exit::TEMP_FAIL);
        assert_eq!(for_sqlstate("42P01"), exit::CONFIG);
        assert_eq!(for_sqlstate("42501"), exit::CONFIG);
        assert_eq!(for_sqlstate("3D000"), exit::CONFIG);
        assert_eq!(for_sqlstate("XX000"), exit::SOFTWARE);
        assert_eq!(for_sqlstate("ZZ999"), exit::SOFTWARE);
    }

    #[test]
    fn every_entry_once_with_a_known_exit_code() {
        for (i, entry) in SQLSTATES.iter().enumerate() {
            assert!(
                !SQLSTATES[i + 1..].iter().any(|s| s.sqlstate == entry.sqlstate),
                "{} twice",
                entry.sqlstate
            );
            assert!(EXIT_CODES.iter().any(|e| e.code == entry.exit_code), "{entry:?}");
        }
        assert!(is_retryable(exit::TEMP_FAIL) && is_retryable(exit::UNAVAILABLE));
        assert!(!is_retryable(exit::DATA) && !is_retryable(exit::SOFTWARE));
    }
}
