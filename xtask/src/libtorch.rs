//! The libtorch backend (`--features tch`): set-up in one command, and the environment that
//! building and running it need, so nobody sets variables by hand.
//!
//! burn-tch 0.22.1 links against libtorch 2.9.0 from the pip `torch` package of the project's
//! `.venv` (`LIBTORCH_USE_PYTORCH=1`, found through `VIRTUAL_ENV`); at run time the binary needs
//! `<site-packages>/torch/lib` on `LD_LIBRARY_PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::bail;

use crate::run_command;

/// The torch version burn-tch 0.22.1 is built against.
const TORCH_VERSION: &str = "2.9.0";

fn venv(root: &Path) -> PathBuf {
    root.join(".venv")
}

/// `cargo xtask setup-tch`: creates `.venv` when missing and installs `torch==2.9.0` into it
/// (the pin of tests/reference/requirements.txt; about 7 GB with its CUDA libraries).
pub fn setup(root: &Path) -> anyhow::Result<()> {
    let venv = venv(root);
    if !venv.join("bin/python").is_file() {
        run_command(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    let torch = format!("torch=={TORCH_VERSION}");
    run_command(Command::new(venv.join("bin/pip")).args(["install", &torch]))?;
    let (version, lib) = torch_lib(root)?;
    println!("torch {version} installed; libtorch at {}", lib.display());
    println!("build and run with it: cargo xtask train --features tch -- --device tch-cpu ...");
    Ok(())
}

/// torch's version and its `lib` directory in `.venv`, or how to install it.
pub fn torch_lib(root: &Path) -> anyhow::Result<(String, PathBuf)> {
    let python = venv(root).join("bin/python");
    let output = Command::new(&python)
        .args([
            "-c",
            "import torch, os; print(torch.__version__); print(os.path.dirname(torch.__file__))",
        ])
        .output();
    let output = match output {
        Ok(o) if o.status.success() => o,
        _ => bail!(
            "the `tch` backend needs torch {TORCH_VERSION} in `{}`; install it with `cargo xtask \
             setup-tch`",
            venv(root).display()
        ),
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let version = lines.next().unwrap_or_default().to_string();
    let dir = PathBuf::from(lines.next().unwrap_or_default());
    Ok((version, dir.join("lib")))
}

/// True when `.venv` has torch.
pub fn installed(root: &Path) -> bool {
    torch_lib(root).is_ok()
}

/// The variables cargo and the `rlhf` binary need for the `tch` feature. A torch other than
/// 2.9 also gets torch-sys' version-check bypass (its bindings compile against 2.10/2.11).
pub fn env(root: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let (version, lib) = torch_lib(root)?;
    let venv = venv(root);
    let join = |first: &Path, var: &str| {
        let rest = std::env::var(var).unwrap_or_default();
        let first = first.display();
        if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}:{rest}")
        }
    };
    let mut vars = vec![
        ("LIBTORCH_USE_PYTORCH".to_string(), "1".to_string()),
        ("VIRTUAL_ENV".to_string(), venv.display().to_string()),
        ("PATH".to_string(), join(&venv.join("bin"), "PATH")),
        ("LD_LIBRARY_PATH".to_string(), join(&lib, "LD_LIBRARY_PATH")),
    ];
    if !version.starts_with(TORCH_VERSION.trim_end_matches(".0")) {
        eprintln!("torch {version} is not {TORCH_VERSION}: setting LIBTORCH_BYPASS_VERSION_CHECK");
        vars.push(("LIBTORCH_BYPASS_VERSION_CHECK".to_string(), "1".to_string()));
    }
    Ok(vars)
}
