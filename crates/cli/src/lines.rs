//! Line-by-line input of `generate` and `score`: a bad line (not UTF-8, or one the command
//! cannot process, such as a prompt too long for the model) is reported with its number and
//! skipped, and the remaining lines are still processed. The command fails at the end when any
//! line was skipped, so scripts notice.

use std::io::BufRead;

use anyhow::{Context, bail};

/// What happened to the lines of one input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LineReport {
    /// Non-blank lines read.
    pub lines: usize,
    /// Lines reported and skipped.
    pub skipped: usize,
}

impl LineReport {
    /// An error when any line was skipped.
    pub fn finish(self) -> anyhow::Result<()> {
        if self.skipped > 0 {
            bail!(
                "{} of {} input lines were skipped (see the messages above)",
                self.skipped,
                self.lines
            );
        }
        Ok(())
    }
}

/// Calls `each(number, line)` for every non-blank line of `input` (numbers from 1). A line that
/// is not UTF-8, or for which `each` fails, is reported on stderr and skipped. Only a failure to
/// read `input` itself stops early.
pub fn for_each_line(
    input: impl BufRead,
    mut each: impl FnMut(usize, &str) -> anyhow::Result<()>,
) -> anyhow::Result<LineReport> {
    let mut report = LineReport::default();
    for (index, bytes) in input.split(b'\n').enumerate() {
        let number = index + 1;
        let bytes = bytes.context("cannot read the input")?;
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(&bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        report.lines += 1;
        let outcome = std::str::from_utf8(bytes)
            .map_err(|e| anyhow::anyhow!("not UTF-8 ({e})"))
            .and_then(|line| each(number, line));
        if let Err(e) = outcome {
            eprintln!("line {number}: {e:#}; skipped");
            report.skipped += 1;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use super::*;

    #[test]
    fn bad_lines_are_skipped_and_counted() {
        let input: &[u8] = b"first\n\xff\xfe\n\n  \nfail\r\nlast";
        let mut seen = Vec::new();
        let report = for_each_line(input, |n, line| {
            if line == "fail" {
                bail!("no");
            }
            seen.push((n, line.to_string()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [(1, "first".to_string()), (6, "last".to_string())]);
        assert_eq!(
            report,
            LineReport {
                lines: 4,
                skipped: 2
            }
        );
        assert!(report.finish().is_err());
    }
}
