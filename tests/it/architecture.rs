//! The house rules, checked on the sources: no two files of a crate depend on each other
//! (through any chain of `use`s and paths), no source file has more than 600 lines before its
//! tests, and the CLI builds no JSON by hand (its documents are typed reports).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 5] = [
    "src",
    "backends/core/src",
    "backends/aws/src",
    "backends/gcp/src",
    "backends/vault/src",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| e.into_path())
        .collect()
}

/// A file's module path within its crate (`layers/mod.rs` → `["layers"]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The module (file) each `crate::…`, `super::…` or `self::…` path in `text` leads to: the
/// deepest module of the path that is a file. Braced use-trees count each branch.
fn targets(module: &[String], text: &str, files: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let resolve = |path: Vec<String>| -> Option<Vec<String>> {
        (0..=path.len())
            .rev()
            .map(|k| path[..k].to_vec())
            .find(|p| files.contains(p))
    };
    let absolute = |segs: &[&str]| -> Vec<String> {
        let mut base: Vec<String> = module.to_vec();
        let mut rest = segs;
        match rest.first() {
            Some(&"crate") => {
                base.clear();
                rest = &rest[1..];
            }
            _ => {
                while let Some(&s) = rest.first() {
                    match s {
                        "super" => {
                            base.pop();
                        }
                        "self" => {}
                        _ => break,
                    }
                    rest = &rest[1..];
                }
            }
        }
        base.extend(rest.iter().map(|s| s.to_string()));
        base
    };
    let path = regex::Regex::new(r"\b(?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+").unwrap();
    let tree =
        regex::Regex::new(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^}]*)\}")
            .unwrap();
    let mut out = BTreeSet::new();
    for m in path.find_iter(text) {
        let segs: Vec<&str> = m.as_str().split("::").collect();
        out.extend(resolve(absolute(&segs)));
    }
    for c in tree.captures_iter(text) {
        let head: Vec<&str> = c[1].split("::").collect();
        for item in c[2].split(',') {
            let item = item.split(" as ").next().unwrap().trim();
            if item.is_empty() || item == "self" {
                continue;
            }
            let mut segs = head.clone();
            segs.extend(item.split("::"));
            out.extend(resolve(absolute(&segs)));
        }
    }
    // A module and its own ancestors and descendants are one piece (`mod x;`, `use super::…`).
    out.retain(|t| !(t.starts_with(module) || module.starts_with(t)));
    out
}

/// The code of a file without its comments and tests.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The cycles of `graph` (strongly connected components of more than one node).
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    let reach = |from: &Vec<String>| -> BTreeSet<Vec<String>> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(n) = todo.pop() {
            for t in graph.get(&n).into_iter().flatten() {
                if seen.insert(t.clone()) {
                    todo.push(t.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<_, _> = graph.keys().map(|k| (k.clone(), reach(k))).collect();
    let mut out: Vec<Vec<Vec<String>>> = Vec::new();
    for (a, ra) in &reaches {
        if !ra.contains(a) {
            continue;
        }
        let mut comp: Vec<Vec<String>> = reaches
            .iter()
            .filter(|(b, rb)| ra.contains(*b) && rb.contains(a))
            .map(|(b, _)| b.clone())
            .collect();
        comp.sort();
        if comp.len() > 1 && !out.contains(&comp) {
            out.push(comp);
        }
    }
    out
}

#[test]
fn no_two_files_of_a_crate_depend_on_each_other() {
    let mut edges = 0;
    for krate in CRATES {
        let src = root().join(krate);
        let files: BTreeMap<Vec<String>, PathBuf> = rust_files(&src)
            .into_iter()
            .map(|f| (module_of(&src, &f), f))
            .collect();
        let modules: BTreeSet<Vec<String>> = files.keys().cloned().collect();
        let graph: BTreeMap<_, _> = files
            .iter()
            .map(|(m, f)| {
                let text = code(&std::fs::read_to_string(f).unwrap());
                (m.clone(), targets(m, &text, &modules))
            })
            .collect();
        edges += graph.values().map(BTreeSet::len).sum::<usize>();
        let found = cycles(&graph);
        assert!(
            found.is_empty(),
            "{krate}: files that depend on each other: {:?}",
            found
                .iter()
                .map(|c| c
                    .iter()
                    .map(|m| m.join("/"))
                    .collect::<Vec<_>>()
                    .join(" <-> "))
                .collect::<Vec<_>>()
        );
    }
    assert!(
        edges > 100,
        "the check found only {edges} imports: it reads the sources wrong"
    );
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let m = |s: &str| -> Vec<String> { s.split('/').map(str::to_string).collect() };
    let modules: BTreeSet<Vec<String>> = [m("a"), m("b"), m("b/c")].into();
    assert_eq!(
        targets(&m("a"), "use crate::b::c::{X, Y};", &modules),
        [m("b/c")].into()
    );
    assert!(
        targets(&m("b/c"), "use super::Thing;", &modules).is_empty(),
        "a parent is no cycle"
    );
    let graph: BTreeMap<_, _> = [
        (m("a"), [m("b")].into()),
        (m("b"), [m("a")].into()),
        (m("b/c"), BTreeSet::new()),
    ]
    .into();
    assert_eq!(cycles(&graph), [vec![m("a"), m("b")]]);
}

#[test]
fn no_source_file_is_over_600_lines_before_its_tests() {
    for krate in CRATES {
        for f in rust_files(&root().join(krate)) {
            let name = f.file_name().unwrap().to_string_lossy();
            // Files that are tests whole (declared under #[cfg(test)]).
            if name == "tests.rs" || name.ends_with("_tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            let lines = text
                .lines()
                .take_while(|l| !l.starts_with("#[cfg(test)]"))
                .count();
            assert!(
                lines <= 600,
                "{}: {lines} lines before its tests",
                f.display()
            );
        }
    }
}

#[test]
fn the_cli_builds_no_json_by_hand() {
    for f in rust_files(&root().join("src/cli")) {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains("json!("),
            "{}: a hand-built JSON document; make it a typed report in src/app or src/output",
            f.display()
        );
    }
}
