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
