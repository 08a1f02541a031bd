//! Latency percentiles, throughput, memory and machine facts.

use std::time::Duration;

/// What a timed search returned: enough to compare engines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub total: i64,
    /// Offer ids of the first page, in order.
    pub page: Vec<i64>,
}

/// One family (or the whole mix) on one engine at one concurrency.
#[derive(Debug, Clone)]
pub struct Figures {
    pub queries: usize,
    pub wall: Duration,
    /// Sorted latencies.
    pub latencies: Vec<Duration>,
}

impl Figures {
    pub fn new(wall: Duration, mut latencies: Vec<Duration>) -> Figures {
        latencies.sort_unstable();
        Figures {
            queries: latencies.len(),
            wall,
            latencies,
        }
    }

    /// Several runs one after the other, as one.
    pub fn combine(parts: &[&Figures]) -> Figures {
        Figures::new(
            parts.iter().map(|f| f.wall).sum(),
            parts
                .iter()
                .flat_map(|f| f.latencies.iter().copied())
                .collect(),
        )
    }

    /// Latency at quantile `p`, in milliseconds (nearest rank).
    pub fn ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_secs_f64() * 1_000.0
    }

    pub fn qps(&self) -> f64 {
        self.queries as f64 / self.wall.as_secs_f64()
    }
}

/// A value of /proc/self/status in MiB (`VmHWM`: peak resident set; `VmRSS`: now).
pub fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix(key)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// "2 cores (AMD EPYC), 23.4 GiB RAM".
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0 / 1024.0);
    format!("{cores} cores ({cpu}), {mem_gib:.1} GiB RAM")
}

/// Ids in one sorted list and not the other.
pub fn symmetric_difference(a: &[i64], b: &[i64]) -> usize {
    let (mut i, mut j, mut diff) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => {
                diff += 1;
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                diff += 1;
                j += 1;
            }
        }
    }
    diff + (a.len() - i) + (b.len() - j)
}
