//! The layering stated in `src/lib.rs` holds: every `crate::` path in `src/` (and every
//! `auth_core::` path in the binary) names a module on a line below its own. Reading the list from
//! the doc comment keeps the statement and the check one thing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Module name → its line in the list (0 is the top).
type Layers = BTreeMap<String, usize>;

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The `# Layers` list of `src/lib.rs`: each `//! - ` line names its modules in backticks before
/// its first colon; `main.rs` is the binary, on the line of the command line.
fn stated_layers(lib_rs: &str) -> Layers {
    let mut layers = Layers::new();
    let mut in_section = false;
    let mut line_number = 0;
    for line in lib_rs.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            if in_section {
                break;
            }
            continue;
        };
        let doc = doc.trim_start();
        if doc.starts_with('#') {
            in_section = doc == "# Layers";
            continue;
        }
        let Some(item) = doc.strip_prefix("- ").filter(|_| in_section) else {
            continue;
        };
        let names = item.split(':').next().unwrap_or_default();
        for name in names.split('`').skip(1).step_by(2) {
            let module = name.strip_suffix(".rs").unwrap_or(name);
            assert!(
                layers.insert(module.to_owned(), line_number).is_none(),
                "{module} is listed twice"
            );
        }
        line_number += 1;
    }
    layers
}

/// Code without its comments (a `//` inside a string literal also ends the line here: the check
/// then sees less, never more).
fn without_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first segment of every path that starts at `root::` (`crate` or `auth_core`), with the line it
/// is on; grouped imports (`crate::{a::{b, c}, d}`) give each top-level item.
fn used_modules(code: &str, root: &str) -> Vec<(String, usize)> {
    let needle = format!("{root}::");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = code[from..].find(&needle) {
        let start = from + offset;
        from = start + needle.len();
        let before = code[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let line = code[..start].matches('\n').count() + 1;
        let rest = &code[from..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push((first_segment(&item), line));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.push((first_segment(&item), line));
        } else {
            found.push((first_segment(rest), line));
        }
    }
    found.retain(|(name, _)| !name.is_empty() && name != "self");
    found
}

fn first_segment(path: &str) -> String {
    path.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every use of a module on the same line or a line above, as `file:line: module -> used`.
fn violations(layers: &Layers, files: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (relative, source) in files {
        let module = relative
            .split('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".rs");
        if module == "lib" {
            continue;
        }
        let Some(&own) = layers.get(module) else {
            found.push(format!("{relative}: module {module} is not in the list"));
            continue;
        };
        let root = if module == "main" {
            "auth_core"
        } else {
            "crate"
        };
        for (used, line) in used_modules(&without_comments(source), root) {
            let Some(&theirs) = layers.get(&used) else {
                continue; // an item at the crate's root, such as an exported macro
            };
            if used != module && theirs <= own {
                found.push(format!("{relative}:{line}: {module} -> {used}"));
            }
        }
    }
    found
}

#[test]
fn no_module_uses_one_on_its_own_line_or_above() {
    let src = source_dir();
    let lib_rs = fs::read_to_string(src.join("lib.rs")).unwrap();
    let layers = stated_layers(&lib_rs);

    let declared: Vec<&str> = lib_rs
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';'))
        .collect();
    for module in &declared {
        assert!(
            layers.contains_key(*module),
            "src/lib.rs declares {module} but its layer list does not place it"
        );
    }
    assert!(layers.contains_key("main"), "the binary has no line");

    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let files: Vec<(String, String)> = paths
        .iter()
        .map(|path| {
            let relative = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (relative, fs::read_to_string(path).unwrap())
        })
        .collect();
    assert!(files.len() > 100, "only {} files read", files.len());
    let found = violations(&layers, &files);
    assert!(
        found.is_empty(),
        "imports that run up or across the layers of src/lib.rs:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_grouped_nested_and_qualified_paths() {
    let layers = stated_layers(
        "//! # Layers\n//!\n//! - `app` (with `main.rs`): top\n//! - `api`, `admin`: handlers\n\
         //!   continued: `ignored`\n//! - `db`: bottom\n\npub mod app;\n",
    );
    assert_eq!(
        layers.into_iter().collect::<Vec<_>>(),
        [
            ("admin".to_owned(), 1),
            ("api".to_owned(), 1),
            ("app".to_owned(), 0),
            ("db".to_owned(), 2),
            ("main".to_owned(), 0),
        ]
    );
    let layers =
        stated_layers("//! # Layers\n//! - `app`: a\n//! - `api`, `admin`: b\n//! - `db`: c\n");
    let files = [
        (
            "db/users.rs".to_owned(),
            "use crate::{db::x, api::{a, b}};\n// use crate::app;\nfn f() { crate::app::go(); $crate::app::m!(); }\n"
                .to_owned(),
        ),
        ("api/me.rs".to_owned(), "use crate::admin::view;\nuse crate::db;\n".to_owned()),
        ("main.rs".to_owned(), "use auth_core::app;\n".to_owned()),
    ];
    assert_eq!(
        violations(&layers, &files),
        [
            "db/users.rs:1: db -> api",
            "db/users.rs:3: db -> app",
            "api/me.rs:1: api -> admin",
            "main.rs: module main is not in the list",
        ]
    );
}

#[test]
fn the_binary_only_hands_over_to_cli() {
    let main_rs = fs::read_to_string(source_dir().join("main.rs")).unwrap();
    let lines = main_rs.lines().count();
    assert!(
        lines < 60,
        "src/main.rs has {lines} lines: commands belong in src/cli/"
    );
}
