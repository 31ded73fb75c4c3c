//! Random bad configurations never panic the loader: every `--set key=value` made of real and
//! misspelt keys and of odd values (NaN, ±inf, negatives, huge numbers, strings, arrays, tables)
//! ends in a loaded and checked configuration or in an error (issue #12).

use config::{Config, ConfigSources, DeviceSpec};
use proptest::prelude::*;

fn keys() -> Vec<String> {
    let mut keys = Config::keys();
    keys.extend(
        [
            "ppo",
            "ppo.lerning_rate",
            "",
            ".",
            "a..b",
            "sft.training",
            "x.y.z",
        ]
        .map(String::from),
    );
    keys
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("18446744073709551616".to_string()),
        Just("1e308".to_string()),
        Just("true".to_string()),
        Just("[1, 2]".to_string()),
        Just("{ a = 1 }".to_string()),
        Just("\"../x\"".to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| v.to_string()),
        "[ -~]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_overrides_never_panic(
        picks in proptest::collection::vec((0usize..1000, value()), 1..5),
    ) {
        let keys = keys();
        let overrides = picks
            .into_iter()
            .map(|(k, v)| format!("{}={v}", keys[k % keys.len()]))
            .collect();
        let sources = ConfigSources { overrides, ..Default::default() };
        if let Ok(config) = sources.load() {
            // A loaded configuration is valid, and its TOML loads back.
            prop_assert!(config.validate().is_ok());
            let dir = tempfile::tempdir().unwrap();
            config.write_resolved(dir.path()).unwrap();
            prop_assert_eq!(Config::read_resolved(dir.path()).unwrap(), config);
        }
    }

    #[test]
    fn random_device_names_never_panic(name in "[ -~]{0,16}") {
        let _ = name.parse::<DeviceSpec>();
    }
}
