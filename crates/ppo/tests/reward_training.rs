//! The reward-model trainer learns a separable toy task, reports per epoch, and resumes exactly.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::ops::ControlFlow;
use std::path::PathBuf;

use burn::tensor::Device;
use dataset::{Review, Tokenizer};
use models::{RobertaConfig, RobertaForSequenceClassification};
use ppo::supervised::classifier::{ClassifierOutput, ClassifierTask, EpochReport, encode};
use ppo::supervised::{Checkpointing, Event, Settings, train};

#[test]
fn classifier_learns_positive_from_negative_words() {
    let tok = Tokenizer::from_file(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/tokenizers/roberta/tokenizer.json"),
    )
    .unwrap();
    let good = [
        "great",
        "wonderful",
        "loved it",
        "brilliant",
        "superb acting",
    ];
    let bad = ["awful", "terrible", "hated it", "boring", "worst plot"];
    let reviews: Vec<Review> = (0..160)
        .map(|i| {
            let (words, label) = if i % 2 == 0 { (&good, 1) } else { (&bad, 0) };
            Review {
                text: format!("The film was {}. {}", words[i % 5], words[(i / 2) % 5]),
                label,
            }
        })
        .collect();
    let data = encode(&tok, &reviews, 32).unwrap();
    let config: RobertaConfig = serde_json::from_value(serde_json::json!({
        "model_type": "roberta", "vocab_size": 50265, "hidden_size": 16, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 34,
        "type_vocab_size": 1, "pad_token_id": 1, "id2label": {"0": "NEGATIVE", "1": "POSITIVE"}
    }))
    .unwrap();
    let device = Device::flex().autodiff();
    let settings = Settings {
        epochs: 4,
        batch_size: 16,
        learning_rate: 1e-2,
        warmup_frac: 0.1,
        weight_decay: 0.0,
        seed: 0,
    };
    let files = [tok.source().to_path_buf()];
    let task = ClassifierTask {
        train: &data,
        test: &data,
        eval_batch: 32,
        output: ClassifierOutput {
            config: &config,
            tokenizer_files: &files,
        },
    };
    let run = |out: &std::path::Path, resume: bool, stop_at: usize| {
        let mut epochs_seen = 0;
        let checkpointing = Checkpointing {
            out: out.to_path_buf(),
            save_every: 3,
            resume,
        };
        device.seed(0);
        let model = RobertaForSequenceClassification::init(&config, &device);
        let (model, reports) = train(&task, model, &settings, &checkpointing, &device, |e| {
            match e {
                Event::Epoch(_) => epochs_seen += 1,
                Event::Step { step, .. } if step == stop_at => return ControlFlow::Break(()),
                _ => {}
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        (model, reports, epochs_seen)
    };
    let tmp = tempfile::tempdir().unwrap();
    let (full, reports, epochs_seen) = run(&tmp.path().join("full"), false, usize::MAX);
    assert_eq!(epochs_seen, 4);
    let last = reports.last().unwrap();
    assert!(last.test_accuracy > 0.95, "{reports:?}");
    assert!(last.train_loss < reports[0].train_loss, "{reports:?}");

    // Stopped after step 14 (checkpoint at 12, mid epoch 2), then resumed: the same weights
    // and epoch reports as the uninterrupted run.
    let split = tmp.path().join("split");
    let (_, partial, _) = run(&split, false, 14);
    assert_eq!(partial.len(), 1);
    let (resumed, resumed_reports, seen) = run(&split, true, usize::MAX);
    assert_eq!(seen, 3, "epochs 2..4 run after the resume");
    let a = full.hf_tensors();
    let b = resumed.hf_tensors();
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert_eq!(x, y, "{name} differs after resume");
    }
    let json = |r: &[EpochReport]| serde_json::to_string(r).unwrap();
    assert_eq!(json(&reports), json(&resumed_reports));
    let metrics = std::fs::read_to_string(split.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 4);

    // A second fresh start into the same directory is refused.
    let err = train(
        &task,
        RobertaForSequenceClassification::init(&config, &device),
        &settings,
        &Checkpointing {
            out: split.clone(),
            save_every: 0,
            resume: false,
        },
        &device,
        |_| ControlFlow::Continue(()),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("--resume"), "{err}");
}
