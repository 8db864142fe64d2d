//! The guides say what the code does. Every code the code can give is
//! explained to staff (`docs/staff-guide.zh-TW.md`) or to operators
//! (`docs/operations.md`), and every code, route, configuration variable
//! and command a guide names exists. The code's side is read from the
//! sources (the calls that give a code, the `code()` of each error type),
//! not asked of the product.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Every `.rs` file under `dir`, with its text before its unit tests.
fn sources(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("a source file");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            out.push((path, code.to_string()));
        }
    }
}

/// The production sources: each crate's `src/` under `functions/`.
fn production() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for krate in std::fs::read_dir(root().join("functions")).expect("functions/") {
        let src = krate.expect("a crate").path().join("src");
        if src.is_dir() {
            sources(&src, &mut out);
        }
    }
    assert!(out.len() > 50, "{} source files", out.len());
    out
}

/// Where the string literal or char literal starting at `at` ends (the
/// byte after it), or `None` when `at` starts neither (a lifetime).
fn skip_literal(text: &[u8], at: usize) -> Option<usize> {
    match text[at] {
        b'"' => {
            let mut i = at + 1;
            while i < text.len() && text[i] != b'"' {
                i += if text[i] == b'\\' { 2 } else { 1 };
            }
            Some(i + 1)
        }
        b'\'' if text.get(at + 1) == Some(&b'\\') => {
            let close = text[at + 2..].iter().position(|&b| b == b'\'')?;
            Some(at + 2 + close + 1)
        }
        b'\'' if text.get(at + 2) == Some(&b'\'') => Some(at + 3),
        _ => None,
    }
}

/// The string literals in `text`, in order.
fn literals(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < bytes.len() {
        match skip_literal(bytes, i) {
            Some(end) => {
                if bytes[i] == b'"' {
                    out.push(&text[i + 1..end - 1]);
                }
                i = end;
            }
            None => i += 1,
        }
    }
    out
}

/// The text from the bracket at `open` to its match, literals skipped.
fn balanced(text: &str, open: usize) -> &str {
    let bytes = text.as_bytes();
    let (up, down) = match bytes[open] {
        b'(' => (b'(', b')'),
        _ => (b'{', b'}'),
    };
    let (mut depth, mut i) = (0, open);
    while i < bytes.len() {
        if let Some(end) = skip_literal(bytes, i) {
            i = end;
            continue;
        }
        if bytes[i] == up {
            depth += 1;
        } else if bytes[i] == down {
            depth -= 1;
            if depth == 0 {
                return &text[open..=i];
            }
        }
        i += 1;
    }
    &text[open..]
}

fn code_shaped(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The calls that give a code: the code is their first code-shaped
/// string literal (messages are Traditional Chinese).
const GIVING: [&str; 11] = [
    "Problem::new(",
    "rejected(",
    "reject(",
    ".fail(",
    "ErrorSummary::new(",
    "bad_request(",
    "forbidden(",
    "unauthorized(",
    "unprocessable(",
    "ApiError::internal(",
    "ApiError::unavailable(",
];

/// Every code the code can give, read from its sources.
fn codes_in_code() -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    for (path, text) in production() {
        for call in GIVING {
            for (at, _) in text.match_indices(call) {
                let before = text[..at].chars().next_back().unwrap_or(' ');
                let word_start = call.starts_with(|c: char| c.is_ascii_alphabetic());
                if word_start && (before.is_ascii_alphanumeric() || before == '_')
                    || text[..at].ends_with("fn ")
                {
                    continue;
                }
                let args = balanced(&text, at + call.len() - 1);
                if let Some(code) = literals(args).into_iter().find(|l| code_shaped(l)) {
                    codes.insert(code.to_string());
                }
            }
        }
        // Each error type's `code()`, and the file codes' names.
        let file_codes = path.ends_with("csv-rows/src/decode.rs");
        for function in ["fn code(", "fn as_str("] {
            for (at, _) in text.match_indices(function) {
                let body = balanced(&text, at + text[at..].find('{').expect("a body"));
                if function == "fn code(" || file_codes && body.contains("FileCode::") {
                    codes.extend(
                        literals(body)
                            .into_iter()
                            .filter(|l| code_shaped(l))
                            .map(String::from),
                    );
                }
            }
        }
        // Codes kept as constants, and a range rule's.
        for marker in [
            "const AFTER_CUTOFF: &str = ",
            "const HELD_CODE: &str = ",
            "const INTERRUPTED: &str = ",
            "too_long: ",
        ] {
            for (at, _) in text.match_indices(marker) {
                let rest = &text[at + marker.len()..];
                if let Some(code) =
                    literals(rest.split_once('\n').map_or(rest, |(line, _)| line)).first()
                {
                    codes.insert(code.to_string());
                }
            }
        }
    }
    codes
}

/// The `backticked` code-shaped words of `text`.
fn backticked(text: &str) -> BTreeSet<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| code_shaped(word))
        .map(String::from)
        .collect()
}

/// The codes a guide's tables explain: the first cell of each row.
fn explained(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .flat_map(|row| backticked(&format!("`{}", row.split(" |").next().unwrap_or_default())))
        .collect()
}

#[test]
fn every_code_the_code_gives_is_explained_to_staff_or_operators_and_no_other() {
    let codes = codes_in_code();
    for known in [
        "after_cutoff",
        "record_held",
        "file_is_zip",
        "portal_unavailable",
        "window_too_long",
        "hours_total_mismatch",
    ] {
        assert!(
            codes.contains(known),
            "the sources' codes lack {known}: {codes:?}"
        );
    }
    let staff = explained(&read("docs/staff-guide.zh-TW.md"));
    let operations = read("docs/operations.md");
    let operators = explained(
        operations
            .split("## Codes for operators and API clients")
            .nth(1)
            .expect("operations.md has its table of codes"),
    );
    let unexplained: Vec<_> = codes
        .iter()
        .filter(|code| !staff.contains(*code) && !operators.contains(*code))
        .collect();
    assert!(
        unexplained.is_empty(),
        "codes no guide explains: {unexplained:?}"
    );
    let gone: Vec<_> = staff
        .union(&operators)
        .filter(|code| !codes.contains(*code))
        .collect();
    assert!(
        gone.is_empty(),
        "codes the guides explain that the code no longer gives: {gone:?}"
    );
}

/// Every guide: the README and `docs/`.
fn guides() -> Vec<(String, String)> {
    let mut out = vec![("README.md".to_string(), read("README.md"))];
    let mut docs: Vec<_> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    for path in docs {
        let name = format!("docs/{}", path.file_name().unwrap().to_string_lossy());
        out.push((name.clone(), read(&name)));
    }
    out
}

#[test]
fn every_route_is_in_the_design_and_every_route_a_guide_names_exists() {
    let routes: BTreeSet<&str> = api::routes().into_iter().map(|(path, _)| path).collect();
    let design = read("docs/design.md");
    for path in &routes {
        assert!(
            design.contains(path),
            "docs/design.md does not describe {path}"
        );
    }
    // The portal's own API is named too: its paths are its contract's.
    let portal = read("docs/portal-api.yaml");
    let portal_paths: BTreeSet<&str> = portal
        .lines()
        .filter_map(|line| line.strip_prefix("  /"))
        .filter_map(|path| path.strip_suffix(':'))
        .collect();
    assert!(
        !portal_paths.is_empty(),
        "the portal's contract lists its paths"
    );
    for (guide, text) in guides() {
        for (at, _) in text.match_indices("/v1/") {
            let named: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/{}_-.".contains(*c))
                .collect();
            let named = named.trim_end_matches(['.', '/']);
            if named == "/v1" {
                continue; // the prefix itself ("every answer under /v1/")
            }
            assert!(
                routes.contains(named) || portal_paths.contains(&named[1..]),
                "{guide} names {named}, which is no route of the API or the portal"
            );
        }
    }
}

/// The environment variables the functions read (not the Lambda
/// runtime's own `AWS_*`).
fn variables_in_code() -> BTreeSet<String> {
    let mut variables = BTreeSet::new();
    for (_, text) in production() {
        for reader in [
            "env.required(",
            "env.number(",
            "env.parsed(",
            "env.get(",
            "std::env::var(",
        ] {
            for (at, _) in text.match_indices(reader) {
                let args = balanced(&text, at + reader.len() - 1);
                if let Some(name) = literals(args).first() {
                    variables.insert(name.to_string());
                }
            }
        }
    }
    variables.retain(|name| !name.starts_with("AWS_"));
    variables
}

#[test]
fn every_configuration_variable_is_in_the_operations_guide_and_no_other() {
    let variables = variables_in_code();
    for known in [
        "TABLE_NAME",
        "START_DATE",
        "SYNC_LOOKBACK_DAYS",
        "CSV_RESERVE_SECS",
    ] {
        assert!(
            variables.contains(known),
            "{known} not found in the sources: {variables:?}"
        );
    }
    let operations = read("docs/operations.md");
    let table = operations
        .split("## Configuration")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("operations.md has its configuration");
    let listed: BTreeSet<String> = table
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|row| row.split('`').next())
        .map(String::from)
        .collect();
    let missing: Vec<_> = variables.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "variables the configuration table lacks: {missing:?}"
    );
    let gone: Vec<_> = listed.difference(&variables).collect();
    assert!(
        gone.is_empty(),
        "variables the table lists that no function reads: {gone:?}"
    );
}

/// The packages of the workspace, and the benches and binaries each has.
fn manifests() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for group in ["functions", "infra"] {
        for dir in std::fs::read_dir(root().join(group)).expect("a folder") {
            let dir = dir.expect("an entry").path();
            if let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) {
                out.push((package_name(&manifest), dir));
            }
        }
    }
    out.push((
        package_name(&read("tests/Cargo.toml")),
        root().join("tests"),
    ));
    out
}

fn package_name(manifest: &str) -> String {
    manifest
        .lines()
        .find_map(|line| line.strip_prefix("name = \""))
        .and_then(|rest| rest.split('"').next())
        .expect("a package name")
        .to_string()
}

/// The value after `flag` in a command line.
fn after<'a>(words: &[&'a str], flag: &str) -> Option<&'a str> {
    words
        .iter()
        .position(|w| *w == flag)
        .and_then(|at| words.get(at + 1).copied())
}

#[test]
fn every_command_a_guide_gives_names_what_exists() {
    let packages = manifests();
    let mut checked = 0;
    for (guide, text) in guides() {
        let mut fenced = false;
        for line in text.lines() {
            if line.starts_with("```") {
                fenced = !fenced;
                continue;
            }
            let command = line.split('#').next().unwrap_or_default().trim();
            let words: Vec<&str> = command.split_whitespace().collect();
            if !fenced || words.is_empty() {
                continue;
            }
            if words[0].starts_with("scripts/") && words[0].ends_with(".sh") {
                assert!(root().join(words[0]).is_file(), "{guide}: {command}");
                checked += 1;
            }
            if words.starts_with(&["cargo", "run"]) || words.starts_with(&["cargo", "bench"]) {
                let package = after(&words, "-p").unwrap_or_else(|| panic!("{guide}: {command}"));
                let (_, dir) = packages
                    .iter()
                    .find(|(name, _)| name == package)
                    .unwrap_or_else(|| panic!("{guide}: no package {package} ({command})"));
                if let Some(bench) = after(&words, "--bench") {
                    assert!(
                        dir.join("benches").join(format!("{bench}.rs")).is_file(),
                        "{guide}: {command}"
                    );
                }
                if let Some(bin) = after(&words, "--bin") {
                    assert!(
                        dir.join("src/bin").join(format!("{bin}.rs")).is_file(),
                        "{guide}: {command}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} commands found in the guides");
}

#[test]
fn every_script_and_benchmark_is_named_in_a_guide() {
    let all: String = guides().into_iter().map(|(_, text)| text).collect();
    let mut checked = 0;
    for dir in ["scripts", "tests/benches", "functions/csv-rows/benches"] {
        for entry in std::fs::read_dir(root().join(dir)).expect("a folder") {
            let path = entry.expect("an entry").path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let named = match path.extension().and_then(|e| e.to_str()) {
                Some("sh") => all.contains(&name),
                Some("rs") => {
                    let bench = name.trim_end_matches(".rs");
                    all.contains(&format!("--bench {bench}"))
                }
                _ => continue,
            };
            assert!(named, "{dir}/{name} is in no guide");
            checked += 1;
        }
    }
    assert!(checked > 10, "{checked}");
}
