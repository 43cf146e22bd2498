//! The operator documentation against the code it describes, so that neither drifts silently: every
//! setting, reason code and metric it names exists and every one that exists is named; every link
//! resolves; the README stays a front page; the changelog and `--version` name this version.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use auth_core::clerk::reason::Reason;
use auth_core::settings::env_name;
use common::binary::run;
use common::settings_keys::settings_keys;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn doc(name: &str) -> String {
    read(&root().join("docs").join(name))
}

/// The first cell of every table row, without its backticks.
fn first_cells(markdown: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .map(|cell| cell.trim().trim_matches('`').to_owned())
        .collect()
}

#[test]
fn every_setting_has_a_row_in_configuration_md() {
    let text = doc("configuration.md");
    let keys = settings_keys();
    assert!(keys.len() > 50, "Settings.toml parsed: {keys:?}");
    for key in &keys {
        let row = format!("| {key} | {} |", env_name(key));
        assert!(
            text.contains(&row),
            "docs/configuration.md has no row {row:?}"
        );
    }
    let documented: BTreeSet<String> = first_cells(&text)
        .into_iter()
        .filter(|cell| cell.contains('.') && !cell.contains(' '))
        .collect();
    let stale: Vec<_> = documented.difference(&keys).collect();
    assert!(
        stale.is_empty(),
        "documented settings that do not exist: {stale:?}"
    );
}

#[test]
fn every_reason_code_has_a_row_in_authentication_md() {
    let text = doc("authentication.md");
    let codes: BTreeSet<String> = Reason::ALL.iter().map(|r| r.as_str().to_owned()).collect();
    let documented: BTreeSet<String> = first_cells(&text)
        .into_iter()
        .filter(|cell| cell.contains('-') && !cell.contains(' '))
        .collect();
    let missing: Vec<_> = codes.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&codes).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "reason codes without a row: {missing:?}; rows that are no reason code: {stale:?}"
    );
}

/// Every file under `src/`, concatenated.
fn all_source() -> String {
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&read(&path));
            }
        }
    }
    let mut out = String::new();
    walk(&root().join("src"), &mut out);
    out
}

#[test]
fn every_metric_operations_md_names_is_served() {
    let text = doc("operations.md");
    let source = all_source();
    let mut named = BTreeSet::new();
    for (at, _) in text.match_indices("auth_core_") {
        let name: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        let name = name.trim_end_matches('_');
        // A histogram's series are its family's name with a suffix the exporter adds.
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .fold(name, |n, suffix| n.strip_suffix(suffix).unwrap_or(n));
        named.insert(family.to_owned());
    }
    assert!(named.len() >= 10, "{named:?}");
    for name in named {
        assert!(
            source.contains(&format!("\"{name}")) || source.contains(&format!("{name}{{")),
            "docs/operations.md names {name}, which src/ does not serve"
        );
    }
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors_of(markdown: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

/// Relative link targets `](target)` of a markdown text, outside code blocks.
fn relative_links(markdown: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        for (at, _) in line.match_indices("](") {
            let rest = &line[at + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if !target.contains("://") && !target.starts_with("mailto:") {
                links.push(target.to_owned());
            }
        }
    }
    links
}

#[test]
fn every_link_in_the_documentation_resolves() {
    let mut files: Vec<PathBuf> = vec![root().join("README.md"), root().join("CHANGELOG.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    let mut checked = 0;
    for file in &files {
        let text = read(file);
        for link in relative_links(&text) {
            let (path, fragment) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            assert!(
                target.exists(),
                "{}: link {link:?} points nowhere",
                file.display()
            );
            if !fragment.is_empty() {
                let anchors = anchors_of(&read(&target));
                assert!(
                    anchors.contains(fragment),
                    "{}: link {link:?}: no such heading in {}",
                    file.display(),
                    target.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked} links checked");
}

#[test]
fn readme_is_a_front_page_that_links_every_document() {
    let readme = read(&root().join("README.md"));
    assert!(
        readme.len() <= 12 * 1024,
        "README.md is {} bytes",
        readme.len()
    );
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            let name = path.file_name().unwrap().to_str().unwrap();
            assert!(
                readme.contains(&format!("(docs/{name})")),
                "README.md does not link docs/{name}"
            );
        }
    }
}

#[test]
fn changelog_and_version_name_this_release() {
    let version = env!("CARGO_PKG_VERSION");
    let changelog = read(&root().join("CHANGELOG.md"));
    assert!(
        changelog.contains(&format!("\n## [{version}] - ")),
        "CHANGELOG.md has no section for {version}"
    );

    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &[], &["--version"]);
    assert!(out.status.success());
    // The commit the binary was built from; build.rs rebuilds when HEAD moves.
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("auth-core {version} ({commit})\n")
    );
}

/// Every source path (`src/…` in backticks) that ARCHITECTURE.md and docs/development.md's source
/// layout name exists, so the maps cannot keep naming a file that moved.
#[test]
fn every_source_path_the_maps_name_exists() {
    let maps = [read(&root().join("ARCHITECTURE.md")), doc("development.md")];
    let mut named = 0;
    for text in &maps {
        for path in text.split('`').skip(1).step_by(2) {
            if !path.starts_with("src/") || path.contains(' ') {
                continue;
            }
            named += 1;
            assert!(
                root().join(path.trim_end_matches('/')).exists(),
                "a map names {path}, which does not exist"
            );
        }
    }
    assert!(named > 40, "only {named} source paths found in the maps");
}
