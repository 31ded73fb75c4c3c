//! Finding and running the Python reference environment (tests/reference/requirements.txt).
//! Only developer tasks use it; CI never runs Python.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The interpreter to use: `$RLHF_PYTHON`, else `.venv/bin/python` in the repository, else
/// `python3` — whichever is found first.
pub fn interpreter(root: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("RLHF_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = root.join(".venv/bin/python");
    if venv.is_file() {
        return venv;
    }
    PathBuf::from("python3")
}

/// True when the interpreter can import the reference packages.
pub fn available(root: &Path) -> bool {
    Command::new(interpreter(root))
        .args(["-c", "import torch, transformers, trl"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Fails with set-up instructions when the reference packages are missing.
pub fn require(root: &Path) -> anyhow::Result<PathBuf> {
    if available(root) {
        return Ok(interpreter(root));
    }
    bail!(
        "this task needs Python with torch, transformers and trl (`{}` cannot import them); \
         set up with `python3 -m venv .venv && .venv/bin/pip install -r \
         tests/reference/requirements.txt`, or point RLHF_PYTHON at an interpreter that has them",
        interpreter(root).display()
    )
}

/// Runs `tests/reference/<script>` with `args`, failing if it fails.
pub fn run_script(root: &Path, python: &Path, script: &str, args: &[&str]) -> anyhow::Result<()> {
    let output = run_script_output(root, python, script, args, false)?;
    drop(output);
    Ok(())
}

/// Runs a reference script; returns its stdout (captured when `capture`, else inherited).
pub fn run_script_output(
    root: &Path,
    python: &Path,
    script: &str,
    args: &[&str],
    capture: bool,
) -> anyhow::Result<String> {
    let path = root.join("tests/reference").join(script);
    eprintln!(
        "$ {} {} {}",
        python.display(),
        path.display(),
        args.join(" ")
    );
    let mut command = Command::new(python);
    command.arg(&path).args(args).current_dir(root);
    let (status, stdout) = if capture {
        let out = command
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("cannot start `{}`", python.display()))?;
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    } else {
        let status = command
            .status()
            .with_context(|| format!("cannot start `{}`", python.display()))?;
        (status, String::new())
    };
    if !status.success() {
        bail!("`{script}` failed ({status})");
    }
    Ok(stdout)
}
