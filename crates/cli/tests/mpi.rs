//! Data-parallel `rlhf train` over MPI (`--features mpi`; run with
//! `cargo test -p cli --features mpi --test mpi` after `cargo xtask setup-mpi`): two ranks at
//! batch 8 give what one process gives at batch 8; a killed rank ends the job and resume is
//! exact; a batch that does not split is refused before any work.

#![cfg(feature = "mpi")]
#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{repo_root, rlhf, text, tiny_train_args};
use safetensors::SafeTensors;
use serde_json::{Map, Value};

/// `mpirun -np <ranks> rlhf args…` as root in a container, oversubscribing 2 cores. OpenMPI
/// keeps its session files under `$TMPDIR`; concurrent `mpirun`s sharing one race to create
/// them ("mkdir ... File exists"), so each test gives its own (`scratch`).
fn mpirun(ranks: usize, scratch: &Path) -> Command {
    let tmp = scratch.join("ompi");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut command = Command::new("mpirun");
    command.env("TMPDIR", tmp);
    command
        .args([
            "--allow-run-as-root",
            "--oversubscribe",
            "-np",
            &ranks.to_string(),
        ])
        .arg(env!("CARGO_BIN_EXE_rlhf"))
        .current_dir(repo_root())
        .env_remove("RUST_LOG")
        .env("HF_HUB_OFFLINE", "1");
    command
}

fn train_args(out: &Path, exp: &str, steps: usize, extra: &[&str]) -> Vec<String> {
    tiny_train_args(out, exp, steps, extra)
}

fn run_mpi(ranks: usize, scratch: &Path, args: &[String]) -> Output {
    mpirun(ranks, scratch)
        .args(args)
        .output()
        .expect("run mpirun")
}

fn metrics(run: &Path) -> Vec<Map<String, Value>> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every tensor of `dir/model.safetensors` as f32 values, by name.
fn weights(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let tensors = SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<(String, Vec<f32>)> = tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, values)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(1.0)
}

/// Metrics equal within `tol` (relative above 1), timings and the ranks' own keys aside.
fn assert_same_metrics(a: &[Map<String, Value>], b: &[Map<String, Value>], tol: f64) {
    assert_eq!(a.len(), b.len(), "number of steps");
    for (x, y) in a.iter().zip(b) {
        for (key, value) in x {
            if key.starts_with("time/") || key.starts_with("dist/") {
                continue;
            }
            let (Some(u), Some(v)) = (value.as_f64(), y.get(key).and_then(Value::as_f64)) else {
                continue;
            };
            assert!(
                close(u, v, tol) || (u.is_nan() && v.is_nan()),
                "step {}: {key} = {u} vs {v}",
                x["step"]
            );
        }
    }
}

/// Every weight within `tol`, except the attention key biases: their gradient is zero in exact
/// arithmetic (softmax ignores a shift shared by every key of a query, so they do not change
/// the model's outputs either), what remains is float noise that depends on the order of the
/// sums, and Adam scales any noise up to a step of ±lr. They are the middle third of
/// `attn.c_attn.bias` (query, key, value).
fn assert_same_weights(a: &Path, b: &Path, tol: f32) {
    let (a, b) = (weights(a), weights(b));
    assert_eq!(a.len(), b.len());
    let mut worst = (0.0f32, String::new());
    for ((name, x), (other, y)) in a.iter().zip(&b) {
        assert_eq!(name, other);
        let keys = if name.ends_with("attn.c_attn.bias") {
            x.len() / 3..2 * x.len() / 3
        } else {
            0..0
        };
        for (i, (u, v)) in x.iter().zip(y).enumerate() {
            if !keys.contains(&i) && (u - v).abs() > worst.0 {
                worst = ((u - v).abs(), format!("{name}[{i}]"));
            }
        }
    }
    assert!(
        worst.0 <= tol,
        "weights differ by up to {} at {}",
        worst.0,
        worst.1
    );
}

fn samples(run: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(run.join("samples.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["query"].to_string(), v["response"].to_string())
        })
        .collect()
}

/// Greedy decoding: with sampling, a last-bit difference in the logits flips a sampled token now
/// and then (the tiny random model's next-token distribution is nearly uniform over 50,257
/// tokens), and flex's AVX-512 GEMM, like libtorch's, rounds a 4-row and an 8-row batch
/// differently. Greedy responses keep the comparison about the exchange itself: gathered
/// rollouts, sharded forward and minibatches, summed gradients and global statistics. Sampled
/// 2-rank runs are compared with each other in the kill-and-resume test.
const GREEDY: [&str; 4] = [
    "--set",
    "output.sample_freq=1",
    "--set",
    "generation.do_sample=false",
];

#[test]
fn two_ranks_at_batch_8_equal_one_process_at_batch_8() {
    let tmp = tempfile::tempdir().unwrap();
    let one = train_args(tmp.path(), "one", 3, &GREEDY);
    let out = rlhf(&one.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let two = train_args(tmp.path(), "two", 3, &GREEDY);
    let out = run_mpi(2, tmp.path(), &two);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    assert_eq!(samples(&one), samples(&two), "the same responses");
    assert_eq!(samples(&one).len(), 3 * 8);
    let (a, b) = (metrics(&one), metrics(&two));
    assert_same_metrics(&a, &b, 1e-5);
    for step in &b {
        let spread = step["dist/weight_checksum_spread"].as_f64().unwrap();
        assert!(spread <= 1e-6, "the ranks' weights drifted apart: {spread}");
    }
    assert_same_weights(&one.join("final"), &two.join("final"), 1e-5);
    // Training moved the weights: the comparison is not between two untouched copies.
    let start = weights(&repo_root().join("tests/fixtures/models/tiny-gpt2"));
    let end = weights(&two.join("final"));
    let moved = start.iter().zip(&end).any(|((_, x), (_, y))| x != y);
    assert!(moved, "the weights did not change");
}

/// The pid of rank `rank` among the processes `mpirun` (pid `parent`) started.
fn rank_pid(parent: u32, rank: usize) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let environ = String::from_utf8_lossy(&environ);
        let is_rank = environ
            .split('\0')
            .any(|v| v == format!("OMPI_COMM_WORLD_RANK={rank}"));
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let is_rlhf = stat.contains("(rlhf)");
        if is_rank && is_rlhf && descends_from(pid, parent) {
            return Some(pid);
        }
    }
    None
}

fn descends_from(mut pid: u32, ancestor: u32) -> bool {
    for _ in 0..8 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or_default();
        let Some(ppid) = after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) else {
            return false;
        };
        if ppid == ancestor {
            return true;
        }
        pid = ppid;
    }
    false
}

#[test]
fn a_killed_rank_ends_the_job_and_resume_matches() {
    let tmp = tempfile::tempdir().unwrap();
    let full = train_args(tmp.path(), "full", 4, &[]);
    let out = run_mpi(2, tmp.path(), &full);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let args = train_args(tmp.path(), "cut", 4, &[]);
    let mut child = mpirun(2, tmp.path())
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = tmp.path().join("cut/checkpoints/step-000001");
    let started = Instant::now();
    while !first.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no first checkpoint"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = rank_pid(child.id(), 1).expect("rank 1 is running");
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // The job ends (no hang) with a failure.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the job did not end within 60 s of a rank's death");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "the job reported success: {stderr}");
    let done = metrics(&tmp.path().join("cut")).len();
    assert!(done < 4, "the run finished before the kill ({done} steps)");

    let mut resume = args.clone();
    resume.push("--resume".into());
    let out = run_mpi(2, tmp.path(), &resume);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (a, b) = (tmp.path().join("full"), tmp.path().join("cut"));
    assert_same_metrics(&metrics(&a), &metrics(&b), 0.0);
    assert_eq!(weights(&a.join("final")), weights(&b.join("final")));
}

#[test]
fn three_ranks_and_a_batch_of_8_are_refused_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let args = train_args(tmp.path(), "three", 1, &[]);
    let out = run_mpi(3, tmp.path(), &args);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("ppo.batch_size = 8 does not split into 3 equal shares"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!tmp.path().join("three").exists(), "work started");
}
