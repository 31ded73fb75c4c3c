//! Prompts from the shipped IMDB sample with the real GPT-2 tokenizer.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use dataset::{LengthSampler, Tokenizer, build_prompts, read_reviews};

#[test]
fn gpt2_and_roberta_tokenizers_give_the_known_ids() {
    let gpt2 = Tokenizer::from_file(&common::gpt2_tokenizer()).expect("gpt2 tokenizer");
    assert_eq!(gpt2.encode("Hello world", false).unwrap(), [15496, 995]);
    assert_eq!(
        gpt2.encode(" Hello world", true).unwrap(),
        [18435, 995],
        "GPT-2 adds no specials"
    );
    assert_eq!(gpt2.token_id("<|endoftext|>"), Some(50256));
    assert_eq!(gpt2.vocab_size(), 50257);
    assert_eq!(gpt2.decode(&[15496, 995], false).unwrap(), "Hello world");

    let roberta = Tokenizer::from_file(&common::roberta_tokenizer()).expect("roberta tokenizer");
    assert_eq!(
        roberta.encode("Hello world", true).unwrap(),
        [0, 31414, 232, 2]
    );
    assert_eq!(
        roberta.encode("Hello <mask> world", true).unwrap(),
        [0, 31414, 50264, 232, 2]
    );
    assert_eq!(roberta.token_id("<pad>"), Some(1));
}

#[test]
fn sample_has_the_documented_rows_and_labels() {
    let reviews = read_reviews(&common::sample_parquet(), "text", "label").expect("sample");
    assert_eq!(reviews.len(), 512);
    assert_eq!(reviews.iter().filter(|r| r.label == 1).count(), 256);
    assert_eq!(reviews.iter().filter(|r| r.label == 0).count(), 256);
}

#[test]
fn prompts_are_seeded_bounded_prefixes_of_kept_reviews() {
    let reviews = read_reviews(&common::sample_parquet(), "text", "label").expect("sample");
    let tokenizer = Tokenizer::from_file(&common::gpt2_tokenizer()).expect("tokenizer");
    let lengths = LengthSampler::new(2, 8).expect("range");
    let mut processed = 0;
    let prompts =
        build_prompts(&reviews, &tokenizer, 200, lengths, 7, |n| processed += n).expect("prompts");

    let kept = reviews
        .iter()
        .filter(|r| r.text.chars().count() > 200)
        .count();
    assert_eq!(prompts.len(), kept);
    assert_eq!(processed, kept, "progress covers every kept review");
    for prompt in &prompts {
        let review = &reviews[prompt.review];
        assert!(review.text.chars().count() > 200);
        assert!(
            (2..8).contains(&prompt.input_ids.len()),
            "{:?}",
            prompt.input_ids
        );
        let full = tokenizer.encode(&review.text, false).unwrap();
        assert_eq!(
            prompt.input_ids,
            full[..prompt.input_ids.len()],
            "a prefix of the review"
        );
        assert_eq!(
            prompt.query,
            tokenizer.decode(&prompt.input_ids, false).unwrap()
        );
        assert_eq!(prompt.label, review.label);
    }
    // The filter drops reviews of at most `min_text_chars` characters.
    let long = build_prompts(&reviews, &tokenizer, 1000, lengths, 7, |_| {}).unwrap();
    let expected = reviews
        .iter()
        .filter(|r| r.text.chars().count() > 1000)
        .count();
    assert!(expected < reviews.len());
    assert_eq!(long.len(), expected);

    let seen: std::collections::BTreeSet<usize> =
        prompts.iter().map(|p| p.input_ids.len()).collect();
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        [2, 3, 4, 5, 6, 7],
        "every length occurs"
    );

    let again = build_prompts(&reviews, &tokenizer, 200, lengths, 7, |_| {}).unwrap();
    assert_eq!(again, prompts, "same seed, same prompts");
    let other = build_prompts(&reviews, &tokenizer, 200, lengths, 8, |_| {}).unwrap();
    assert_ne!(other, prompts, "another seed draws other lengths");
}

#[test]
fn invalid_length_ranges_and_total_filtering_are_errors() {
    assert!(LengthSampler::new(0, 4).is_err());
    assert!(LengthSampler::new(4, 4).is_err());
    let reviews = read_reviews(&common::sample_parquet(), "text", "label").expect("sample");
    let tokenizer = Tokenizer::from_file(&common::gpt2_tokenizer()).expect("tokenizer");
    let err = build_prompts(
        &reviews,
        &tokenizer,
        1_000_000,
        LengthSampler::new(2, 8).unwrap(),
        0,
        |_| {},
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("lower data.min_text_chars"),
        "{err}"
    );
}
