//! `docs/config.md` and `config/*.toml` must stay in step with the code.

use std::collections::BTreeSet;
use std::path::PathBuf;

use config::{Config, ConfigSources};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Keys documented as table rows that start with "| `key` |".
fn documented_keys(markdown: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(key, _)| key.to_string())
        .collect()
}

#[test]
fn docs_config_md_lists_exactly_the_keys_of_the_code() {
    let markdown =
        std::fs::read_to_string(repo_root().join("docs/config.md")).expect("docs/config.md");
    let documented = documented_keys(&markdown);
    let code: BTreeSet<String> = Config::keys().into_iter().collect();
    let missing: Vec<_> = code.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&code).collect();
    assert!(
        missing.is_empty(),
        "keys missing from docs/config.md: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "docs/config.md documents keys the code lacks: {stale:?}"
    );
}

#[test]
fn every_shipped_config_file_loads() {
    let dir = repo_root().join("config");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("config/ exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for file in files {
        let sources = ConfigSources {
            file: Some(file.clone()),
            ..Default::default()
        };
        if let Err(e) = sources.load() {
            panic!("{}: {e}", file.display());
        }
    }
}
