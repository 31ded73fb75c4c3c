//! Resolve files of models and data sets: a local directory, or the Hugging Face hub.
//!
//! Hub files are looked up in the local cache first (the layout `huggingface_hub` writes:
//! `<cache>/<models|datasets>--owner--name/{refs/<revision>, snapshots/<commit>/<file>}`), so a
//! cache filled by Python is reused. A miss downloads the file only when the `hub` cargo feature
//! is on and `HF_HUB_OFFLINE` is not set; otherwise it is an error that says what to do.

use std::env;
use std::path::{Path, PathBuf};

/// Whether a hub id names a model or a data set repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoKind {
    /// `models--owner--name` in the cache.
    Model,
    /// `datasets--owner--name` in the cache.
    Dataset,
}

impl RepoKind {
    fn hf(self) -> hf_hub::RepoType {
        match self {
            RepoKind::Model => hf_hub::RepoType::Model,
            RepoKind::Dataset => hf_hub::RepoType::Dataset,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            RepoKind::Model => "model",
            RepoKind::Dataset => "dataset",
        }
    }
}

/// Where the cache is and whether the network may be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubOptions {
    /// The hub cache directory (`.../huggingface/hub`).
    pub cache_dir: PathBuf,
    /// Never download (`HF_HUB_OFFLINE=1`).
    pub offline: bool,
}

impl HubOptions {
    /// From the environment, as `huggingface_hub` reads it: `HF_HUB_CACHE`,
    /// `HUGGINGFACE_HUB_CACHE`, `$HF_HOME/hub`, `$XDG_CACHE_HOME/huggingface/hub`,
    /// `~/.cache/huggingface/hub`; `HF_HUB_OFFLINE` set to `1`/`true`/`yes`/`on` means offline.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let cache_dir = var("HF_HUB_CACHE")
            .or_else(|| var("HUGGINGFACE_HUB_CACHE"))
            .or_else(|| var("HF_HOME").map(|h| h.join("hub")))
            .or_else(|| var("XDG_CACHE_HOME").map(|c| c.join("huggingface/hub")))
            .or_else(|| var("HOME").map(|h| h.join(".cache/huggingface/hub")))
            .unwrap_or_else(|| PathBuf::from(".cache/huggingface/hub"));
        let offline = env::var("HF_HUB_OFFLINE")
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"));
        HubOptions { cache_dir, offline }
    }
}

/// Why a file could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// Neither an existing path nor something shaped like a hub id.
    #[error(
        "`{spec}` is neither an existing local path nor a hub id like `owner/name`; \
         check the path"
    )]
    NotFound {
        /// The path or id as given.
        spec: String,
    },
    /// A local model directory lacks the file.
    #[error("local directory `{}` has no `{file}`", dir.display())]
    MissingLocalFile {
        /// The directory.
        dir: PathBuf,
        /// The file looked for.
        file: String,
    },
    /// Not in the cache, and downloading is not possible.
    #[error(
        "`{file}` of {kind} `{repo}` (revision `{revision}`) is not in the hub cache `{}` and \
         {reason}; fill the cache on a machine with network access (huggingface_hub layout) or \
         pass a local path",
        cache.display()
    )]
    NotCached {
        /// Hub id.
        repo: String,
        /// "model" or "dataset".
        kind: &'static str,
        /// Revision asked for.
        revision: String,
        /// File inside the repository.
        file: String,
        /// The cache directory searched.
        cache: PathBuf,
        /// Why no download was tried.
        reason: &'static str,
    },
    /// The download failed.
    #[error(
        "could not download `{file}` of {kind} `{repo}` from the hub: {message}; on an offline \
         machine set HF_HUB_OFFLINE=1 and fill the cache, or pass a local path"
    )]
    Download {
        /// Hub id.
        repo: String,
        /// "model" or "dataset".
        kind: &'static str,
        /// File inside the repository.
        file: String,
        /// The client's error.
        message: String,
    },
}

/// True for `name` or `owner/name` made of letters, digits, `-`, `_` and `.` (not `..`).
pub fn is_hub_id(spec: &str) -> bool {
    let parts: Vec<&str> = spec.split('/').collect();
    let part_ok = |p: &&str| {
        !p.is_empty()
            && !p.starts_with('.')
            && !p.contains("..")
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    (1..=2).contains(&parts.len()) && parts.iter().all(part_ok)
}

/// Resolves `file` of a model or data set given as a local directory or a hub id.
///
/// An existing local directory wins over a hub id of the same spelling (as in transformers).
pub fn resolve_file(
    spec: &str,
    kind: RepoKind,
    revision: &str,
    file: &str,
    options: &HubOptions,
) -> Result<PathBuf, HubError> {
    let local = Path::new(spec);
    if local.is_dir() {
        let path = local.join(file);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(HubError::MissingLocalFile {
                dir: local.to_path_buf(),
                file: file.to_string(),
            })
        };
    }
    if !is_hub_id(spec) {
        return Err(HubError::NotFound {
            spec: spec.to_string(),
        });
    }
    if let Some(path) = cached(spec, kind, revision, file, &options.cache_dir) {
        tracing::debug!(path = %path.display(), "found in the hub cache");
        return Ok(path);
    }
    let not_cached = |reason| HubError::NotCached {
        repo: spec.to_string(),
        kind: kind.noun(),
        revision: revision.to_string(),
        file: file.to_string(),
        cache: options.cache_dir.clone(),
        reason,
    };
    if options.offline {
        return Err(not_cached("HF_HUB_OFFLINE is set"));
    }
    if cfg!(feature = "hub") {
        download(spec, kind, revision, file, options)
    } else {
        Err(not_cached("this build has no `hub` feature to download it"))
    }
}

/// The cached path of `file`, if present. A 40-hex revision is a commit (no `refs/` entry).
fn cached(spec: &str, kind: RepoKind, revision: &str, file: &str, cache: &Path) -> Option<PathBuf> {
    let repo = hf_hub::Repo::with_revision(spec.into(), kind.hf(), revision.into());
    let is_commit = revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit());
    if is_commit {
        let path = cache
            .join(repo.folder_name())
            .join("snapshots")
            .join(revision)
            .join(file);
        return path.is_file().then_some(path);
    }
    hf_hub::Cache::new(cache.to_path_buf()).repo(repo).get(file)
}

#[cfg(feature = "hub")]
fn download(
    spec: &str,
    kind: RepoKind,
    revision: &str,
    file: &str,
    options: &HubOptions,
) -> Result<PathBuf, HubError> {
    tracing::info!(repo = spec, file, "downloading from the Hugging Face hub");
    let failed = |message: String| HubError::Download {
        repo: spec.to_string(),
        kind: kind.noun(),
        file: file.to_string(),
        message,
    };
    let api =
        hf_hub::api::sync::ApiBuilder::from_cache(hf_hub::Cache::new(options.cache_dir.clone()))
            .with_progress(true)
            .build()
            .map_err(|e| failed(e.to_string()))?;
    let repo = hf_hub::Repo::with_revision(spec.into(), kind.hf(), revision.into());
    api.repo(repo).get(file).map_err(|e| failed(e.to_string()))
}

#[cfg(not(feature = "hub"))]
fn download(_: &str, _: RepoKind, _: &str, _: &str, _: &HubOptions) -> Result<PathBuf, HubError> {
    // Never called: `resolve_file` checks the feature first.
    Err(HubError::NotFound {
        spec: String::new(),
    })
}
