//! The reward-model trainer learns a separable toy task and reports per epoch.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::path::PathBuf;

use burn::tensor::Device;
use dataset::{Review, Tokenizer};
use models::{RobertaConfig, RobertaForSequenceClassification};
use ppo::reward_training::{ClassifierSettings, encode, train_classifier};

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
    device.seed(0);
    let model = RobertaForSequenceClassification::init(&config, &device);
    let settings = ClassifierSettings {
        epochs: 4,
        batch_size: 16,
        learning_rate: 1e-2,
        warmup_frac: 0.1,
        weight_decay: 0.0,
        seed: 0,
        pad_id: 1,
    };
    let mut epochs_seen = 0;
    let (_, reports) = train_classifier(
        model,
        &data,
        &data,
        &settings,
        &device,
        |_, _| {},
        |_, _| {
            epochs_seen += 1;
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(epochs_seen, 4);
    let last = reports.last().unwrap();
    assert!(last.test_accuracy > 0.95, "{reports:?}");
    assert!(last.train_loss < reports[0].train_loss, "{reports:?}");
}
