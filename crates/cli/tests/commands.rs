//! The real `rlhf` binary, run from the repository root as a user would.

use std::path::PathBuf;
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rlhf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rlhf"))
        .args(args)
        .current_dir(repo_root())
        .env_remove("RUST_LOG")
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .expect("run rlhf")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_lists_every_subcommand() {
    let out = rlhf(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for command in ["train", "generate", "score", "data", "config"] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
}

#[test]
fn data_prints_statistics_and_prompts_of_the_shipped_sample() {
    let out = rlhf(&[
        "data",
        "--path",
        "tests/fixtures/imdb/sample.parquet",
        "--samples",
        "3",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("reviews            512"), "{stdout}");
    assert!(stdout.contains("positive (1)     256"), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("  [")).count(),
        3,
        "{stdout}"
    );
}

#[test]
fn data_with_a_missing_file_fails_and_names_it() {
    let out = rlhf(&["data", "--path", "no/such.parquet"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no/such.parquet") && stderr.contains("does not exist"),
        "{stderr}"
    );
}

#[test]
fn a_backend_that_is_not_compiled_in_names_its_feature() {
    let out = rlhf(&["train", "--device", "cuda:0"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--features cuda"), "{stderr}");
}

#[test]
fn unbuilt_commands_fail_instead_of_pretending() {
    for args in [
        &["train"][..],
        &["generate", "--prompt", "hi"],
        &["score", "--text", "hi"],
    ] {
        let out = rlhf(args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            text(&out.stderr).contains("not built yet"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn config_shows_layers_and_rejects_unknown_keys() {
    let out = Command::new(env!("CARGO_BIN_EXE_rlhf"))
        .args([
            "config",
            "--config",
            "config/gpt2-sentiment.toml",
            "--set",
            "ppo.ppo_epochs=2",
        ])
        .current_dir(repo_root())
        .env("RLHF_SEED", "9")
        .output()
        .expect("run rlhf");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("seed = 9") && shown.contains("ppo_epochs = 2"),
        "{shown}"
    );
    assert!(shown.contains("tokenizer = \"tests/fixtures/tokenizers/gpt2/tokenizer.json\""));

    let out = rlhf(&["config", "--set", "ppo.lerning_rate=1e-5"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("did you mean `ppo.learning_rate`"),
        "{stderr}"
    );
}
