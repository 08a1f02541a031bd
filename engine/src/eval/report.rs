//! The evaluation's results: a table on the terminal, `eval.md` and `eval.csv`.

use std::fmt::Write as _;
use std::path::Path;

use crate::domain::Timestamp;
use crate::error::EngineError;

/// The header of `eval.csv`, one row per headline method.
pub const CSV_HEADER: &str =
    "method,recall_at_20,ndcg_at_20,ild,category_entropy,coverage,exposure_gini,calibration_kl";

/// What one method measured, averaged over the evaluated users (coverage and exposure
/// Gini are over all their lists together).
#[derive(Debug, Clone, PartialEq)]
pub struct MethodResult {
    /// `popularity`, `relevance`, `mmr`, `dpp` or `default`.
    pub method: String,
    /// λ of MMR, θ of DPP.
    pub param: Option<f64>,
    /// Whether the row is the method's row in `eval.csv` (the others are the sweep).
    pub headline: bool,
    pub recall_at_k: f64,
    pub ndcg_at_k: f64,
    pub ild: f64,
    /// Bits.
    pub category_entropy: f64,
    pub coverage: f64,
    pub exposure_gini: f64,
    /// Nats.
    pub calibration_kl: f64,
}

impl MethodResult {
    /// `mmr (λ=0.5)`, `dpp (θ=0.3)` or the bare name.
    pub fn label(&self) -> String {
        match (self.method.as_str(), self.param) {
            ("mmr", Some(p)) => format!("mmr (λ={p})"),
            ("dpp", Some(p)) => format!("dpp (θ={p})"),
            (m, _) => m.to_string(),
        }
    }
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    pub k: usize,
    pub users: usize,
    pub items: usize,
    pub train_events: usize,
    pub test_events: usize,
    /// The first held-out instant.
    pub split_at: Timestamp,
    /// The taste model's dimension, `None` when none could be learned.
    pub model_dim: Option<usize>,
    /// The headline rows and the λ/θ sweep.
    pub results: Vec<MethodResult>,
}

/// Whether the default pipeline keeps enough accuracy for its diversity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// Default Recall@k over relevance-only Recall@k.
    pub recall_ratio: f64,
    /// Default category entropy over relevance-only's, minus one.
    pub entropy_gain: f64,
}

impl Target {
    /// ≥ 95 % of the recall with ≥ 30 % more category entropy.
    pub fn met(&self) -> bool {
        self.recall_ratio >= 0.95 && self.entropy_gain >= 0.30
    }
}

impl EvalReport {
    /// The headline row of a method.
    pub fn headline(&self, method: &str) -> Option<&MethodResult> {
        self.results
            .iter()
            .find(|r| r.headline && r.method == method)
    }

    /// Default against relevance-only.
    pub fn target(&self) -> Option<Target> {
        let (d, r) = (self.headline("default")?, self.headline("relevance")?);
        Some(Target {
            recall_ratio: if r.recall_at_k > 0.0 {
                d.recall_at_k / r.recall_at_k
            } else {
                f64::NAN
            },
            entropy_gain: if r.category_entropy > 0.0 {
                d.category_entropy / r.category_entropy - 1.0
            } else {
                f64::NAN
            },
        })
    }

    /// `eval.csv`: the header and one row per headline method.
    pub fn to_csv(&self) -> String {
        let mut out = format!("{CSV_HEADER}\n");
        for r in self.results.iter().filter(|r| r.headline) {
            let _ = writeln!(
                out,
                "{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6}",
                r.method,
                r.recall_at_k,
                r.ndcg_at_k,
                r.ild,
                r.category_entropy,
                r.coverage,
                r.exposure_gini,
                r.calibration_kl
            );
        }
        out
    }

    /// A Markdown table of `rows`.
    fn table<'a>(&self, rows: impl Iterator<Item = &'a MethodResult>) -> String {
        let k = self.k;
        let mut out = format!(
            "| method | Recall@{k} | NDCG@{k} | ILD | category entropy (bits) | coverage | exposure Gini | calibration KL |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|\n"
        );
        for r in rows {
            let _ = writeln!(
                out,
                "| {} | {:.4} | {:.4} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
                r.label(),
                r.recall_at_k,
                r.ndcg_at_k,
                r.ild,
                r.category_entropy,
                r.coverage,
                r.exposure_gini,
                r.calibration_kl
            );
        }
        out
    }

    /// The terminal table: every row, sweep included.
    pub fn to_table(&self) -> String {
        self.table(self.results.iter())
    }

    /// `eval.md`: the split, the headline table, the sweep and the target check.
    pub fn to_markdown(&self, source: &str) -> String {
        let split = chrono::DateTime::from_timestamp(self.split_at, 0)
            .map(|d| d.to_rfc3339())
            .unwrap_or_else(|| self.split_at.to_string());
        let mut out = format!(
            "# Offline evaluation\n\n\
             Data: {source}. {} items; {} training events, {} held out (the latest by time, from {split}); \
             {} users evaluated (history before the split and a held-out booking). Taste model: {}.\n\n\
             ## Methods\n\n{}\n",
            self.items,
            self.train_events,
            self.test_events,
            self.users,
            self.model_dim
                .map_or("none (too little data)".into(), |d| format!("{d} dimensions")),
            self.table(self.results.iter().filter(|r| r.headline)),
        );
        let _ = write!(
            out,
            "`relevance` is the base score alone; `mmr` and `dpp` re-rank it (no page rules); \
             `default` is the shipped pipeline (its diversifier, exploration and page guarantees).\n\n\
             ## Sweep of λ (MMR) and θ (DPP)\n\n{}\n",
            self.table(self.results.iter().filter(|r| r.method == "mmr" || r.method == "dpp"))
        );
        if let Some(t) = self.target() {
            let _ = write!(
                out,
                "## Target\n\nThe default keeps {:.1} % of relevance-only Recall@{} with {:+.1} % category entropy: \
                 the target (≥ 95 % and ≥ +30 %) is **{}**.\n",
                t.recall_ratio * 100.0,
                self.k,
                t.entropy_gain * 100.0,
                if t.met() { "met" } else { "not met" }
            );
        }
        out
    }

    /// Writes `dir/eval.md` and `dir/eval.csv`, creating `dir`.
    pub fn write(&self, dir: &Path, source: &str) -> Result<(), EngineError> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("eval.csv"), self.to_csv())?;
        std::fs::write(dir.join("eval.md"), self.to_markdown(source))?;
        Ok(())
    }
}
