//! `cargo xtask bench`: our numbers next to the Python reference's, on the same machine and the
//! same weights (the full-size random checkpoints of `cargo xtask parity`), in one run:
//! generation tokens/s, reward scoring texts/s and full PPO steps split by phase.

use std::path::Path;
use std::process::Command;

use anyhow::Context;
use serde_json::{Value, json};

use crate::{cargo, python, reference};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    /// Generation batch sizes.
    pub generation: Vec<usize>,
    /// PPO step batch sizes (mini-batch = batch).
    pub ppo: Vec<usize>,
    /// Report our figures only.
    pub skip_python: bool,
}

/// Runs the plan, prints the tables and writes `target/bench/report.json`.
pub fn bench(root: &Path, plan: &BenchPlan) -> anyhow::Result<()> {
    let have_python = !plan.skip_python && python::available(root);
    let models = root.join(reference::FULL_SIZE_DIR);
    let (gpt2, roberta) = (models.join("gpt2-124m"), models.join("roberta-large"));
    if !gpt2.join("model.safetensors").is_file() || !roberta.join("model.safetensors").is_file() {
        let py = python::require(root).context(
            "the benchmark weights (target/reference-models) are missing; a Python script makes them",
        )?;
        reference::full_size_models(root, &py)?;
    }
    let (gpt2, roberta) = (
        gpt2.to_string_lossy().into_owned(),
        roberta.to_string_lossy().into_owned(),
    );
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
    cargo(
        root,
        &["build", "--release", "-p", "ppo", "--example", "bench_step"],
    )?;
    let sizes = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>();
    let (gen_sizes, ppo_sizes) = (sizes(&plan.generation), sizes(&plan.ppo));

    let mut args = vec![gpt2.clone()];
    args.extend(gen_sizes.iter().cloned());
    let ours_gen = run_example(root, "bench_generate", &args)?;
    let mut args = vec![gpt2.clone(), roberta.clone()];
    args.extend(ppo_sizes.iter().cloned());
    let ours_ppo = run_example(root, "bench_step", &args)?;
    let (ref_gen, ref_ppo) = if have_python {
        let py = python::interpreter(root);
        let mut a = vec!["--model-dir", gpt2.as_str(), "--batch"];
        a.extend(gen_sizes.iter().map(String::as_str));
        let generation = json_lines(&python::run_script_output(
            root,
            &py,
            "bench_generate.py",
            &a,
            true,
        )?);
        let mut a = vec![
            "--policy",
            gpt2.as_str(),
            "--reward",
            roberta.as_str(),
            "--batch",
        ];
        a.extend(ppo_sizes.iter().map(String::as_str));
        let ppo = json_lines(&python::run_script_output(
            root,
            &py,
            "bench_ppo_step.py",
            &a,
            true,
        )?);
        (generation, ppo)
    } else {
        eprintln!("Python reference not available: reporting our figures only");
        (Vec::new(), Vec::new())
    };

    let machine = machine();
    println!(
        "\nMachine: {machine}; weights: random GPT-2 124M + RoBERTa-large (target/reference-models)"
    );
    println!("\nGeneration, 16 new tokens (tokens/s, higher is better)");
    println!(
        "{:>6} {:>12} {:>14} {:>8}",
        "batch", "ours", "transformers", "ours/ref"
    );
    let mut gen_rows = Vec::new();
    for o in &ours_gen {
        let b = o["batch"].as_u64().unwrap_or(0);
        let r = find(&ref_gen, b);
        let (x, y) = (
            o["tokens_per_s"].as_f64(),
            r.and_then(|r| r["tokens_per_s"].as_f64()),
        );
        println!("{b:>6} {:>12} {:>14} {:>8}", num(x), num(y), ratio(x, y));
        gen_rows.push(json!({"batch": b, "ours": o, "reference": r}));
    }
    println!("\nReward scoring, RoBERTa-large (texts/s, higher is better)");
    println!(
        "{:>6} {:>12} {:>14} {:>8}",
        "batch", "ours", "transformers", "ours/ref"
    );
    let texts_per_s =
        |v: &Value| -> Option<f64> { Some(v["batch"].as_f64()? / v["seconds"]["score"].as_f64()?) };
    for o in &ours_ppo {
        let b = o["batch"].as_u64().unwrap_or(0);
        let (x, y) = (texts_per_s(o), find(&ref_ppo, b).and_then(texts_per_s));
        println!("{b:>6} {:>12} {:>14} {:>8}", num(x), num(y), ratio(x, y));
    }
    println!(
        "\nOne PPO step, mini-batch = batch, 4 epochs, 16 new tokens (seconds, lower is better)"
    );
    println!(
        "{:>6} {:>10} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9}",
        "batch", "impl", "generate", "score", "forward", "optimize", "total", "peak MB", "ref/ours"
    );
    let mut ppo_rows = Vec::new();
    for o in &ours_ppo {
        let b = o["batch"].as_u64().unwrap_or(0);
        let r = find(&ref_ppo, b);
        for (name, v) in [("ours", Some(o)), ("TRL", r)] {
            let Some(v) = v else { continue };
            let s = &v["seconds"];
            let speedup = match name {
                "ours" => ratio(
                    r.and_then(|r| r["seconds"]["total"].as_f64()),
                    s["total"].as_f64(),
                ),
                _ => String::new(),
            };
            println!(
                "{b:>6} {name:>10} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9}",
                num(s["generate"].as_f64()),
                num(s["score"].as_f64()),
                num(s["forward_pass"].as_f64()),
                num(s["optimize_step"].as_f64()),
                num(s["total"].as_f64()),
                num(v["peak_rss_mb"].as_f64()),
                speedup
            );
        }
        ppo_rows.push(json!({"batch": b, "ours": o, "reference": r}));
    }
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let report = json!({"machine": machine, "generation": gen_rows, "ppo_step": ppo_rows});
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    eprintln!("\nwrote target/bench/report.json");
    Ok(())
}

fn run_example(root: &Path, name: &str, args: &[String]) -> anyhow::Result<Vec<Value>> {
    let binary = root.join("target/release/examples").join(name);
    eprintln!("$ {} {}", binary.display(), args.join(" "));
    let out = Command::new(&binary)
        .args(args)
        .current_dir(root)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run `{}`", binary.display()))?;
    anyhow::ensure!(out.status.success(), "`{name}` failed ({})", out.status);
    Ok(json_lines(&String::from_utf8_lossy(&out.stdout)))
}

fn find(rows: &[Value], batch: u64) -> Option<&Value> {
    rows.iter().find(|r| r["batch"].as_u64() == Some(batch))
}

fn num(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.2}"))
}

fn ratio(x: Option<f64>, y: Option<f64>) -> String {
    match (x, y) {
        (Some(x), Some(y)) if y > 0.0 => format!("{:.2}x", x / y),
        _ => "-".into(),
    }
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
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(String::new(), |kb| {
            format!(", {:.0} GiB RAM", kb / 1024.0 / 1024.0)
        });
    format!("{cpu}, {cores} cores{mem}")
}
