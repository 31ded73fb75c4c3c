//! Statistics of a review file and the prompts built from it (`rlhf data`).

use std::collections::BTreeMap;
use std::fmt;

use crate::{Prompt, Review};

/// Counts and length summaries.
#[derive(Debug, Clone, PartialEq)]
pub struct DataStats {
    /// Reviews in the file.
    pub rows: usize,
    /// Reviews per label.
    pub label_counts: BTreeMap<i64, usize>,
    /// Shortest, median and longest review, in characters.
    pub chars: [usize; 3],
    /// The length filter: reviews must be longer than this.
    pub min_text_chars: usize,
    /// Prompts built (reviews that passed the filter).
    pub prompts: usize,
    /// Prompt length in tokens -> number of prompts.
    pub prompt_lengths: BTreeMap<usize, usize>,
}

impl DataStats {
    /// Statistics of `reviews` and of the `prompts` built from them.
    pub fn compute(reviews: &[Review], prompts: &[Prompt], min_text_chars: usize) -> Self {
        let mut label_counts = BTreeMap::new();
        for review in reviews {
            *label_counts.entry(review.label).or_insert(0) += 1;
        }
        let mut lengths: Vec<usize> = reviews.iter().map(|r| r.text.chars().count()).collect();
        lengths.sort_unstable();
        let chars = match lengths.as_slice() {
            [] => [0; 3],
            l => [l[0], l[l.len() / 2], l[l.len() - 1]],
        };
        let mut prompt_lengths = BTreeMap::new();
        for prompt in prompts {
            *prompt_lengths.entry(prompt.input_ids.len()).or_insert(0) += 1;
        }
        DataStats {
            rows: reviews.len(),
            label_counts,
            chars,
            min_text_chars,
            prompts: prompts.len(),
            prompt_lengths,
        }
    }
}

impl fmt::Display for DataStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label_name = |l: i64| match l {
            0 => "negative (0)".to_string(),
            1 => "positive (1)".to_string(),
            other => format!("label {other}"),
        };
        writeln!(f, "reviews            {}", self.rows)?;
        for (label, count) in &self.label_counts {
            writeln!(f, "  {:<16} {count}", label_name(*label))?;
        }
        let [min, median, max] = self.chars;
        writeln!(
            f,
            "characters         min {min}, median {median}, max {max}"
        )?;
        let kept = format!("kept (> {} chars)", self.min_text_chars);
        writeln!(f, "{kept:<19}{}", self.prompts)?;
        writeln!(f, "prompt tokens      count")?;
        for (len, count) in &self.prompt_lengths {
            writeln!(f, "  {len:<16} {count}")?;
        }
        Ok(())
    }
}
