//! The FLOP-floor part of `cargo xtask bench`: each side's measured f32 GEMM rate, and each PPO
//! step's matrix FLOPs (counted by `rlhf bench`; TRL does the same work) against its time, so a
//! step reads as "x times its floor" (time / (FLOPs / GEMM rate)).

use serde_json::{Value, json};

use crate::bench::{find, name, num};

/// Prints the GEMM rates and the floor table; returns them for `report.json`.
pub fn print(
    ours_gemm: &[Value],
    torch_gemm: Option<&Value>,
    ours: &[Value],
    reference: &[Value],
) -> Value {
    println!("\nf32 GEMM, [2048, 2048] x [2048, 2048] (GFLOP/s, median of 5)");
    for g in ours_gemm.iter().chain(torch_gemm) {
        println!(
            "{:>22} {:>10} on {} threads",
            name(g),
            num(g["gflops"].as_f64()),
            g["threads"]
        );
    }
    let torch_rate = torch_gemm.and_then(|g| g["gflops"].as_f64());
    println!(
        "\nPPO step against its floor (matrix FLOPs / GEMM rate; element-wise work not counted)"
    );
    println!(
        "{:>6} {:>22} {:>9} {:>9} {:>10} {:>10} {:>9}",
        "batch", "impl", "TFLOP", "total s", "GFLOP/s", "floor s", "x floor"
    );
    let mut rows = Vec::new();
    let mut reference_shown = Vec::new();
    for o in ours {
        let b = o["batch"].as_u64().unwrap_or(0);
        // The reference's row once per batch, however many of ours share that batch.
        let reference = match reference_shown.contains(&b) {
            true => None,
            false => find(reference, b),
        };
        reference_shown.push(b);
        let flops = o["flops"]["total"].as_f64();
        let rate = ours_gemm
            .iter()
            .find(|g| g["impl"] == o["impl"])
            .and_then(|g| g["gflops"].as_f64());
        let sides = [(Some(o), rate), (reference, torch_rate)];
        for (side, rate) in sides {
            let Some(side) = side else { continue };
            let total = side["seconds"]["total"].as_f64();
            let achieved = flops.zip(total).map(|(f, t)| f / t / 1e9);
            let floor = flops.zip(rate).map(|(f, r)| f / (r * 1e9));
            let times = total.zip(floor).map(|(t, f)| t / f);
            println!(
                "{b:>6} {:>22} {:>9} {:>9} {:>10} {:>10} {:>9}",
                name(side),
                num(flops.map(|f| f / 1e12)),
                num(total),
                num(achieved),
                num(floor),
                num(times)
            );
            rows.push(
                json!({"batch": b, "impl": name(side), "flops": flops, "seconds": total,
                "gflops_per_s": achieved, "gemm_gflops": rate, "floor_seconds": floor,
                "times_floor": times}),
            );
        }
    }
    json!({"gemm": ours_gemm.iter().chain(torch_gemm).collect::<Vec<_>>(), "floor": rows})
}
