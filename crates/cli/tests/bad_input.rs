//! The pipeline commands refuse bad input with an error that names the problem and the fix:
//! a wrong label column, an empty split, a model directory of the wrong architecture.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use common::{rlhf, text};

const SAMPLE: &str = "tests/fixtures/imdb/sample.parquet";
const EMPTY: &str = "tests/fixtures/imdb/empty.parquet";
const ROBERTA_TOKENIZER: &str = "tests/fixtures/tokenizers/roberta/tokenizer.json";
const TINY_GPT2: &str = "tests/fixtures/models/tiny-gpt2";
const TINY_ROBERTA: &str = "tests/fixtures/models/tiny-roberta";

/// Runs `rlhf`, asserts failure, and returns stderr.
fn fails(args: &[&str]) -> String {
    let out = rlhf(args);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "`{args:?}` succeeded:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn train_reward(out: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "train-reward",
        "--tokenizer",
        ROBERTA_TOKENIZER,
        "--hidden-size",
        "16",
        "--max-length",
        "32",
        "--train-samples",
        "16",
        "--test-samples",
        "16",
        "--out",
        out,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn wrong_label_column_names_the_column_the_columns_found_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rm");
    let args = train_reward(
        out.to_str().unwrap(),
        &[
            "--data",
            SAMPLE,
            "--test-data",
            SAMPLE,
            "--set",
            "data.label_column=\"sentiment\"",
        ],
    );
    let err = fails(&as_strs(&args));
    for needle in ["sentiment", "text, label", "data.label_column"] {
        assert!(err.contains(needle), "`{needle}` missing from:\n{err}");
    }
}

#[test]
fn empty_split_is_refused_by_each_pipeline_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    let out = out.to_str().unwrap();
    let rm = train_reward(out, &["--data", SAMPLE, "--test-data", EMPTY]);
    let sft = [
        "sft",
        "--data",
        EMPTY,
        "--test-data",
        SAMPLE,
        "--n-embd",
        "16",
        "--n-head",
        "2",
        "--out",
        out,
    ];
    let eval = [
        "eval",
        "--policy",
        TINY_GPT2,
        "--baseline",
        TINY_GPT2,
        "--set",
        "reward.model=\"tests/fixtures/models/tiny-roberta\"",
        "--data",
        EMPTY,
        "--out",
        out,
    ];
    for args in [as_strs(&rm), sft.to_vec(), eval.to_vec()] {
        let err = fails(&args);
        assert!(
            err.contains("empty.parquet") && err.contains("has no rows"),
            "{args:?}:\n{err}"
        );
    }
}

#[test]
fn a_model_directory_of_the_wrong_architecture_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    let out = out.to_str().unwrap();
    // A RoBERTa directory given as the GPT-2 base model, and the reverse.
    let sft = [
        "sft",
        "--data",
        SAMPLE,
        "--test-data",
        SAMPLE,
        "--base-model",
        TINY_ROBERTA,
        "--out",
        out,
    ];
    let err = fails(&sft);
    assert!(
        err.contains("tiny-roberta") && err.contains("gpt2") && err.contains("roberta"),
        "{err}"
    );
    let rm = train_reward(
        out,
        &[
            "--data",
            SAMPLE,
            "--test-data",
            SAMPLE,
            "--base-model",
            TINY_GPT2,
        ],
    );
    let err = fails(&as_strs(&rm));
    assert!(
        err.contains("tiny-gpt2") && err.contains("roberta"),
        "{err}"
    );
    // PPO with the two models swapped.
    let run_dir = format!("output.dir={}", serde_json::Value::from(out));
    let train = [
        "train",
        "--set",
        "policy.model=\"tests/fixtures/models/tiny-roberta\"",
        "--set",
        "reward.model=\"tests/fixtures/models/tiny-gpt2\"",
        "--set",
        "data.path=\"tests/fixtures/imdb/sample.parquet\"",
        "--set",
        &run_dir,
    ];
    let err = fails(&train);
    assert!(
        err.contains("tiny-roberta") && err.contains("gpt2"),
        "{err}"
    );
}

#[test]
fn paths_that_escape_the_output_dir_or_are_directories_are_named() {
    let err = fails(&["config", "--set", "exp_name=../outside"]);
    assert!(
        err.contains("`exp_name`") && err.contains("inside output.dir"),
        "{err}"
    );
    let err = fails(&["config", "--set", "exp_name=a/b"]);
    assert!(err.contains("`exp_name`"), "{err}");
    let err = fails(&["data", "--path", "tests/fixtures"]);
    assert!(err.contains("`tests/fixtures` is a directory"), "{err}");
    let err = fails(&["config", "--config", "config"]);
    assert!(err.contains("`config` is a directory"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rm");
    let mut args = train_reward(
        out.to_str().unwrap(),
        &["--data", SAMPLE, "--test-data", SAMPLE],
    );
    args[2] = "tests/fixtures/tokenizers".into(); // the value of --tokenizer
    let err = fails(&as_strs(&args));
    assert!(
        err.contains("directory") && err.contains("tokenizer.json"),
        "{err}"
    );
}

/// Runs `rlhf args…` with `input` on stdin.
fn with_stdin(args: &[&str], input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rlhf"))
        .args(args)
        .current_dir(common::repo_root())
        .env("HF_HUB_OFFLINE", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_bad_stdin_line_is_reported_skipped_and_the_rest_processed() {
    let mut input = b"Hello there\n\xff\xfe not utf-8\n".to_vec();
    input.extend(b"word ".repeat(3000)); // longer than the tiny GPT-2's 64 positions
    input.extend(b"\nThe end\n");
    let generate = [
        "generate",
        "--model",
        TINY_GPT2,
        "--max-new-tokens",
        "3",
        "--greedy",
    ];
    let out = with_stdin(&generate, &input);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success(),
        "skipped lines must make the run fail at the end"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stdout.contains("Hello there") && stdout.contains("The end"),
        "{stdout}"
    );
    assert!(stderr.contains("line 2: not UTF-8"), "{stderr}");
    assert!(
        stderr.contains("line 3: ") && stderr.contains("positions"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 of 4 input lines were skipped"),
        "{stderr}"
    );

    let out = with_stdin(&["score", "--model", TINY_ROBERTA], &input);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success());
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(stderr.contains("line 2: not UTF-8"), "{stderr}");
}

#[test]
fn out_of_range_numbers_name_their_key_or_flag() {
    for (set, key) in [
        ("ppo.cliprange=nan", "ppo.cliprange"),
        ("ppo.init_kl_coef=inf", "ppo.init_kl_coef"),
        ("ppo.max_grad_norm=inf", "ppo.max_grad_norm"),
        ("generation.temperature=inf", "generation.temperature"),
        ("reward.max_length=2", "reward.max_length"),
        ("sft.training.epochs=0", "sft.training.epochs"),
        (
            "reward_model.training.warmup_frac=nan",
            "reward_model.training.warmup_frac",
        ),
    ] {
        let err = fails(&["config", "--set", set]);
        assert!(err.contains(&format!("`{key}`")), "{set}: {err}");
    }
    let generate = ["generate", "--model", TINY_GPT2, "--prompt", "Hi"];
    for (flag, value) in [
        ("--temperature", "inf"),
        ("--max-new-tokens", "0"),
        ("--top-p", "1.5"),
        ("--num-samples", "0"),
    ] {
        let err = fails(&[&generate[..], &[flag, value]].concat());
        assert!(err.contains(flag), "{flag} {value}: {err}");
    }
    let data = ["--data", SAMPLE, "--test-data", SAMPLE];
    let err = fails(&[&["sft"][..], &data, &["--epochs", "0"]].concat());
    assert!(err.contains("`sft.training.epochs`"), "{err}");
    let err = fails(&[&["sft"][..], &data, &["--block-size", "0"]].concat());
    assert!(err.contains("`sft.block_size`"), "{err}");
    let err = fails(&[&["train-reward"][..], &data, &["--max-length", "2"]].concat());
    assert!(err.contains("`reward_model.max_length`"), "{err}");
}

/// A copy of the tiny GPT-2 fixture with `edit` applied to its files.
fn tiny_gpt2_copy(edit: impl FnOnce(&std::path::Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = common::repo_root().join(TINY_GPT2);
    for name in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
    }
    edit(dir.path());
    dir
}

#[test]
fn mismatched_tokenizer_config_and_weights_are_named_at_load_time() {
    // A tokenizer with more tokens than the model embeds (RoBERTa's 50,265 > 50,257): `<mask>`
    // (id 50264) used to index past the embedding table.
    let roberta_tokenizer = tiny_gpt2_copy(|dir| {
        let src = common::repo_root().join(ROBERTA_TOKENIZER);
        std::fs::copy(src, dir.join("tokenizer.json")).unwrap();
    });
    let model = roberta_tokenizer.path().to_str().unwrap();
    let err = fails(&["generate", "--model", model, "--prompt", "<mask>"]);
    assert!(
        err.contains("50265 tokens") && err.contains("vocab_size 50257"),
        "{err}"
    );
    // Absurd sizes are refused before anything is allocated.
    for (key, value) in [
        ("n_embd", "1000000000000"),
        ("n_positions", "0"),
        ("eos_token_id", "60000"),
    ] {
        let hostile = tiny_gpt2_copy(|dir| {
            let path = dir.join("config.json");
            let mut config: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            config[key] = serde_json::from_str(value).unwrap();
            std::fs::write(&path, config.to_string()).unwrap();
        });
        let model = hostile.path().to_str().unwrap();
        let err = fails(&["generate", "--model", model, "--prompt", "Hi"]);
        assert!(
            err.contains(key) && err.contains("config.json"),
            "{key}: {err}"
        );
    }
}
