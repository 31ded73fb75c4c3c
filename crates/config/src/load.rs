//! Layered loading with figment.
//!
//! Precedence, lowest first: built-in defaults < project file (`config/default.toml`, optional)
//! < `--config FILE` (must exist) < environment `RLHF_SECTION__KEY` < `--set section.key=value`.

use std::path::PathBuf;

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use crate::suggest::nearest;
use crate::{Config, ConfigError};

/// Prefix of configuration environment variables: `RLHF_PPO__LEARNING_RATE=1e-5`.
pub const ENV_PREFIX: &str = "RLHF_";

/// `RLHF_*` variables that are not configuration (so they are not rejected as unknown keys).
pub const NON_CONFIG_ENV_VARS: &[&str] = &["RLHF_SLOW_TESTS"];

/// The layers a configuration is assembled from.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    /// The project layer; skipped when the file does not exist.
    pub default_file: Option<PathBuf>,
    /// The user's `--config FILE`; an error when it does not exist.
    pub file: Option<PathBuf>,
    /// Read `RLHF_*` environment variables.
    pub use_env: bool,
    /// `--set key.path=value` overrides, applied in order.
    pub overrides: Vec<String>,
}

impl ConfigSources {
    /// The layers the command line uses: `config/default.toml` (relative to the working
    /// directory), the given `--config` file, the environment and the `--set` flags.
    pub fn standard(file: Option<PathBuf>, overrides: Vec<String>) -> Self {
        ConfigSources {
            default_file: Some(PathBuf::from("config/default.toml")),
            file,
            use_env: true,
            overrides,
        }
    }

    /// Stacks the layers, without extracting or checking them.
    pub fn figment(&self) -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = self.default_file.as_ref().filter(|p| p.is_file()) {
            figment = figment.merge(Toml::file_exact(path));
        }
        if let Some(path) = &self.file {
            if path.is_dir() {
                return Err(ConfigError::IsDirectory { path: path.clone() });
            }
            if !path.is_file() {
                return Err(ConfigError::FileNotFound { path: path.clone() });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        if self.use_env {
            // `vars_os`, not `vars`: a non-UTF-8 variable elsewhere must not panic.
            let mut vars: Vec<(String, String)> = std::env::vars_os()
                .filter_map(|(name, value)| {
                    Some((name.into_string().ok()?, value.into_string().ok()?))
                })
                .filter(|(name, _)| {
                    name.starts_with(ENV_PREFIX) && !NON_CONFIG_ENV_VARS.contains(&name.as_str())
                })
                .collect();
            vars.sort();
            for (name, value) in vars {
                let key = name[ENV_PREFIX.len()..]
                    .to_ascii_lowercase()
                    .replace("__", ".");
                let origin = format!("environment variable `{name}`");
                figment = figment.merge(KeyValue::new(&key, &value, origin, &name)?);
            }
        }
        for arg in &self.overrides {
            let bad = || ConfigError::BadOverride {
                arg: arg.to_string(),
            };
            let (key, value) = arg.split_once('=').ok_or_else(bad)?;
            let origin = format!("`--set {}`", key.trim());
            figment = figment.merge(KeyValue::new(key.trim(), value, origin, arg)?);
        }
        Ok(figment)
    }

    /// Loads, type-checks and cross-checks the configuration.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let figment = self.figment()?;
        let config: Config = figment.extract().map_err(|e| explain(e, &figment))?;
        config.validate()?;
        Ok(config)
    }
}

/// One `key.path = value` setting (an environment variable or a `--set` flag) as a figment
/// layer of its own, so errors name exactly where the value came from.
struct KeyValue {
    key: String,
    value: Value,
    origin: String,
}

impl KeyValue {
    /// `raw` is parsed as a TOML value (`1e-5`, `true`, `"text"`, `[1, 2]`); anything that is
    /// not valid TOML, like `cuda:0` or `owner/model`, is taken as a plain string.
    fn new(key: &str, raw: &str, origin: String, arg: &str) -> Result<KeyValue, ConfigError> {
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(ConfigError::BadOverride {
                arg: arg.to_string(),
            });
        }
        let raw = raw.trim();
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut table| table.remove("v"))
            .and_then(|v| v.try_into::<Value>().ok())
            .unwrap_or_else(|| Value::from(raw.to_string()));
        Ok(KeyValue {
            key: key.to_string(),
            value,
            origin,
        })
    }
}

impl Provider for KeyValue {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.origin.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        match figment::util::nest(&self.key, self.value.clone()) {
            Value::Dict(_, dict) => Ok(Profile::Default.collect(dict)),
            _ => Err(figment::Error::from(format!(
                "{} has an empty key",
                self.origin
            ))),
        }
    }
}

/// Turns figment's unknown-field error into one that names the full key, the layer that set
/// it and the nearest valid key; other errors pass through (they already name key and layer).
fn explain(error: figment::Error, figment: &Figment) -> ConfigError {
    let unknown = error.clone().into_iter().find_map(|e| match &e.kind {
        figment::error::Kind::UnknownField(field, expected) => {
            Some((e.path.clone(), field.clone(), *expected))
        }
        _ => None,
    });
    let Some((mut path, field, expected)) = unknown else {
        // figment's own Display prefixes the profile (`default.ppo.x`); name the plain key.
        let message = error
            .into_iter()
            .map(|e| match (e.path.is_empty(), &e.metadata) {
                (true, _) => e.to_string(),
                (false, Some(m)) => {
                    format!("{} for key `{}` in {}", e.kind, e.path.join("."), origin(m))
                }
                (false, None) => format!("{} for key `{}`", e.kind, e.path.join(".")),
            })
            .collect::<Vec<_>>()
            .join("; ");
        return ConfigError::Invalid { message };
    };
    if path.last() != Some(&field) {
        path.push(field.clone());
    }
    let key = path.join(".");
    let parent = &path[..path.len() - 1];
    let origin = figment
        .find_metadata(&key)
        .map(origin)
        .unwrap_or_else(|| "the configuration".to_string());
    let suggestion = nearest(&field, expected.iter().copied())
        .map(|name| {
            parent
                .iter()
                .map(String::as_str)
                .chain([name])
                .collect::<Vec<_>>()
                .join(".")
        })
        // A key that exists in another section, e.g. `ppo.seed` for `seed`.
        .or_else(|| {
            Config::keys()
                .into_iter()
                .find(|k| k.rsplit('.').next() == Some(&field))
        });
    ConfigError::UnknownKey {
        key,
        origin,
        suggestion,
    }
}

/// Which layer a value came from: "TOML file `run.toml`", "environment variable `RLHF_X`", ...
fn origin(metadata: &Metadata) -> String {
    match &metadata.source {
        Some(source) => format!("{} `{source}`", metadata.name),
        None => metadata.name.to_string(),
    }
}
