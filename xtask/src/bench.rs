//! `cargo xtask bench`: our numbers next to the Python reference's, on the same machine and the
//! same weights (the full-size random checkpoints of `cargo xtask parity`), in one run:
//! generation tokens/s, reward scoring texts/s and full PPO steps split by phase.

use std::path::Path;
use std::process::Command;

use anyhow::Context;
use serde_json::{Value, json};

use crate::build::{self, Rlhf};
use crate::{frozen, python, reference};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    /// Generation batch sizes.
    pub generation: Vec<usize>,
    /// PPO step batch sizes (mini-batch = batch).
    pub ppo: Vec<usize>,
    /// Devices to measure ours on (default: flex).
    pub devices: Vec<String>,
    /// Report our figures only.
    pub skip_python: bool,
    /// Which random checkpoints to measure on.
    pub size: reference::ModelSize,
    /// Extra PPO-step runs with the frozen models as `DTYPE[@DEVICE]` (e.g. `bf16@tch-cpu`).
    pub frozen: Vec<String>,
    /// Also time the GEMM at the step's own shapes, on both sides.
    pub gemm_shapes: bool,
}

/// Runs the plan, prints the tables and writes `target/bench/report.json`.
pub fn bench(root: &Path, plan: &BenchPlan) -> anyhow::Result<()> {
    let have_python = !plan.skip_python && python::available(root);
    let models = plan.size.dir(root);
    let (gpt2, roberta) = (models.join("gpt2-124m"), models.join("roberta-large"));
    if !gpt2.join("model.safetensors").is_file() || !roberta.join("model.safetensors").is_file() {
        let py = python::require(root).with_context(|| {
            format!(
                "the benchmark weights ({}) are missing; a Python script makes them",
                models.display()
            )
        })?;
        reference::models_of_size(root, &py, plan.size)?;
    }
    let (gpt2, roberta) = (
        gpt2.to_string_lossy().into_owned(),
        roberta.to_string_lossy().into_owned(),
    );
    let devices = if plan.devices.is_empty() {
        vec!["flex".to_string()]
    } else {
        plan.devices.clone()
    };
    let mut backends = devices.clone();
    backends.extend(plan.frozen.iter().filter_map(|spec| frozen::device(spec)));
    let rlhf = build::build(root, &backends, "optdev", None)?;
    let sizes = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>();
    let (gen_sizes, ppo_sizes) = (sizes(&plan.generation), sizes(&plan.ppo));

    let (mut ours, mut failed) = (Vec::new(), Vec::new());
    for device in &devices {
        let mut args = vec![
            "--device".to_string(),
            device.clone(),
            "bench".into(),
            "--policy".into(),
            gpt2.clone(),
            "--reward".into(),
            roberta.clone(),
            "--generation-batch".into(),
        ];
        args.extend(gen_sizes.iter().cloned());
        args.push("--ppo-batch".into());
        args.extend(ppo_sizes.iter().cloned());
        if plan.gemm_shapes {
            args.extend(["--gemm-shapes".into(), crate::bench_shapes::SHAPES.into()]);
        }
        match run_rlhf(root, &rlhf, &args) {
            Ok(rows) => ours.extend(rows),
            Err(e) => {
                eprintln!("no figures for {device}: {e:#}");
                failed.push(device.clone());
            }
        }
        for spec in &plan.frozen {
            let args = frozen::bench_args(device, spec, (&gpt2, &roberta), &ppo_sizes);
            match run_rlhf(root, &rlhf, &args) {
                Ok(rows) => ours.extend(rows.into_iter().filter(|r| r["kind"] == "ppo_step")),
                Err(e) => {
                    eprintln!("no figures for {device} with frozen {spec}: {e:#}");
                    failed.push(format!("{device} (frozen {spec})"));
                }
            }
        }
    }
    let kind = |rows: &[Value], k: &str| -> Vec<Value> {
        rows.iter().filter(|r| r["kind"] == k).cloned().collect()
    };
    let (ours_gen, ours_ppo) = (kind(&ours, "generation"), kind(&ours, "ppo_step"));
    let mut torch_shapes = Vec::new();
    let (ref_gen, ref_ppo, torch_gemm) = if have_python {
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
        let shapes: &[&str] = if plan.gemm_shapes {
            &["--shapes", crate::bench_shapes::SHAPES]
        } else {
            &[]
        };
        let gemm = json_lines(&python::run_script_output(
            root,
            &py,
            "bench_gemm.py",
            shapes,
            true,
        )?);
        torch_shapes = kind(&gemm, "gemm_shape");
        (
            generation,
            ppo,
            gemm.into_iter().find(|g| g["kind"] == "gemm"),
        )
    } else {
        eprintln!("Python reference not available: reporting our figures only");
        (Vec::new(), Vec::new(), None)
    };
    let machine = machine();
    println!("\nMachine: {machine}; weights: {}", plan.size.describe());
    if let Some(isa) = ours_ppo.iter().find_map(|o| o["gemm_isa"].as_str()) {
        println!("flex GEMM kernels on this CPU: {isa} (chosen at run time)");
    }
    println!("\nGeneration, 16 new tokens (tokens/s, higher is better)");
    println!(
        "{:>6} {:>22} {:>12} {:>14} {:>8}",
        "batch", "impl", "ours", "transformers", "ours/ref"
    );
    let mut gen_rows = Vec::new();
    for o in &ours_gen {
        let b = o["batch"].as_u64().unwrap_or(0);
        let r = find(&ref_gen, b);
        let (x, y) = (
            o["tokens_per_s"].as_f64(),
            r.and_then(|r| r["tokens_per_s"].as_f64()),
        );
        println!(
            "{b:>6} {:>22} {:>12} {:>14} {:>8}",
            name(o),
            num(x),
            num(y),
            ratio(x, y)
        );
        gen_rows.push(json!({"batch": b, "ours": o, "reference": r}));
    }
    println!("\nReward scoring, the RoBERTa reward model (texts/s, higher is better)");
    println!(
        "{:>6} {:>22} {:>12} {:>14} {:>8}",
        "batch", "impl", "ours", "transformers", "ours/ref"
    );
    let texts_per_s =
        |v: &Value| -> Option<f64> { Some(v["batch"].as_f64()? / v["seconds"]["score"].as_f64()?) };
    for o in &ours_ppo {
        let b = o["batch"].as_u64().unwrap_or(0);
        let (x, y) = (texts_per_s(o), find(&ref_ppo, b).and_then(texts_per_s));
        println!(
            "{b:>6} {:>22} {:>12} {:>14} {:>8}",
            name(o),
            num(x),
            num(y),
            ratio(x, y)
        );
    }
    println!(
        "\nOne PPO step, mini-batch = batch, 4 epochs, 16 new tokens (seconds, lower is better)"
    );
    println!(
        "{:>6} {:>22} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9}",
        "batch", "impl", "generate", "score", "forward", "optimize", "total", "peak MB", "ref/ours"
    );
    let mut ppo_rows = Vec::new();
    let mut batches: Vec<u64> = ours_ppo
        .iter()
        .filter_map(|o| o["batch"].as_u64())
        .collect();
    batches.sort_unstable();
    batches.dedup();
    for b in batches {
        let r = find(&ref_ppo, b);
        let rows = ours_ppo.iter().filter(|o| o["batch"].as_u64() == Some(b));
        for v in rows.map(Some).chain([r]).flatten() {
            let s = &v["seconds"];
            let speedup = if Some(v) == r {
                String::new()
            } else {
                ratio(
                    r.and_then(|r| r["seconds"]["total"].as_f64()),
                    s["total"].as_f64(),
                )
            };
            println!(
                "{b:>6} {:>22} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9}",
                name(v),
                num(s["generate"].as_f64()),
                num(s["score"].as_f64()),
                num(s["forward_pass"].as_f64()),
                num(s["optimize_step"].as_f64()),
                num(s["total"].as_f64()),
                num(v["peak_rss_mb"].as_f64()),
                speedup
            );
        }
    }
    for o in &ours_ppo {
        let b = o["batch"].as_u64().unwrap_or(0);
        ppo_rows.push(json!({"batch": b, "ours": o, "reference": find(&ref_ppo, b)}));
    }
    let floor = crate::bench_floor::print(
        &kind(&ours, "gemm"),
        torch_gemm.as_ref(),
        &ours_ppo,
        &ref_ppo,
    );
    let shapes = crate::bench_shapes::print(&kind(&ours, "gemm_shape"), &torch_shapes);
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let report = json!({"machine": machine, "weights": plan.size.describe(),
        "generation": gen_rows, "ppo_step": ppo_rows, "floor": floor,
        "gemm_shapes": shapes});
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    eprintln!("\nwrote target/bench/report.json");
    anyhow::ensure!(
        failed.is_empty(),
        "`rlhf bench` failed on {} (its output is above)",
        failed.join(", ")
    );
    Ok(())
}

fn run_rlhf(root: &Path, rlhf: &Rlhf, args: &[String]) -> anyhow::Result<Vec<Value>> {
    eprintln!("$ {} {}", rlhf.binary.display(), args.join(" "));
    let out = Command::new(&rlhf.binary)
        .args(args)
        .current_dir(root)
        .envs(rlhf.env.iter().map(|(k, v)| (k, v)))
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run `{}`", rlhf.binary.display()))?;
    anyhow::ensure!(out.status.success(), "`rlhf bench` failed ({})", out.status);
    Ok(json_lines(&String::from_utf8_lossy(&out.stdout)))
}

pub(crate) fn find(rows: &[Value], batch: u64) -> Option<&Value> {
    rows.iter().find(|r| r["batch"].as_u64() == Some(batch))
}

/// The implementation a row measured (`rlhf-burn-<device>`, or the reference's name).
pub(crate) fn name(row: &Value) -> &str {
    row["impl"].as_str().unwrap_or("?")
}

pub(crate) fn num(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.2}"))
}

pub(crate) fn ratio(x: Option<f64>, y: Option<f64>) -> String {
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

/// CPU model, core count, memory and the ISA flags that matter for GEMM, for the report.
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
    let flags = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            let line = c.lines().find(|l| l.starts_with("flags"))?.to_string();
            let wanted = [
                "avx2",
                "fma",
                "avx512f",
                "avx512bw",
                "avx512vl",
                "avx512_vnni",
                "avx512_bf16",
                "avx512_fp16",
                "amx_bf16",
                "amx_int8",
            ];
            let have: Vec<&str> = wanted
                .into_iter()
                .filter(|w| line.split_whitespace().any(|f| f == *w))
                .collect();
            Some(have.join(" "))
        })
        .unwrap_or_default();
    format!("{cpu}, {cores} cores{mem}, flags: {flags}")
}
