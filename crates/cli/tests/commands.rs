//! The real `rlhf` binary, run from the repository root as a user would.

mod common;

use std::process::Command;

use common::{repo_root, rlhf, text};

#[test]
fn help_lists_every_subcommand() {
    let out = rlhf(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for command in [
        "train",
        "sft",
        "train-reward",
        "eval",
        "generate",
        "score",
        "export",
        "data",
        "config",
        "check-backend",
        "bench",
    ] {
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
fn train_offline_without_the_models_names_the_cache_and_the_fix() {
    let out = rlhf(&["train", "--set", "output.dir=target/test-runs-offline"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("not in the hub cache") && stderr.contains("HF_HUB_OFFLINE"),
        "{stderr}"
    );
}

const TINY_GPT2: &str = "tests/fixtures/models/tiny-gpt2";
const TINY_ROBERTA: &str = "tests/fixtures/models/tiny-roberta";

#[test]
fn generate_greedy_matches_the_transformers_fixture() {
    let out = rlhf(&[
        "generate",
        "--model",
        TINY_GPT2,
        "--prompt",
        "This movie was",
        "--greedy",
        "--max-new-tokens",
        "8",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // transformers' greedy continuation (tests/fixtures/models/expected.json).
    assert_eq!(
        text(&out.stdout).trim_end(),
        "This movie wasletes algorithms Celestial thrillericumicumissaitles"
    );
}

#[test]
fn generate_reads_prompts_from_stdin_and_is_seeded() {
    let run = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rlhf"))
            .args([
                "generate",
                "--model",
                TINY_GPT2,
                "--max-new-tokens",
                "5",
                "--json",
            ])
            .args(["--seed", "7"])
            .current_dir(repo_root())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn rlhf");
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"Hello world\nI liked it\n").unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    let (a, b) = (run(), run());
    assert!(a.status.success(), "{}", text(&a.stderr));
    let lines: Vec<serde_json::Value> = text(&a.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["prompt"], "I liked it");
    assert_eq!(lines[0]["response_ids"].as_array().unwrap().len(), 5);
    assert_eq!(a.stdout, b.stdout, "same seed, same samples");
}

#[test]
fn score_prints_label_logits_as_json_lines() {
    let out = rlhf(&["score", "--model", TINY_ROBERTA, "--text", "Hello world"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    // transformers: [-0.25238, -0.02835] for NEGATIVE, POSITIVE.
    let pos = line["logits"]["POSITIVE"].as_f64().unwrap();
    let neg = line["logits"]["NEGATIVE"].as_f64().unwrap();
    assert!(
        (pos + 0.028347).abs() < 1e-4 && (neg + 0.252381).abs() < 1e-4,
        "{line}"
    );
    let p: f64 = ["POSITIVE", "NEGATIVE"]
        .iter()
        .map(|l| line["probabilities"][l].as_f64().unwrap())
        .sum();
    assert!((p - 1.0).abs() < 1e-5);
}

#[test]
fn score_reads_every_reward_architecture_like_transformers() {
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            common::repo_root().join("tests/fixtures/models/expected-reward-archs.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for (dir, key) in [
        ("tiny-gpt2-classifier", "gpt2"),
        ("tiny-bert", "bert"),
        ("tiny-distilbert", "distilbert"),
    ] {
        let model = format!("tests/fixtures/models/{dir}");
        let out = rlhf(&["score", "--model", &model, "--text", "This movie was"]);
        assert!(out.status.success(), "{dir}: {}", text(&out.stderr));
        let line: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
        let want = &expected[key]["single"][1]["logits"];
        for (i, label) in ["NEGATIVE", "POSITIVE"].iter().enumerate() {
            let got = line["logits"][label].as_f64().unwrap();
            let want = want[i].as_f64().unwrap();
            assert!((got - want).abs() < 1e-4, "{dir} {label}: {got} vs {want}");
        }
    }
}

#[test]
fn models_of_the_wrong_kind_are_refused() {
    let out = rlhf(&["score", "--model", TINY_GPT2, "--text", "hi"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("`GPT2LMHeadModel`, not a sequence classifier"),
        "{}",
        text(&out.stderr)
    );
    let out = rlhf(&["generate", "--model", "no/such-model", "--prompt", "hi"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not in the hub cache"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn export_writes_a_loadable_hf_directory() {
    let out_dir = tempfile::tempdir().unwrap();
    let out_path = out_dir.path().join("exported");
    let out = rlhf(&[
        "export",
        "--checkpoint",
        TINY_GPT2,
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for name in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert!(out_path.join(name).is_file(), "{name}");
    }
    // The export generates exactly like its source.
    let greedy = |model: &str| {
        let out = rlhf(&[
            "generate", "--model", model, "--prompt", "Hello", "--greedy",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        out.stdout
    };
    assert_eq!(greedy(TINY_GPT2), greedy(out_path.to_str().unwrap()));
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

#[test]
fn check_backend_passes_on_flex_and_names_a_missing_fixture_dir() {
    let out = rlhf(&["check-backend"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("all 6 checks passed on flex"), "{stdout}");
    assert_eq!(
        stdout.matches("\nok ").count() + usize::from(stdout.starts_with("ok ")),
        6
    );
    let out = rlhf(&["check-backend", "--fixtures", "no/such/dir"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--fixtures"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bench_prints_one_json_line_per_measurement() {
    let out = rlhf(&[
        "bench",
        "--policy",
        "tests/fixtures/models/tiny-gpt2",
        "--reward",
        "tests/fixtures/models/tiny-roberta",
        "--generation-batch",
        "2",
        "--ppo-batch",
        "4",
        "--repeats",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["kind"], "gemm");
    assert!(lines[0]["gflops"].as_f64().unwrap() > 0.0);
    assert!(lines[0]["threads"].as_u64().unwrap() >= 1);
    assert_eq!(lines[1]["kind"], "generation");
    assert_eq!(lines[1]["impl"], "rlhf-burn-flex");
    assert!(lines[1]["tokens_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(lines[2]["kind"], "ppo_step");
    // The step's matrix FLOPs and the rate they were done at.
    let flops = &lines[2]["flops"];
    assert!(flops["total"].as_f64().unwrap() > flops["optimize_step"].as_f64().unwrap());
    assert!(lines[2]["gflops_per_s"].as_f64().unwrap() > 0.0);
    let seconds = &lines[2]["seconds"];
    for phase in [
        "generate",
        "score",
        "forward_pass",
        "optimize_step",
        "total",
    ] {
        assert!(seconds[phase].as_f64().unwrap() > 0.0, "{phase}: {seconds}");
    }
    let out = rlhf(&[
        "bench",
        "--policy",
        "tests/fixtures/models/tiny-gpt2",
        "--reward",
        "tests/fixtures/models/tiny-roberta",
        "--repeats",
        "0",
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--repeats must be at least 1"));
}
