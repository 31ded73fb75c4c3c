//! `rlhf bench --gemm-shapes`: the backend's f32 GEMM rate at the shapes a PPO step multiplies
//! (tests/reference/gemm_shapes.json), beside the square peak. tests/reference/bench_gemm.py
//! --shapes measures torch on the same list, so `cargo xtask bench --gemm-shapes` can show
//! which products fall behind on a CPU, and by how much.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use burn::tensor::{Device, Distribution, Tensor};
use serde_json::{Value, json};

/// One product: `a · b` of `[m, k] × [k, n]`, each operand read directly (`n`) or through a
/// transposed view of a stored `[k, m]` / `[n, k]` tensor (`t`).
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// What it is in the step (e.g. `gpt2 lm_head dW`).
    pub name: String,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// `a` is read through a transposed view.
    pub a_t: bool,
    /// `b` is read through a transposed view.
    pub b_t: bool,
}

/// The shapes listed in a `{"shapes": [{"name", "m", "k", "n", "op"}]}` file.
pub fn read_shapes(path: &Path) -> anyhow::Result<Vec<Shape>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the GEMM shapes `{}`", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("`{}` is not JSON", path.display()))?;
    let list = value["shapes"]
        .as_array()
        .with_context(|| format!("`{}` has no \"shapes\" list", path.display()))?;
    let shapes = list
        .iter()
        .enumerate()
        .map(|(i, s)| parse_shape(s).with_context(|| format!("`{}`: shape {i}", path.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    ensure!(!shapes.is_empty(), "`{}` lists no shapes", path.display());
    Ok(shapes)
}

fn parse_shape(s: &Value) -> anyhow::Result<Shape> {
    let dim = |key: &str| -> anyhow::Result<usize> {
        let v = s[key]
            .as_u64()
            .with_context(|| format!("\"{key}\" must be a positive integer"))?;
        ensure!(v > 0, "\"{key}\" must be a positive integer, not 0");
        Ok(v as usize)
    };
    let (a_t, b_t) = match s["op"].as_str().unwrap_or("nn") {
        "nn" => (false, false),
        "nt" => (false, true),
        "tn" => (true, false),
        "tt" => (true, true),
        other => bail!("\"op\" is `{other}`; use nn, nt, tn or tt"),
    };
    Ok(Shape {
        name: s["name"].as_str().unwrap_or("?").to_string(),
        m: dim("m")?,
        k: dim("k")?,
        n: dim("n")?,
        a_t,
        b_t,
    })
}

/// Median GFLOP/s of `shape`'s product on `device`, over `repeats` timed runs after one
/// warm-up, through `models::fused::matmul` (the path of the step's linear products: direct
/// gemm calls on flex, burn's matmul elsewhere).
pub fn shape_gflops(device: &Device, shape: &Shape, repeats: usize) -> f64 {
    let operand = |rows: usize, cols: usize, transposed: bool| -> Tensor<2> {
        if transposed {
            Tensor::<2>::random([cols, rows], Distribution::Default, device).transpose()
        } else {
            Tensor::<2>::random([rows, cols], Distribution::Default, device)
        }
    };
    let a = operand(shape.m, shape.k, shape.a_t);
    let b = operand(shape.k, shape.n, shape.b_t);
    let mut times = Vec::new();
    for i in 0..=repeats {
        let start = Instant::now();
        // Reading one number back waits for the product on asynchronous backends.
        let _ = models::fused::matmul(a.clone(), b.clone())
            .slice([0..1, 0..1])
            .into_scalar::<f32>();
        if i > 0 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    let flops = 2.0 * (shape.m * shape.k * shape.n) as f64;
    flops / times[times.len() / 2] / 1e9
}

/// One JSON line per shape in `path`, measured on `device` and labelled `label`.
pub fn measure(device: &Device, path: &Path, label: &str) -> anyhow::Result<Vec<Value>> {
    let shapes = read_shapes(path)?;
    Ok(shapes
        .iter()
        .map(|s| {
            json!({
                "kind": "gemm_shape",
                "impl": label,
                "name": s.name,
                "m": s.m,
                "k": s.k,
                "n": s.n,
                "op": format!("{}{}", if s.a_t { 't' } else { 'n' }, if s.b_t { 't' } else { 'n' }),
                "gflops": shape_gflops(device, s, 5),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_parses_and_bad_entries_name_the_field() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference");
        let shapes = read_shapes(&root.join("gemm_shapes.json")).unwrap();
        assert!(
            shapes
                .iter()
                .any(|s| s.name == "gpt2 lm_head dW" && s.a_t && !s.b_t)
        );
        let bad = parse_shape(&json!({"m": 2, "k": 0, "n": 2})).unwrap_err();
        assert!(format!("{bad:#}").contains("\"k\""), "{bad:#}");
        let bad = parse_shape(&json!({"m": 2, "k": 2, "n": 2, "op": "xx"})).unwrap_err();
        assert!(format!("{bad:#}").contains("nn, nt, tn or tt"), "{bad:#}");
    }

    #[test]
    fn every_layout_is_timed() {
        let device = crate::device::select(config::DeviceSpec::Flex).unwrap();
        for (a_t, b_t) in [(false, false), (false, true), (true, false), (true, true)] {
            let shape = Shape {
                name: "tiny".into(),
                m: 8,
                k: 16,
                n: 4,
                a_t,
                b_t,
            };
            let gflops = shape_gflops(&device, &shape, 1);
            assert!(gflops.is_finite() && gflops > 0.0, "{gflops}");
        }
    }
}
