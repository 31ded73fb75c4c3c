//! Writing the resolved configuration next to a run's outputs.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{Config, ConfigError};

/// File name of the resolved configuration inside a run directory.
pub const RESOLVED_CONFIG_FILE: &str = "config.toml";

impl Config {
    /// The configuration as TOML; unset optional keys are left out.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        Ok(toml::to_string_pretty(self)?)
    }

    /// Writes `<dir>/config.toml` atomically (temporary file + rename) and returns its path.
    /// Loading it with `--config` reproduces this configuration.
    pub fn write_resolved(&self, dir: &Path) -> Result<PathBuf, ConfigError> {
        let path = dir.join(RESOLVED_CONFIG_FILE);
        let write_error = |source| ConfigError::Write {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(dir).map_err(write_error)?;
        let tmp = dir.join(format!("{RESOLVED_CONFIG_FILE}.tmp"));
        let header = "# Resolved configuration of this run (all layers applied).\n";
        fs::write(&tmp, format!("{header}{}", self.to_toml()?)).map_err(write_error)?;
        fs::rename(&tmp, &path).map_err(write_error)?;
        Ok(path)
    }
}

/// Keys a resumed PPO run may change: how long it runs and how often it logs and saves. Every
/// other key must equal the run's saved `config.toml`, or the resume would not continue the
/// same run.
pub const RESUME_MAY_CHANGE: &[&str] = &["ppo.steps", "output.save_freq", "output.sample_freq"];

/// One key whose value differs between two configurations.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyChange {
    /// Dotted key, e.g. `ppo.learning_rate`.
    pub key: String,
    /// The value in the first configuration (TOML-ish text; `unset` for a missing optional).
    pub before: String,
    /// The value in the second.
    pub after: String,
}

impl std::fmt::Display for KeyChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {} → {}", self.key, self.before, self.after)
    }
}

impl Config {
    /// Reads a run's `config.toml` (written by [`Config::write_resolved`]).
    pub fn read_resolved(dir: &Path) -> Result<Config, ConfigError> {
        let sources = crate::ConfigSources {
            file: Some(dir.join(RESOLVED_CONFIG_FILE)),
            ..Default::default()
        };
        sources.load()
    }

    /// Every key whose value differs from `other`'s, in key order.
    pub fn changes(&self, other: &Config) -> Vec<KeyChange> {
        let (a, b) = (flatten(self), flatten(other));
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        let show = |v: Option<&serde_json::Value>| match v {
            None | Some(serde_json::Value::Null) => "unset".to_string(),
            Some(v) => v.to_string(),
        };
        keys.into_iter()
            .filter(|k| a.get(*k) != b.get(*k))
            .map(|k| KeyChange {
                key: k.clone(),
                before: show(a.get(k)),
                after: show(b.get(k)),
            })
            .collect()
    }
}

/// Dotted key → value of every leaf of the configuration.
fn flatten(config: &Config) -> std::collections::BTreeMap<String, serde_json::Value> {
    fn walk(
        value: serde_json::Value,
        prefix: String,
        out: &mut std::collections::BTreeMap<String, serde_json::Value>,
    ) {
        match value {
            serde_json::Value::Object(map) => {
                for (name, child) in map {
                    let key = if prefix.is_empty() {
                        name
                    } else {
                        format!("{prefix}.{name}")
                    };
                    walk(child, key, out);
                }
            }
            leaf => {
                out.insert(prefix, leaf);
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(
        serde_json::to_value(config).unwrap_or_default(),
        String::new(),
        &mut out,
    );
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use super::*;

    #[test]
    fn a_saved_config_reads_back_equal_and_changes_name_their_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.ppo.learning_rate = 1.234_567_890_123e-5;
        config.write_resolved(dir.path()).unwrap();
        let saved = Config::read_resolved(dir.path()).unwrap();
        assert!(
            saved.changes(&config).is_empty(),
            "{:?}",
            saved.changes(&config)
        );
        let mut other = config.clone();
        other.ppo.learning_rate = 2e-5;
        other.ppo.steps += 8;
        let keys: Vec<String> = saved.changes(&other).into_iter().map(|c| c.key).collect();
        assert_eq!(keys, ["ppo.learning_rate", "ppo.steps"]);
    }
}
