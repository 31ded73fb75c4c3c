//! Subcommand dispatch.

mod data;
mod export;
mod generate;
mod load;
mod score;

use anyhow::bail;

use crate::args::{Cli, Command};
use crate::device;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Data(args) => data::run(&cli.layers, &args),
        Command::Config => {
            print!("{}", cli.layers.load(Vec::new())?.to_toml()?);
            Ok(())
        }
        Command::Train(_) => not_built(&cli, "PPO training (`train`)", 4),
        Command::Generate(args) => generate::run(&cli.layers, &args),
        Command::Score(args) => score::run(&cli.layers, &args),
        Command::Export(args) => export::run(&cli.layers, &args),
    }
}

/// Commands whose capability is not implemented yet: they check the configuration and the
/// device, then stop with an error instead of pretending to work.
fn not_built(cli: &Cli, what: &str, issue: u32) -> anyhow::Result<()> {
    let config = cli.layers.load(Vec::new())?;
    device::select(config.device)?;
    bail!("{what} is not built yet (tracked in issue #{issue}); nothing was run")
}
