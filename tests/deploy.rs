//! The deployment files (`Dockerfile`, `compose.yaml`, `deploy/auth-core.service`) against the code
//! they start: the image installs exactly the shared libraries the binary links, and every command,
//! environment variable, port and path they name is one the binary knows. Plus `auth-core
//! healthcheck`, the image's health probe, against a real server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use auth_core::cli::healthcheck::LIVENESS_PATH;
use auth_core::cli::Cli;
use auth_core::settings::{env_name, CONFIG_FILE_ENV};
use clap::CommandFactory;
use common::binary::{run, RunningServer, BIN};
use common::settings_keys::settings_keys;
use common::TestDb;

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

// ---------------------------------------------------------------------------------------------
// Dockerfile parsing

/// The Dockerfile's instructions, continuation lines joined and comments dropped.
fn dockerfile_instructions() -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in repo_file("Dockerfile").lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                if !current.trim().is_empty() {
                    instructions.push(current.split_whitespace().collect::<Vec<_>>().join(" "));
                }
                current.clear();
            }
        }
    }
    assert!(
        current.is_empty(),
        "Dockerfile ends inside a continued line"
    );
    instructions
}

/// Instructions per stage: (the `FROM` line, the instructions after it).
fn dockerfile_stages() -> Vec<(String, Vec<String>)> {
    let mut stages: Vec<(String, Vec<String>)> = Vec::new();
    for instruction in dockerfile_instructions() {
        if instruction.starts_with("FROM ") {
            stages.push((instruction, Vec::new()));
        } else if let Some((_, body)) = stages.last_mut() {
            body.push(instruction);
        }
    }
    stages
}

/// The Debian release an image reference names: `debian:bookworm-slim` and
/// `rust:${RUST_VERSION}-bookworm` both give `bookworm`.
fn debian_release(from: &str) -> String {
    let image = from.split_whitespace().nth(1).unwrap();
    let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or(image);
    let release = tag.strip_suffix("-slim").unwrap_or(tag);
    release.rsplit('-').next().unwrap().to_owned()
}

/// The packages the runtime (last) stage installs with `apt-get install`.
fn runtime_stage_packages() -> Vec<String> {
    let stages = dockerfile_stages();
    let (_, body) = stages.last().unwrap();
    let mut packages = Vec::new();
    for run in body.iter().filter(|i| i.starts_with("RUN ")) {
        for command in run.split("&&") {
            let words: Vec<&str> = command.split_whitespace().collect();
            let Some(at) = words.windows(2).position(|w| w == ["apt-get", "install"]) else {
                continue;
            };
            let options: Vec<&str> = words[at + 2..]
                .iter()
                .copied()
                .filter(|w| w.starts_with('-'))
                .collect();
            // Without it apt adds recommended packages: more in the image than the binary needs.
            assert!(
                options.contains(&"--no-install-recommends") && options.contains(&"-y"),
                "apt-get install without -y --no-install-recommends: {command}"
            );
            packages.extend(
                words[at + 2..]
                    .iter()
                    .filter(|w| !w.starts_with('-'))
                    .map(|w| (*w).to_owned()),
            );
        }
    }
    packages
}

// ---------------------------------------------------------------------------------------------
// The runtime stage's libraries

/// Packages of the shared libraries the binary links that every `debian:bookworm-slim` image already
/// has (its manifest, debuerreotype/docker-debian-artifacts `bookworm/slim/rootfs.manifest`), with
/// why each is there. The runtime stage installs the rest.
const IN_BOOKWORM_SLIM: &[(&str, &str)] = &[
    (
        "libc6",
        "libc, libm, libresolv and the dynamic loader: Essential",
    ),
    (
        "libgcc-s1",
        "the unwinder Rust links for panics: libc6 depends on it",
    ),
    (
        "libcom-err2",
        "error tables for Kerberos: e2fsprogs (Priority required) depends on it",
    ),
    (
        "libgnutls30",
        "TLS for OpenLDAP: apt's own HTTPS transport depends on it",
    ),
    (
        "libp11-kit0",
        "GnuTLS's PKCS#11 support: a dependency of libgnutls30",
    ),
    ("libffi8", "a dependency of libp11-kit0"),
    (
        "libidn2-0",
        "internationalised domain names: a dependency of libgnutls30",
    ),
    ("libunistring2", "a dependency of libidn2-0 and libgnutls30"),
    ("libtasn1-6", "ASN.1: a dependency of libgnutls30"),
    (
        "libnettle8",
        "GnuTLS's cryptography: a dependency of libgnutls30",
    ),
    (
        "libhogweed6",
        "GnuTLS's public-key cryptography: a dependency of libgnutls30",
    ),
    ("libgmp10", "big numbers for libhogweed6"),
];

/// `(os-release ID and ID_LIKE, VERSION_CODENAME)` of the machine running the test.
fn host_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    (
        format!("{} {}", field("ID"), field("ID_LIKE")),
        field("VERSION_CODENAME"),
    )
}

/// The absolute paths `ldd` resolves for the binary. A library it cannot find fails the test: the
/// set would be incomplete.
fn linked_libraries(binary: &str) -> Vec<String> {
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run ldd ({e}): install libc-bin, which every Debian system has")
        });
    assert!(
        output.status.success(),
        "ldd {binary} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut paths = Vec::new();
    for line in text.lines().map(str::trim) {
        assert!(!line.contains("not found"), "ldd: {line}");
        // "libpq.so.5 => /lib/x86_64-linux-gnu/libpq.so.5 (0x…)", or the loader as
        // "/lib64/ld-linux-x86-64.so.2 (0x…)". linux-vdso.so.1 has no file: the kernel maps it.
        let path = match line.split_once("=>") {
            Some((_, right)) => right.split_whitespace().next(),
            None => line
                .split_whitespace()
                .next()
                .filter(|p| p.starts_with('/')),
        };
        if let Some(path) = path {
            paths.push(path.to_owned());
        }
    }
    assert!(!paths.is_empty(), "ldd listed no library: {text}");
    paths
}

/// Each library path's Debian package, asking dpkg once for every spelling of every path: Debian 12
/// merged /lib into /usr/lib, and dpkg knows each file under the path its package ships, which may be
/// either spelling, of the symlink or of its target.
fn packages_of(paths: &[String]) -> BTreeSet<String> {
    let spellings = |path: &str| {
        let mut all = vec![path.to_owned()];
        if let Ok(real) = std::fs::canonicalize(path) {
            all.push(real.display().to_string());
        }
        for p in all.clone() {
            match p.strip_prefix("/usr") {
                Some(short) => all.push(short.to_owned()),
                None => all.push(format!("/usr{p}")),
            }
        }
        all
    };
    let queries: Vec<String> = paths.iter().flat_map(|p| spellings(p)).collect();
    let output = Command::new("dpkg")
        .arg("-S")
        .args(&queries)
        .output()
        .unwrap_or_else(|e| panic!("cannot run dpkg ({e}) on a Debian system"));
    // dpkg exits 1 when some spelling is unknown, which is expected: each path is checked below.
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut owner_of_file = std::collections::HashMap::new();
    for line in text.lines() {
        // "libpq5:amd64: /usr/lib/x86_64-linux-gnu/libpq.so.5.15" (packages may be ", "-separated).
        if let Some((packages, file)) = line.split_once(": ") {
            for package in packages.split(", ") {
                let name = package.split(':').next().unwrap().to_owned();
                owner_of_file.insert(file.trim().to_owned(), name);
            }
        }
    }
    paths
        .iter()
        .map(|path| {
            spellings(path)
                .iter()
                .find_map(|s| owner_of_file.get(s).cloned())
                .unwrap_or_else(|| panic!("dpkg knows no package of {path}: {text}"))
        })
        .collect()
}

/// The image must hold every library the binary needs (or it fails at start with "error while
/// loading shared libraries") and nothing more. Linking does not depend on the profile, so the binary
/// built for the tests answers for the release one.
///
/// Package names are Debian 12's: on a machine that is not the image's Debian release the question
/// cannot be answered (another release names libssl3 libssl3t64; other systems have no dpkg), so
/// the test says so loudly and stops there, except in CI (`CI=true`, which runs on the image's
/// release), where that is a failure. On the image's release, a missing `ldd` or `dpkg` fails.
#[test]
fn runtime_image_installs_exactly_the_libraries_the_binary_links() {
    let stages = dockerfile_stages();
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    let build_release = debian_release(&stages[0].0);
    let runtime_release = debian_release(&stages[1].0);
    assert!(
        stages[1].0.starts_with("FROM debian:") && stages[1].0.contains("-slim"),
        "runtime stage: {}",
        stages[1].0
    );
    // A binary built on one Debian release links that release's library versions.
    assert_eq!(build_release, runtime_release, "build and runtime stages");

    let (ids, codename) = host_release();
    if !ids.split_whitespace().any(|id| id == "debian") || codename != runtime_release {
        let message = format!(
            "this machine is not Debian {runtime_release} ({ids:?} {codename:?}): the image's \
             libraries cannot be checked here"
        );
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("{message}; CI=true requires the check");
        }
        eprintln!("NOTICE: {message}; it runs in CI");
        return;
    }

    let installed = runtime_stage_packages();
    let installed_set: BTreeSet<String> = installed.iter().cloned().collect();
    assert_eq!(
        installed.len(),
        installed_set.len(),
        "a package is listed twice: {installed:?}"
    );
    let in_base: BTreeSet<String> = IN_BOOKWORM_SLIM
        .iter()
        .map(|(p, _)| (*p).to_owned())
        .collect();
    let both: Vec<_> = installed_set.intersection(&in_base).collect();
    assert!(
        both.is_empty(),
        "installed although bookworm-slim has them: {both:?}"
    );

    let needed = packages_of(&linked_libraries(BIN));
    let provided: BTreeSet<String> = installed_set.union(&in_base).cloned().collect();
    let missing: Vec<_> = needed.difference(&provided).collect();
    let unneeded: Vec<_> = provided.difference(&needed).collect();
    assert!(
        missing.is_empty() && unneeded.is_empty(),
        "the binary links packages the image lacks: {missing:?}; the image (or IN_BOOKWORM_SLIM) \
         has packages the binary does not link: {unneeded:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Names the deployment files share with the code

/// An environment variable the binary reads: a setting's name, or the override file's.
fn assert_known_variable(name: &str, file: &str) {
    let known = settings_keys().iter().any(|k| env_name(k) == name) || name == CONFIG_FILE_ENV;
    assert!(known, "{file} sets {name}, which auth-core does not read");
}

/// A command line the binary accepts, parsed by its own argument parser.
fn assert_command_parses(args: &[&str], file: &str) {
    assert_eq!(args.first(), Some(&"auth-core"), "{file}: {args:?}");
    if let Err(e) = Cli::command().try_get_matches_from(args) {
        panic!(
            "{file}: `{}` is not an auth-core command: {e}",
            args.join(" ")
        );
    }
}

fn json_words(instruction: &str, keyword: &str) -> Vec<String> {
    let json = instruction
        .split_once(keyword)
        .map(|(_, rest)| rest.trim())
        .unwrap();
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{instruction}: exec form expected ({e})"))
}

#[test]
fn dockerfile_names_what_the_binary_knows() {
    let stages = dockerfile_stages();
    let runtime = &stages.last().unwrap().1;
    let find = |prefix: &str| -> Vec<&String> {
        runtime.iter().filter(|i| i.starts_with(prefix)).collect()
    };

    let entrypoint = json_words(find("ENTRYPOINT ")[0], "ENTRYPOINT");
    let cmd = json_words(find("CMD ")[0], "CMD");
    let mut default_command: Vec<&str> = entrypoint.iter().map(String::as_str).collect();
    default_command.extend(cmd.iter().map(String::as_str));
    assert_command_parses(&default_command, "Dockerfile ENTRYPOINT + CMD");
    assert_eq!(default_command, ["auth-core", "serve"]);

    let healthcheck = json_words(find("HEALTHCHECK ")[0], "CMD");
    let words: Vec<&str> = healthcheck.iter().map(String::as_str).collect();
    assert_command_parses(&words, "Dockerfile HEALTHCHECK");
    assert_eq!(words[1], "healthcheck");

    let mut bind = None;
    for env in find("ENV ") {
        for pair in env.trim_start_matches("ENV ").split_whitespace() {
            let (name, value) = pair.split_once('=').unwrap();
            assert_known_variable(name, "Dockerfile");
            if name == env_name("server.bind") {
                bind = Some(value.to_owned());
            }
            if name == env_name("database.data_dir") {
                assert_eq!(value, "/data", "the data directory is the declared volume");
            }
        }
    }
    // Listening on every interface is what makes the published port reach the server.
    let bind = bind.expect("the image sets server.bind");
    assert_eq!(bind, "0.0.0.0:8000");
    assert_eq!(find("EXPOSE ")[0], "EXPOSE 8000");
    assert_eq!(find("VOLUME ")[0], r#"VOLUME ["/data"]"#);
    // The lockfile's versions, exactly: what the tests ran against is what the image ships.
    let build = &stages[0].1;
    assert!(
        build
            .iter()
            .any(|i| i.starts_with("RUN ") && i.contains("cargo build --release --locked")),
        "the build stage builds with --locked"
    );
    // Local state and secrets never reach the builder (nor a layer of the build stage).
    let ignored: Vec<String> = repo_file(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    for must in [".env", ".git", "/target", "/data", "/Settings.local.toml"] {
        assert!(
            ignored.iter().any(|l| l == must),
            ".dockerignore lacks {must}"
        );
    }
    let user = find("USER ")[0];
    assert!(!user.contains("root") && !user.ends_with(" 0"), "{user}");
}

#[test]
fn compose_file_names_what_the_binary_knows() {
    let mut compose: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&repo_file("compose.yaml")).unwrap();
    // The services share their image and environment through a YAML anchor (`<<: *auth-core`).
    compose.apply_merge().unwrap();
    let services = &compose["services"];
    let image_of = |service: &str| services[service]["image"].as_str().unwrap_or("").to_owned();
    assert!(
        image_of("postgres").starts_with("postgres:16"),
        "PostgreSQL 16"
    );

    for (service, command) in [("migrate", "migrate"), ("auth-core", "serve")] {
        let spec = &services[service];
        assert!(
            image_of(service).starts_with("auth-core:"),
            "{service} runs the image"
        );
        let args: Vec<&str> = spec["command"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let mut full = vec!["auth-core"];
        full.extend(&args);
        assert_command_parses(&full, "compose.yaml");
        assert_eq!(args, [command], "{service}");

        let environment = spec["environment"].as_mapping().unwrap();
        for name in environment.keys() {
            assert_known_variable(name.as_str().unwrap(), "compose.yaml");
        }
        let url = environment
            .get(env_name("database.url"))
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("{service} has no {}", env_name("database.url")));
        assert!(
            url.starts_with("postgres://") && url.contains("@postgres:5432/"),
            "{url}"
        );
    }
    // Replicas never migrate at start-up: the one-shot service does, before they start.
    let serve_env = services["auth-core"]["environment"].as_mapping().unwrap();
    assert_eq!(
        serve_env
            .get(env_name("database.run_migrations"))
            .and_then(|v| v.as_str()),
        Some("false")
    );
    assert_eq!(
        services["auth-core"]["depends_on"]["migrate"]["condition"].as_str(),
        Some("service_completed_successfully")
    );
    let probe: Vec<&str> = services["auth-core"]["healthcheck"]["test"]
        .as_sequence()
        .unwrap()
        .iter()
        .skip(1) // "CMD"
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_command_parses(&probe, "compose.yaml healthcheck");
    let ports = services["auth-core"]["ports"][0].as_str().unwrap();
    assert!(
        ports.ends_with(":8000"),
        "the image listens on 8000: {ports}"
    );
}

#[test]
fn systemd_unit_names_what_the_binary_knows() {
    let unit = repo_file("deploy/auth-core.service");
    let values = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_owned)
            .collect()
    };
    let exec = values("ExecStart");
    assert_eq!(exec.len(), 1);
    let mut args: Vec<&str> = exec[0].split_whitespace().collect();
    assert_eq!(args[0], "/usr/local/bin/auth-core");
    args[0] = "auth-core";
    assert_command_parses(&args, "auth-core.service ExecStart");

    let state_dir = values("StateDirectory");
    assert_eq!(state_dir, ["auth-core"]);
    for assignment in values("Environment") {
        let (name, value) = assignment.split_once('=').unwrap();
        assert_known_variable(name, "auth-core.service");
        if name == env_name("database.data_dir") {
            assert_eq!(
                value, "/var/lib/auth-core",
                "the data directory is the StateDirectory"
            );
        }
    }
    for (key, value) in [
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("KillSignal", "SIGTERM"),
    ] {
        assert_eq!(values(key), [value], "{key}");
    }

    // systemd's own reading of the unit, with ExecStart pointed at the binary under test.
    match Command::new("systemd-analyze").arg("--version").output() {
        Ok(_) => {
            let dir = tempfile::tempdir().unwrap();
            let copy = dir.path().join("auth-core.service");
            std::fs::write(&copy, unit.replace("/usr/local/bin/auth-core", BIN)).unwrap();
            let out = Command::new("systemd-analyze")
                .arg("verify")
                .arg(&copy)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.trim().is_empty(),
                "systemd-analyze verify: {stderr}"
            );
        }
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!("systemd-analyze unavailable ({e}); CI=true requires the unit's check (.ci/run installs systemd)")
        }
        Err(e) => eprintln!(
            "!!!!! SKIPPED: systemd-analyze unavailable ({e}): the unit's syntax is not verified here !!!!!"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// auth-core healthcheck

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn healthcheck_exits_0_while_the_server_answers() {
    let db = TestDb::sqlite();
    let env = [("DATABASE_URL", db.url.as_str())];
    let server = RunningServer::start(db.dir.path(), &env);
    let liveness = server.url(LIVENESS_PATH);
    let out = run(db.dir.path(), &env, &["healthcheck", &liveness]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("healthy: {liveness}\n")
    );

    // With no URL, the bind address from the settings; 0.0.0.0 (as in the image) means loopback.
    let port = server.base.rsplit(':').next().unwrap();
    let bind = format!("0.0.0.0:{port}");
    let with_bind = [
        ("DATABASE_URL", db.url.as_str()),
        ("AUTH_CORE__SERVER__BIND", &bind),
    ];
    let out = run(db.dir.path(), &with_bind, &["healthcheck"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("healthy: http://127.0.0.1:{port}/healthz\n")
    );

    // Another route answering anything but 200 is unhealthy.
    let out = run(db.dir.path(), &env, &["healthcheck", &server.url("/nope")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        format!(
            "auth-core: unhealthy: {}: answered 404, expected 200\n",
            server.url("/nope")
        )
    );
}

#[test]
fn healthcheck_exits_1_for_whatever_stops_the_probe() {
    let dir = tempfile::tempdir().unwrap();
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let url = format!("http://{closed}/healthz");
    let out = run(dir.path(), &[], &["healthcheck", &url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).starts_with(&format!("auth-core: unhealthy: {url}: cannot connect: ")));

    // A peer that accepts and never answers: bounded by --timeout-secs.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/healthz", silent.local_addr().unwrap());
    let started = std::time::Instant::now();
    let out = run(
        dir.path(),
        &[],
        &["healthcheck", "--timeout-secs", "1", &url],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).starts_with(&format!("auth-core: unhealthy: {url}: no answer: ")));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    drop(silent);

    // A peer that is not HTTP and sends an endless line: at most 1 KiB is read.
    let chatty = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/healthz", chatty.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = chatty.accept().unwrap();
        // The whole request first: closing with unread input would reset the connection.
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
            request.push(byte[0]);
        }
        let junk = vec![b'x'; 64 * 1024];
        let _ = stream.write_all(&junk);
    });
    let out = run(dir.path(), &[], &["healthcheck", &url]);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_of(&out);
    assert!(stderr.starts_with(&format!(
        "auth-core: unhealthy: {url}: not an HTTP answer: \"xxx"
    )));
    assert!(stderr.len() < 1200, "{} bytes", stderr.len());

    // Settings that do not load, a URL that is not http, a bind with port 0: 1, never Docker's
    // reserved 2.
    for (env, args) in [
        (vec![("AUTH_CORE__LOG__LEVEL", "loud")], vec!["healthcheck"]),
        (vec![], vec!["healthcheck", "https://127.0.0.1/healthz"]),
        (
            vec![("AUTH_CORE__SERVER__BIND", "127.0.0.1:0")],
            vec!["healthcheck"],
        ),
    ] {
        let out = run(dir.path(), &env, &args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{env:?} {args:?}: {}",
            stderr_of(&out)
        );
    }
}
