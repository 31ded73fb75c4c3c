//! Errors from loading and checking a configuration. Each names the key and the fix.

use std::fmt;
use std::path::PathBuf;

/// One failed cross-field check: the key to change and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Dotted key path, e.g. `ppo.mini_batch_size`.
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--config FILE` names a file that does not exist.
    #[error("config file `{}` does not exist; check the --config path", path.display())]
    FileNotFound {
        /// The path given.
        path: PathBuf,
    },
    /// `--config` names a directory.
    #[error("config `{}` is a directory; pass a TOML file (e.g. config/gpt2-sentiment.toml)", path.display())]
    IsDirectory {
        /// The path given.
        path: PathBuf,
    },
    /// A `--set` argument without `=`.
    #[error("`--set {arg}` is not of the form key.path=value (e.g. --set ppo.learning_rate=1e-5)")]
    BadOverride {
        /// The argument as given.
        arg: String,
    },
    /// A key that no config struct has.
    #[error(
        "unknown config key `{key}` in {origin}{}; every key is listed in docs/config.md",
        suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default()
    )]
    UnknownKey {
        /// Dotted path of the unknown key.
        key: String,
        /// Which layer set it (a file, an environment variable, a `--set` flag).
        origin: String,
        /// The nearest valid key, if one is close.
        suggestion: Option<String>,
    },
    /// A value of the wrong type or an unparsable file.
    #[error("invalid configuration: {message}")]
    Invalid {
        /// What is wrong, naming the key and the layer that set it.
        message: String,
    },
    /// Values that are valid one by one but not together.
    #[error(
        "invalid configuration:\n{}",
        problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
    )]
    Inconsistent {
        /// Every failed check.
        problems: Vec<Problem>,
    },
    /// Writing the resolved config failed.
    #[error("could not write `{}`: {source}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config could not be rendered as TOML.
    #[error("could not render the config as TOML: {0}")]
    Render(#[from] toml::ser::Error),
}
