//! Debian / Ubuntu packages for the set-up tasks (`setup-vulkan`, `setup-mpi`, `setup-qemu`):
//! one `apt-get update` and install, as root, optionally from bookworm-backports.

use std::process::Command;

use anyhow::{Context, bail};

use crate::run_command;

/// `/etc/os-release`, empty when unreadable.
fn os_release() -> String {
    std::fs::read_to_string("/etc/os-release").unwrap_or_default()
}

/// Fails with `hint` unless this is one of the distributions `ids` (e.g. `["debian"]`).
pub fn require(ids: &[&str], hint: &str) -> anyhow::Result<()> {
    let os = os_release();
    if ids
        .iter()
        .any(|id| os.lines().any(|l| l == format!("ID={id}")))
    {
        Ok(())
    } else {
        bail!(
            "automatic set-up supports {} only; {hint}",
            ids.join(" and ")
        )
    }
}

/// `apt-get update`, then installs `packages`; with `backports` on Debian bookworm, from
/// bookworm-backports (added to apt's sources here).
pub fn install(packages: &[&str], backports: bool) -> anyhow::Result<()> {
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    if backports && bookworm(&os_release()) {
        let list = "/etc/apt/sources.list.d/bookworm-backports.list";
        let line = "deb http://deb.debian.org/debian bookworm-backports main\n";
        std::fs::write(list, line)
            .with_context(|| format!("cannot write `{list}`; run this as root (apt needs it)"))?;
        args.extend(["-t", "bookworm-backports"]);
    }
    args.extend(packages);
    run_command(Command::new("apt-get").args(["update", "-q"])).context("apt needs root")?;
    run_command(
        Command::new("apt-get")
            .args(&args)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn bookworm(os: &str) -> bool {
    os.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .is_some_and(|c| c.trim_matches('"') == "bookworm")
}
