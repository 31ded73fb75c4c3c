//! Learning-rate schedules shared by the supervised trainers.

/// Linear warm-up from 0 to `peak` over `warmup` steps, then linear decay to 0 at `total`
/// (transformers' `get_linear_schedule_with_warmup`); `step` is 1-based.
pub fn warmup_linear_decay(peak: f64, step: usize, total: usize, warmup: f64) -> f64 {
    let (s, total, warmup) = (step as f64, total as f64, warmup.max(1.0));
    if s <= warmup {
        peak * s / warmup
    } else {
        peak * ((total - s) / (total - warmup).max(1.0)).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::warmup_linear_decay;

    #[test]
    fn rises_then_falls_to_zero() {
        assert_eq!(warmup_linear_decay(1.0, 1, 100, 10.0), 0.1);
        assert_eq!(warmup_linear_decay(1.0, 10, 100, 10.0), 1.0);
        assert!((warmup_linear_decay(1.0, 55, 100, 10.0) - 0.5).abs() < 1e-12);
        assert_eq!(warmup_linear_decay(1.0, 100, 100, 10.0), 0.0);
    }
}
