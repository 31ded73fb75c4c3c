//! indicatif progress bars and spinners for long work (hidden when stderr is not a terminal).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `len` items labelled `message`.
pub fn bar(len: usize, message: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64).with_message(message.to_string());
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// A spinner for work of unknown length.
pub fn spinner(message: &str) -> ProgressBar {
    let spinner = ProgressBar::new_spinner().with_message(message.to_string());
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

/// Prints `line` to stdout above `bar` (unlike `ProgressBar::println`, also when the bar is
/// hidden, e.g. in a pipe or a log file).
pub fn say(bar: &ProgressBar, line: impl std::fmt::Display) {
    bar.suspend(|| println!("{line}"));
}

/// The progress observer of a supervised run (`sft`, `train-reward`): moves `bar`, shows the
/// step's loss, and prints the resume point and `epoch_line` of every epoch report.
pub fn supervised_observer<'a, R>(
    bar: &'a ProgressBar,
    out: &'a std::path::Path,
    epoch_line: impl Fn(&R) -> String + 'a,
) -> impl FnMut(ppo::supervised::Event<'_, R>) -> std::ops::ControlFlow<()> + 'a {
    use ppo::supervised::Event;
    move |event| {
        match event {
            Event::Resumed { step } => {
                bar.set_position(step as u64);
                say(bar, format!("resuming {} at step {step}", out.display()));
            }
            Event::Step { step, loss, .. } => {
                bar.set_position(step as u64);
                bar.set_message(format!("loss {loss:.3}"));
            }
            Event::Epoch(report) => say(bar, epoch_line(report)),
        }
        std::ops::ControlFlow::Continue(())
    }
}
