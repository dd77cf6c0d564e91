//! The house rules of `src/`, read from the code itself: imports point down (`bin` ->
//! `api`, `pipeline` -> `job`, `db` -> `error`), no two modules import each other (directly
//! or round a loop), and no file is over 400 lines.
//!
//! A module's imports are the `crate::`, `super::` and `self::` paths in its code (tests
//! left out), each resolved to the deepest module file it names. A module and its own
//! ancestors are one room: `mod.rs` re-exports its children and the children use its
//! types, so edges between them are not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules each top-level module may import; anything else is an arrow up.
const ALLOWED: [(&str, &[&str]); 9] = [
    ("error", &[]),
    ("hash", &[]),
    ("db", &["error", "hash"]),
    ("job", &["db", "error", "hash"]),
    ("embedded", &["db", "error", "hash"]),
    ("pipeline", &["job", "db", "error", "hash"]),
    ("api", &["db", "error", "hash"]),
    ("infer", &["pipeline", "job", "error"]),
    ("submit", &["error"]),
];

const MAX_LINES: usize = 400;

type Module = Vec<String>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/pipeline/source/csv.rs` is `pipeline::source::csv`; a `mod.rs` is its folder.
fn module_of(file: &Path) -> Module {
    let relative = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Module = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    parts
}

/// The code of a file without its comments and its `#[cfg(test)] mod tests { .. }`.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests {").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path that starts at `crate`, `super` or `self`, with `{a, b::c}` groups expanded
/// one level.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(offset) = code[from..].find(start) {
            let at = from + offset;
            from = at + start.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_' || bytes[at - 1] == b':') {
                continue;
            }
            let rest = &code[at..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let head: Vec<String> = rest[..end]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if rest[end..].starts_with('{') {
                let group = &rest[end + 1..rest[end..].find('}').map_or(rest.len(), |close| end + close)];
                for item in group.split(',') {
                    let mut path = head.clone();
                    path.extend(
                        item.trim()
                            .split("::")
                            .map(|s| s.trim().trim_start_matches('{').to_owned())
                            .filter(|s| !s.is_empty()),
                    );
                    found.push(path);
                }
            } else {
                found.push(head);
            }
        }
    }
    found
}

/// The module a path names: `super` and `self` taken from `module`, then the longest
/// prefix that is a module of the crate.
fn resolve(module: &Module, path: &[String], modules: &BTreeSet<Module>) -> Option<Module> {
    let mut base: Module = if path.first()? == "crate" {
        Vec::new()
    } else {
        module.clone()
    };
    let mut rest = path;
    if rest[0] == "crate" {
        rest = &rest[1..];
    }
    while let Some(first) = rest.first() {
        match first.as_str() {
            "super" => {
                base.pop()?;
            }
            "self" => {}
            _ => break,
        }
        rest = &rest[1..];
    }
    let mut best = None;
    let mut candidate = base.clone();
    if modules.contains(&candidate) {
        best = Some(candidate.clone());
    }
    for part in rest {
        candidate.push(part.clone());
        if modules.contains(&candidate) {
            best = Some(candidate.clone());
        }
    }
    best
}

fn is_ancestor(a: &Module, b: &Module) -> bool {
    a.len() <= b.len() && b[..a.len()] == a[..]
}

/// Each library module (not the binary, not tests) and the modules it imports.
fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.retain(|f| !f.starts_with(src().join("bin")) && f.file_name().is_some_and(|n| n != "tests.rs"));
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(file);
        let text = std::fs::read_to_string(file).unwrap();
        let targets: BTreeSet<Module> = paths(&code(&text))
            .iter()
            .filter_map(|path| resolve(&module, path, &modules))
            .filter(|target| !is_ancestor(target, &module) && !is_ancestor(&module, target))
            .collect();
        graph.insert(module, targets);
    }
    graph
}

#[test]
fn imports_point_down() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.into_iter().collect();
    let mut wrong = Vec::new();
    for (module, targets) in graph() {
        let Some(top) = module.first() else { continue };
        let may = allowed
            .get(top.as_str())
            .unwrap_or_else(|| panic!("src/{top} is not in the layout's table (tests/layout.rs)"));
        for target in targets {
            let Some(other) = target.first() else { continue };
            if other != top && !may.contains(&other.as_str()) {
                wrong.push(format!("{} imports {}", module.join("::"), target.join("::")));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up or sideways:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_import_loops() {
    // Depth-first search; a module met again on the current path closes a loop.
    fn visit(
        module: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        path: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
        loops: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|m| m == module) {
            let names: Vec<String> = path[at..].iter().chain([module]).map(|m| m.join("::")).collect();
            loops.push(names.join(" -> "));
            return;
        }
        if !done.insert(module.clone()) {
            return;
        }
        path.push(module.clone());
        for next in graph.get(module).into_iter().flatten() {
            visit(next, graph, path, done, loops);
        }
        path.pop();
    }
    let graph = graph();
    let mut loops = Vec::new();
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        visit(module, &graph, &mut Vec::new(), &mut done, &mut loops);
    }
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

#[test]
fn no_file_is_over_400_lines() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).unwrap().lines().count();
            (lines > MAX_LINES).then(|| format!("{}: {lines} lines", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "files over {MAX_LINES} lines:\n{}", long.join("\n"));
}

/// The checks above must see real imports, or they pass on nothing.
#[test]
fn the_reader_finds_imports() {
    let graph = graph();
    let batch = graph.get(&vec!["pipeline".to_owned(), "loading".to_owned()]).unwrap();
    assert!(batch.contains(&vec!["db".to_owned(), "ledger".to_owned()]), "{batch:?}");
    assert!(
        batch.contains(&vec!["pipeline".to_owned(), "merge".to_owned()]),
        "{batch:?}"
    );
    let column = graph.get(&vec!["job".to_owned(), "column".to_owned()]).unwrap();
    assert!(
        column.contains(&vec!["job".to_owned(), "time".to_owned()]),
        "{column:?}"
    );
    // An arrow up is seen as one.
    let module = vec!["job".to_owned(), "x".to_owned()];
    let mut modules: BTreeSet<Module> = graph.keys().cloned().collect();
    modules.insert(module.clone());
    let found = paths(&code(
        "use crate::pipeline::bind::{Binding, find};\n// use crate::api::x;\n",
    ));
    let targets: Vec<Module> = found.iter().filter_map(|p| resolve(&module, p, &modules)).collect();
    assert_eq!(targets, vec![vec!["pipeline".to_owned(), "bind".to_owned()]; 2]);
}
