//! The GEMM-shape part of `cargo xtask bench --gemm-shapes`: each side's f32 GEMM rate at the
//! products a PPO step at batch 16 does (tests/reference/gemm_shapes.json), so a CPU on which a
//! step falls behind shows which products do.

use serde_json::{Value, json};

use crate::bench::{name, num, ratio};

/// The shape list, relative to the repository root (both sides run there).
pub const SHAPES: &str = "tests/reference/gemm_shapes.json";

/// Prints one row per shape: our rate on each measured implementation, torch's, and the
/// ratio; returns the rows for `report.json` (empty when nothing was measured).
pub fn print(ours: &[Value], torch: &[Value]) -> Value {
    if ours.is_empty() && torch.is_empty() {
        return json!([]);
    }
    println!("\nf32 GEMM at the PPO step's shapes (GFLOP/s, median of 5; op: t = transposed view)");
    println!(
        "{:>22} {:>2} {:>6} {:>6} {:>6} {:>22} {:>8} {:>8} {:>9}",
        "product", "op", "m", "k", "n", "impl", "ours", "torch", "ours/ref"
    );
    let mut rows = Vec::new();
    for o in ours {
        let same = |t: &&Value| t["name"] == o["name"] && t["op"] == o["op"];
        let t = torch.iter().find(same);
        let (x, y) = (o["gflops"].as_f64(), t.and_then(|t| t["gflops"].as_f64()));
        println!(
            "{:>22} {:>2} {:>6} {:>6} {:>6} {:>22} {:>8} {:>8} {:>9}",
            o["name"].as_str().unwrap_or("?"),
            o["op"].as_str().unwrap_or("?"),
            o["m"].as_u64().unwrap_or(0),
            o["k"].as_u64().unwrap_or(0),
            o["n"].as_u64().unwrap_or(0),
            name(o),
            num(x),
            num(y),
            ratio(x, y)
        );
        rows.push(json!({"ours": o, "reference": t}));
    }
    Value::Array(rows)
}
