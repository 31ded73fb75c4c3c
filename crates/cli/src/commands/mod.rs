//! Subcommand dispatch.

mod bench;
mod bench_flops;
mod bench_runs;
mod bench_shapes;
mod check_backend;
mod data;
mod eval;
mod export;
mod generate;
mod load;
mod normalize;
mod precision;
mod score;
mod sft;
mod supervised;
mod train;
mod train_pairwise;
mod train_reward;

use std::path::Path;

use ppo::checkpoint::RunLock;

use crate::args::{Cli, Command};

/// Takes the one-writer lock of a run or output directory for this process; the holder is named
/// by its command line, so a second writer's error says which run is using the directory.
pub(crate) fn lock(dir: &Path) -> anyhow::Result<RunLock> {
    let mut command: String = std::env::args().collect::<Vec<_>>().join(" ");
    if command.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|&i| command.is_char_boundary(i))
            .unwrap_or(0);
        command.truncate(cut);
        command.push('…');
    }
    Ok(RunLock::acquire(dir, &command)?)
}

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
        Command::Bench(args) => bench::run(&cli.layers, &args),
        Command::Precision(args) => precision::run(&cli.layers, &args),
    }
}
