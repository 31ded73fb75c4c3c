//! `cargo xtask bench`: our numbers next to the Python reference's, on the same machine and
//! the same weights (the full-size random checkpoints of `cargo xtask parity`).

use std::path::Path;
use std::process::Command;

use anyhow::Context;
use serde_json::{Value, json};

use crate::{cargo, python, reference};

/// Runs the generation benchmark for `batches` (GPT-2 124M, 16 new tokens) and prints a table.
pub fn bench(root: &Path, batches: &[usize], skip_python: bool) -> anyhow::Result<()> {
    let py = python::interpreter(root);
    let have_python = !skip_python && python::available(root);
    let gpt2 = root.join(reference::FULL_SIZE_DIR).join("gpt2-124m");
    if !gpt2.join("model.safetensors").is_file() {
        let py = python::require(root).context(
            "the benchmark weights (target/reference-models/gpt2-124m) are missing and are made \
             by a Python script",
        )?;
        reference::full_size_models(root, &py)?;
    }
    cargo(
        root,
        &[
            "build",
            "--release",
            "-p",
            "models",
            "--example",
            "bench_generate",
        ],
    )?;
    let batch_args: Vec<String> = batches.iter().map(usize::to_string).collect();
    let binary = root.join("target/release/examples/bench_generate");
    let gpt2_s = gpt2.to_string_lossy().into_owned();
    eprintln!("$ {} {gpt2_s} {}", binary.display(), batch_args.join(" "));
    let out = Command::new(&binary)
        .arg(&gpt2_s)
        .args(&batch_args)
        .current_dir(root)
        .output()
        .with_context(|| format!("cannot run `{}`", binary.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours = json_lines(&String::from_utf8_lossy(&out.stdout));
    let theirs = if have_python {
        let mut args = vec!["--model-dir", gpt2_s.as_str(), "--batch"];
        args.extend(batch_args.iter().map(String::as_str));
        json_lines(&python::run_script_output(
            root,
            &py,
            "bench_generate.py",
            &args,
            true,
        )?)
    } else {
        eprintln!("Python reference not available: reporting our figures only");
        Vec::new()
    };
    let mut rows = Vec::new();
    println!(
        "\nGPT-2 124M generation, 16 new tokens, CPU ({})",
        machine()
    );
    println!(
        "{:>6} {:>16} {:>18} {:>8}",
        "batch", "ours tokens/s", "transformers tok/s", "ratio"
    );
    for o in &ours {
        let b = o["batch"].as_u64().unwrap_or(0);
        let t = theirs.iter().find(|t| t["batch"].as_u64() == Some(b));
        let ours_tps = o["tokens_per_s"].as_f64().unwrap_or(f64::NAN);
        let ref_tps = t.and_then(|t| t["tokens_per_s"].as_f64());
        let ratio = ref_tps.map(|r| ours_tps / r);
        println!(
            "{b:>6} {ours_tps:>16.1} {:>18} {:>8}",
            ref_tps.map_or("-".into(), |r| format!("{r:.1}")),
            ratio.map_or("-".into(), |r| format!("{r:.2}x"))
        );
        rows.push(json!({"batch": b, "ours": o, "reference": t, "speedup": ratio}));
    }
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let report = json!({"machine": machine(), "generation": rows});
    std::fs::write(
        dir.join("generation.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    eprintln!("wrote target/bench/generation.json");
    Ok(())
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// CPU model and core count, for the report.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}
