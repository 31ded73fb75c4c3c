//! SFT through the supervised loop: held-out loss falls, and a run stopped mid-epoch and resumed
//! from its checkpoint ends with the uninterrupted run's weights and reports.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use dataset::Tokenizer;
use models::export::policy_tensors;
use models::{Gpt2Config, Gpt2WithValueHead, ValueHeadInit};
use ppo::supervised::sft::{SftReport, SftTask, pack};
use ppo::supervised::{Checkpointing, Event, Settings, train};

#[test]
fn sft_learns_and_resumes_exactly() {
    let tokenizer_path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/tokenizers/gpt2/tokenizer.json");
    let tokenizer = Tokenizer::from_file(&tokenizer_path).unwrap();
    let texts: Vec<String> = (0..40)
        .map(|i| format!("The film number {i} was good. The actors were good too."))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let blocks = pack(&tokenizer, &refs, 50256, 16).unwrap();
    let (train_blocks, eval_blocks) = blocks.split_at(blocks.len() - 4);
    let config = Gpt2Config {
        n_positions: 32,
        ..Gpt2Config::tiny(50257)
    };
    let files = [tokenizer_path];
    let task = SftTask {
        train: train_blocks,
        eval: eval_blocks,
        eval_batch: 4,
        config: &config,
        tokenizer_files: &files,
    };
    let settings = Settings {
        epochs: 3,
        batch_size: 8,
        learning_rate: 3e-3,
        warmup_frac: 0.1,
        weight_decay: 0.01,
        seed: 5,
    };
    let device = Device::flex().autodiff();
    let run = |out: &Path, resume: bool, stop_at: usize| {
        device.seed(1);
        let model = Gpt2WithValueHead::init(&config, ValueHeadInit::Zero, &device);
        let checkpointing = Checkpointing {
            out: out.to_path_buf(),
            save_every: 2,
            resume,
        };
        train(
            &task,
            model,
            &settings,
            &checkpointing,
            &device,
            |e| match e {
                Event::Step { step, .. } if step == stop_at => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            },
        )
        .unwrap()
    };
    let tmp = tempfile::tempdir().unwrap();
    let (full, reports) = run(&tmp.path().join("full"), false, usize::MAX);
    assert_eq!(reports.len(), 3);
    assert!(reports[2].eval_loss < reports[0].eval_loss, "{reports:?}");

    let steps_per_epoch = train_blocks.len().div_ceil(8);
    let stop = steps_per_epoch + 3; // mid epoch 2; the last checkpoint is at an even step
    let split = tmp.path().join("split");
    run(&split, false, stop);
    let (resumed, resumed_reports) = run(&split, true, usize::MAX);
    let json = |r: &[SftReport]| serde_json::to_string(r).unwrap();
    assert_eq!(json(&reports), json(&resumed_reports));
    let (a, b) = (
        policy_tensors(&full, false),
        policy_tensors(&resumed, false),
    );
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert_eq!(x, y, "{name} differs after resume");
    }
}
