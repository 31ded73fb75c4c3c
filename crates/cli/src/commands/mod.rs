//! Subcommand dispatch.

mod check_backend;
mod data;
mod eval;
mod export;
mod generate;
mod load;
mod score;
mod sft;
mod supervised;
mod train;
mod train_reward;

use crate::args::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Data(args) => data::run(&cli.layers, &args),
        Command::Config => {
            print!("{}", cli.layers.load(Vec::new())?.to_toml()?);
            Ok(())
        }
        Command::Train(args) => train::run(&cli.layers, &args),
        Command::Generate(args) => generate::run(&cli.layers, &args),
        Command::Score(args) => score::run(&cli.layers, &args),
        Command::Export(args) => export::run(&cli.layers, &args),
        Command::Eval(args) => eval::run(&cli.layers, &args),
        Command::TrainReward(args) => train_reward::run(&cli.layers, &args),
        Command::Sft(args) => sft::run(&cli.layers, &args),
        Command::CheckBackend(args) => check_backend::run(&cli.layers, &args),
    }
}
