//! Records the git commit the binary is built from, for `auth-core --version`.
//!
//! `AUTH_CORE_GIT_COMMIT` wins when set (the container build has no `.git`; the Dockerfile passes the
//! commit in); otherwise `git rev-parse --short HEAD`; otherwise (a source tarball, no git) "unknown".
//! Cargo reruns this when HEAD moves: HEAD itself and the branch it points at are watched.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=AUTH_CORE_GIT_COMMIT");
    let commit = std::env::var("AUTH_CORE_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .filter(|c| is_commit_name(c))
        .unwrap_or_else(|| "unknown".to_owned());
    watch_git_head();
    println!("cargo:rustc-env=AUTH_CORE_GIT_COMMIT={commit}");
}

/// A commit name fit for a version line: short, and nothing that could break the line.
fn is_commit_name(text: &str) -> bool {
    (1..=40).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// `git rev-parse --git-path` finds the files in a plain checkout and in a worktree alike. Only
/// files that exist are watched: Cargo reruns on every build for a missing one.
fn watch_git_head() {
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            if std::path::Path::new(&path).is_file() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}
