//! Checkpoints shared by every trainer (PPO and the supervised loops): a directory per step,
//! written under a temporary name and renamed when complete, and a `latest` pointer replaced
//! last, so a crash at any point leaves the previous checkpoint usable.
//!
//! Layout under a run directory:
//! ```text
//! checkpoints/step-000010/…                   the trainer's files (weights, optimizer, state)
//! checkpoints/step-000010/optimizer.bpk       optimizer moments (burnpack), keyed by stable param ids
//! checkpoints/step-000010/trainer_state.json  the trainer's small state
//! latest                                      "checkpoints/step-000010"
//! ```

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use models::export::write_atomic;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::TrainError;

/// Name of the file in the run directory that points at the newest checkpoint.
pub const LATEST: &str = "latest";

/// The small state file of every checkpoint.
pub const STATE_FILE: &str = "trainer_state.json";

/// The optimizer-moments file of every checkpoint.
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";

/// The lock file of a run or output directory.
pub const LOCK_FILE: &str = ".rlhf.lock";

/// One writer per run directory: an exclusive OS advisory lock on `<dir>/.rlhf.lock`, held until
/// the value is dropped. The kernel releases it when the process ends in any way (`kill -9`
/// included), so a crash never leaves a stale lock; the file only says who holds it.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of `dir` (created when missing) for `holder` (e.g. `rlhf train`), or fails
    /// with [`TrainError::RunLocked`] naming the process that holds it.
    pub fn acquire(dir: &Path, holder: &str) -> Result<Self, TrainError> {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| TrainError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {
                let who = format!("process {} ({holder})\n", std::process::id());
                file.set_len(0)
                    .and_then(|()| file.write_all(who.as_bytes()))
                    .map_err(|e| TrainError::io(&path, e))?;
                Ok(RunLock { _file: file })
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                // Best effort: the holder may be between truncating and writing.
                let _ = file.read_to_string(&mut holder);
                Err(TrainError::RunLocked {
                    dir: dir.to_path_buf(),
                    holder: holder.trim().to_string(),
                })
            }
            Err(TryLockError::Error(e)) => Err(TrainError::io(&path, e)),
        }
    }
}

/// Writes the checkpoint of `step` under `run_dir/checkpoints/`: `fill` writes its files into a
/// temporary directory, which is renamed when complete; `latest` is replaced last.
pub fn commit(
    run_dir: &Path,
    step: usize,
    fill: impl FnOnce(&Path) -> Result<(), TrainError>,
) -> Result<PathBuf, TrainError> {
    let name = format!("checkpoints/step-{step:06}");
    let final_dir = run_dir.join(&name);
    publish_dir(&final_dir, fill)?;
    write_atomic(&run_dir.join(LATEST), name.as_bytes())?;
    Ok(final_dir)
}

/// Writes directory `dir` through `fill` into a temporary sibling (`.<name>.tmp`), then renames
/// it into place, replacing an older `dir`: a crash never leaves a half-written `dir` under its
/// real name (at worst the temporary one, which the next call clears).
pub fn publish_dir(
    dir: &Path,
    fill: impl FnOnce(&Path) -> Result<(), TrainError>,
) -> Result<(), TrainError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.with_file_name(format!(".{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    fill(&tmp)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| TrainError::io(dir, e))
}

/// The newest checkpoint directory of a run, from its `latest` file.
pub fn latest(run_dir: &Path) -> Result<PathBuf, TrainError> {
    let pointer = run_dir.join(LATEST);
    let name = std::fs::read_to_string(&pointer).map_err(|_| TrainError::NoCheckpoint {
        run_dir: run_dir.to_path_buf(),
    })?;
    let dir = run_dir.join(name.trim());
    if !dir.join(STATE_FILE).is_file() {
        return Err(TrainError::IncompleteCheckpoint { pointer, dir });
    }
    Ok(dir)
}

/// Refuses to start a fresh run in `run_dir` when it already has checkpoints.
pub fn ensure_fresh(run_dir: &Path) -> Result<(), TrainError> {
    if run_dir.join(LATEST).exists() {
        return Err(TrainError::RunExists {
            dir: run_dir.to_path_buf(),
        });
    }
    Ok(())
}

/// Writes `value` as pretty JSON to `path`, atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), TrainError> {
    let json = serde_json::to_vec_pretty(value).map_err(|source| TrainError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(write_atomic(path, &json)?)
}

/// Writes `trainer_state.json` into a checkpoint directory.
pub fn write_state(dir: &Path, state: &impl Serialize) -> Result<(), TrainError> {
    write_json(&dir.join(STATE_FILE), state)
}

/// Reads `trainer_state.json` of a checkpoint directory.
pub fn read_state<S: DeserializeOwned>(dir: &Path) -> Result<S, TrainError> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|source| TrainError::CorruptState { path, source })
}

/// Writes the optimizer moments into a checkpoint directory.
pub fn save_optimizer(optimizer: &ModuleOptimizer, dir: &Path) -> Result<(), TrainError> {
    let path = dir.join(OPTIMIZER_FILE);
    optimizer
        .save(&path)
        .map_err(|source| TrainError::Optimizer { path, source })
}

/// Loads the optimizer moments of a checkpoint into `optimizer`.
pub fn load_optimizer(
    dir: &Path,
    optimizer: ModuleOptimizer,
) -> Result<ModuleOptimizer, TrainError> {
    let path = dir.join(OPTIMIZER_FILE);
    optimizer
        .load(&path)
        .map_err(|source| TrainError::Optimizer { path, source })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use super::*;

    #[test]
    fn latest_points_at_the_newest_complete_checkpoint() {
        let run = tempfile::tempdir().unwrap();
        assert!(matches!(
            latest(run.path()),
            Err(TrainError::NoCheckpoint { .. })
        ));
        ensure_fresh(run.path()).unwrap();
        for step in [1, 2] {
            commit(run.path(), step, |dir| write_state(dir, &step)).unwrap();
        }
        let dir = latest(run.path()).unwrap();
        assert!(dir.ends_with("checkpoints/step-000002"));
        assert_eq!(read_state::<usize>(&dir).unwrap(), 2);
        assert!(matches!(
            ensure_fresh(run.path()),
            Err(TrainError::RunExists { .. })
        ));
        // One writer: a second lock on the same directory is refused and names the first.
        let lock = RunLock::acquire(run.path(), "test").unwrap();
        match RunLock::acquire(run.path(), "second") {
            Err(TrainError::RunLocked { holder, .. }) => {
                assert!(holder.contains(&std::process::id().to_string()), "{holder}");
            }
            other => panic!("second lock: {other:?}"),
        }
        drop(lock);
        RunLock::acquire(run.path(), "third").unwrap();
        // A failed fill leaves the previous checkpoint as `latest`.
        let failed = commit(run.path(), 3, |dir| {
            Err(TrainError::io(dir, std::io::Error::other("disk full")))
        });
        assert!(failed.is_err());
        assert!(latest(run.path()).unwrap().ends_with("step-000002"));
    }
}
