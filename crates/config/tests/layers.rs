//! Layer precedence and error reporting of `ConfigSources::load`.
//!
//! figment's `Jail` gives each test a temporary working directory and restores any
//! environment variable it sets, so these tests can use real files and `RLHF_*` variables.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use config::{Config, ConfigError, ConfigSources, DeviceSpec, KlPenalty};
use figment::Jail;

fn sources(default_file: bool, file: bool, env: bool, sets: &[&str]) -> ConfigSources {
    ConfigSources {
        default_file: default_file.then(|| "default.toml".into()),
        file: file.then(|| "run.toml".into()),
        use_env: env,
        overrides: sets.iter().map(|s| s.to_string()).collect(),
    }
}

fn load(s: &ConfigSources) -> Result<Config, figment::Error> {
    s.load().map_err(|e| figment::Error::from(e.to_string()))
}

#[test]
fn built_in_defaults_are_the_trl_gpt2_sentiment_preset() {
    let c = Config::default();
    assert_eq!(c.policy.model, "lvwerra/gpt2-imdb");
    assert_eq!(c.reward.model, "siebert/sentiment-roberta-large-english");
    assert_eq!(c.reward.label, "POSITIVE");
    assert_eq!(
        (c.data.input_min_text_length, c.data.input_max_text_length),
        (2, 8)
    );
    assert_eq!(
        (
            c.generation.output_min_length,
            c.generation.output_max_length
        ),
        (4, 16)
    );
    assert_eq!((c.generation.top_k, c.generation.top_p), (0, 1.0));
    let p = &c.ppo;
    assert_eq!(
        (p.batch_size, p.mini_batch_size, p.ppo_epochs),
        (128, 128, 4)
    );
    assert_eq!(
        (p.learning_rate, p.init_kl_coef, p.target, p.horizon),
        (1.41e-5, 0.2, 6.0, 1e4)
    );
    assert_eq!(
        (p.gamma, p.lam, p.cliprange, p.cliprange_value, p.vf_coef),
        (1.0, 0.95, 0.2, 0.2, 0.1)
    );
    assert_eq!(
        (p.ratio_threshold, p.kl_penalty, p.max_grad_norm),
        (10.0, KlPenalty::Kl, None)
    );
    c.validate().expect("the defaults are consistent");
}

#[test]
fn each_layer_overrides_the_one_below() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "default.toml",
            "exp_name = \"from-default\"\nseed = 1\n[ppo]\nlearning_rate = 1e-4\nvf_coef = 0.5\n",
        )?;
        jail.create_file(
            "run.toml",
            "exp_name = \"from-file\"\nseed = 2\n[ppo]\nlearning_rate = 2e-4\n",
        )?;
        jail.set_env("RLHF_SEED", 3);
        jail.set_env("RLHF_PPO__LEARNING_RATE", "3e-4");

        let only_defaults = load(&sources(false, false, false, &[]))?;
        assert_eq!(only_defaults, Config::default());

        let c = load(&sources(true, false, false, &[]))?;
        assert_eq!(
            (c.exp_name.as_str(), c.seed, c.ppo.learning_rate),
            ("from-default", 1, 1e-4)
        );

        let c = load(&sources(true, true, false, &[]))?;
        assert_eq!(
            (c.exp_name.as_str(), c.seed, c.ppo.learning_rate),
            ("from-file", 2, 2e-4)
        );
        assert_eq!(
            c.ppo.vf_coef, 0.5,
            "keys the file does not set keep the lower layer's value"
        );

        let c = load(&sources(true, true, true, &[]))?;
        assert_eq!(
            (c.exp_name.as_str(), c.seed, c.ppo.learning_rate),
            ("from-file", 3, 3e-4)
        );

        let c = load(&sources(
            true,
            true,
            true,
            &["ppo.learning_rate=4e-4", "device=cuda:1"],
        ))?;
        assert_eq!((c.seed, c.ppo.learning_rate, c.ppo.vf_coef), (3, 4e-4, 0.5));
        assert_eq!(c.device, DeviceSpec::Cuda(1));
        Ok(())
    });
}

#[test]
fn later_set_flags_win_and_non_config_env_vars_are_ignored() {
    Jail::expect_with(|jail| {
        jail.set_env("RLHF_SLOW_TESTS", 1);
        let c = load(&sources(
            false,
            false,
            true,
            &["seed=5", "seed=6", "ppo.max_grad_norm=1.0"],
        ))?;
        assert_eq!((c.seed, c.ppo.max_grad_norm), (6, Some(1.0)));
        Ok(())
    });
}

fn unknown(err: ConfigError) -> (String, String, Option<String>) {
    match err {
        ConfigError::UnknownKey {
            key,
            origin,
            suggestion,
        } => (key, origin, suggestion),
        other => panic!("expected UnknownKey, got {other:?}"),
    }
}

#[test]
fn unknown_key_in_a_file_names_the_key_the_file_and_the_nearest_key() {
    Jail::expect_with(|jail| {
        jail.create_file("run.toml", "[ppo]\nlerning_rate = 1e-5\n")?;
        let err = sources(false, true, false, &[]).load().unwrap_err();
        let message = err.to_string();
        let (key, origin, suggestion) = unknown(err);
        assert_eq!(key, "ppo.lerning_rate");
        assert!(origin.contains("run.toml"), "{origin}");
        assert_eq!(suggestion.as_deref(), Some("ppo.learning_rate"));
        assert!(
            message.contains("did you mean `ppo.learning_rate`"),
            "{message}"
        );
        Ok(())
    });
}

#[test]
fn unknown_keys_from_env_and_flags_name_their_origin() {
    Jail::expect_with(|jail| {
        jail.set_env("RLHF_PPO__BACH_SIZE", 4);
        let (key, origin, suggestion) =
            unknown(sources(false, false, true, &[]).load().unwrap_err());
        assert_eq!(key, "ppo.bach_size");
        assert!(origin.contains("RLHF_PPO__BACH_SIZE"), "{origin}");
        assert_eq!(suggestion.as_deref(), Some("ppo.batch_size"));
        Ok(())
    });
    let (key, origin, suggestion) = unknown(
        sources(false, false, false, &["pppo.cliprange=0.1"])
            .load()
            .unwrap_err(),
    );
    assert_eq!((key.as_str(), suggestion.as_deref()), ("pppo", Some("ppo")));
    assert!(origin.contains("--set pppo.cliprange"), "{origin}");
    // A key that belongs to another section points there.
    let (_, _, suggestion) = unknown(
        sources(false, false, false, &["ppo.seed=1"])
            .load()
            .unwrap_err(),
    );
    assert_eq!(suggestion.as_deref(), Some("seed"));
}

#[test]
fn invalid_combination_is_an_actionable_error() {
    let err = sources(
        false,
        false,
        false,
        &["ppo.batch_size=100", "ppo.mini_batch_size=64"],
    )
    .load()
    .unwrap_err();
    let ConfigError::Inconsistent { problems } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].key, "ppo.batch_size");
    assert!(
        err.to_string().contains("multiple of mini_batch_size"),
        "{err}"
    );

    let err = sources(
        false,
        false,
        false,
        &["data.input_max_text_length=2", "generation.top_p=0"],
    )
    .load()
    .unwrap_err();
    let ConfigError::Inconsistent { problems } = &err else {
        panic!("{err:?}")
    };
    let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["data.input_max_text_length", "generation.top_p"],
        "all problems at once"
    );
}

#[test]
fn wrong_types_missing_files_and_bad_flags_are_errors() {
    let err = sources(false, false, false, &["ppo.batch_size=abc"])
        .load()
        .unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("key `ppo.batch_size` in `--set ppo.batch_size`"),
        "{message}"
    );

    let err = sources(false, false, false, &["device=gpu"])
        .load()
        .unwrap_err();
    assert!(err.to_string().contains("unknown device `gpu`"), "{err}");

    let missing = ConfigSources {
        file: Some("no/such.toml".into()),
        ..Default::default()
    };
    assert!(matches!(
        missing.load(),
        Err(ConfigError::FileNotFound { .. })
    ));

    for arg in ["seed", "=3", "ppo..lam=1"] {
        let err = sources(false, false, false, &[arg]).load().unwrap_err();
        assert!(
            matches!(err, ConfigError::BadOverride { .. }),
            "{arg}: {err:?}"
        );
    }
}

#[test]
fn a_missing_project_default_file_is_skipped() {
    Jail::expect_with(|_| {
        assert_eq!(load(&sources(true, false, false, &[]))?, Config::default());
        Ok(())
    });
}

#[test]
fn resolved_config_round_trips_through_its_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::default();
    config.ppo.max_grad_norm = Some(0.5);
    config.ppo.kl_penalty = KlPenalty::Full;
    config.data.tokenizer = Some("tok/tokenizer.json".into());
    config.device = DeviceSpec::TchCuda(2);
    let path = config.write_resolved(dir.path()).expect("write");
    let back = ConfigSources {
        file: Some(path),
        ..Default::default()
    }
    .load()
    .expect("load");
    assert_eq!(back, config);
}
