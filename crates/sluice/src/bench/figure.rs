//! A measured figure, its target and its same-run reference: how each is printed as one line
//! and written to the JSON file.

use serde_json::{Value, json};

/// Which side of the target is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// The value must not exceed the target (times, memory).
    AtMost,
    /// The value must reach the target (rates).
    AtLeast,
}

impl Comparison {
    /// The wire form in the JSON file.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::AtMost => "<=",
            Comparison::AtLeast => ">=",
        }
    }
}

/// What a figure should be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// The bound.
    pub value: f64,
    /// Which side of it is good.
    pub comparison: Comparison,
}

impl Target {
    /// At most `value`.
    pub fn at_most(value: f64) -> Option<Target> {
        Some(Target {
            value,
            comparison: Comparison::AtMost,
        })
    }

    /// At least `value`.
    pub fn at_least(value: f64) -> Option<Target> {
        Some(Target {
            value,
            comparison: Comparison::AtLeast,
        })
    }

    fn met_by(self, value: f64) -> bool {
        match self.comparison {
            Comparison::AtMost => value <= self.value,
            Comparison::AtLeast => value >= self.value,
        }
    }
}

/// A figure measured in the same run on the same machine, printed beside a timing figure so
/// that the ratio holds on a noisy machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: f64,
    /// Its unit.
    pub unit: String,
}

/// One measured figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Stable name (`task_overhead_p50`).
    pub name: String,
    /// The measured value.
    pub value: f64,
    /// Its unit (`ms`, `1/s`, `MiB`, ...).
    pub unit: String,
    /// The target, if the issue sets one (some figures are only reported).
    pub target: Option<Target>,
    /// The reference measured beside it.
    pub reference: Option<Reference>,
}

impl Figure {
    /// A figure without a reference.
    pub fn new(name: &str, value: f64, unit: &str, target: Option<Target>) -> Figure {
        Figure {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            target,
            reference: None,
        }
    }

    /// The same figure with a reference.
    pub fn beside(mut self, name: &str, value: f64, unit: &str) -> Figure {
        self.reference = Some(Reference {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
        });
        self
    }

    /// Whether the target is met (a figure without target is always ok).
    pub fn ok(&self) -> bool {
        self.target.is_none_or(|t| t.met_by(self.value))
    }

    /// Value divided by the reference's value.
    pub fn ratio(&self) -> Option<f64> {
        let r = self.reference.as_ref()?;
        (r.value != 0.0 && r.value.is_finite()).then(|| self.value / r.value)
    }

    /// The printed line: `name value unit target ok|short  (reference: name value unit, ratio)`.
    pub fn line(&self) -> String {
        let target = match self.target {
            Some(t) => format!("{}{}", t.comparison.as_str(), number(t.value)),
            None => "-".to_owned(),
        };
        let mut line = format!(
            "{:<38} {:>12} {:<5} {:>9} {}",
            self.name,
            number(self.value),
            self.unit,
            target,
            if self.ok() { "ok" } else { "short" }
        );
        if let Some(r) = &self.reference {
            let ratio = self
                .ratio()
                .map_or_else(|| "-".to_owned(), |x| format!("{x:.2}x"));
            line.push_str(&format!(
                "  (reference: {} {} {}, ratio {ratio})",
                r.name,
                number(r.value),
                r.unit
            ));
        }
        line
    }

    /// The JSON object of the figure.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "value": finite(self.value),
            "unit": self.unit,
            "target": self.target.map(|t| finite(t.value)),
            "comparison": self.target.map(|t| t.comparison.as_str()),
            "ok": self.ok(),
            "reference": self.reference.as_ref().map(|r| json!({
                "name": r.name,
                "value": finite(r.value),
                "unit": r.unit,
            })),
            "ratio": self.ratio().map(finite),
        })
    }
}

/// A number with about four significant digits, without exponent.
fn number(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() {
        format!("{x}")
    } else if a >= 1000.0 || a == a.trunc() {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// JSON has no NaN or infinity: they become `null`.
fn finite(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// Latency samples in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<f64>);

impl Samples {
    /// Adds one sample.
    pub fn push_ms(&mut self, ms: f64) {
        self.0.push(ms);
    }

    /// Adds all samples of `other`.
    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// Adds the time since `start`.
    pub fn push_since(&mut self, start: std::time::Instant) {
        self.0.push(start.elapsed().as_secs_f64() * 1000.0);
    }

    /// The `p` quantile (0..=1), nearest rank; NaN without samples.
    pub fn quantile(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        let i = ((sorted.len() - 1) as f64 * p).round() as usize;
        sorted[i.min(sorted.len() - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_json_say_ok_or_short_with_the_ratio() {
        let f = Figure::new("task_overhead_p50", 1.5, "ms", Target::at_most(1.0)).beside(
            "in_process_overhead_p50",
            0.5,
            "ms",
        );
        assert!(!f.ok());
        let line = f.line();
        assert!(line.starts_with("task_overhead_p50 "), "{line}");
        assert!(line.contains(" <=1 short"), "{line}");
        assert!(line.ends_with("(reference: in_process_overhead_p50 0.500 ms, ratio 3.00x)"));
        let j = f.to_json();
        assert_eq!(j["comparison"], "<=");
        assert_eq!(j["ok"], false);
        assert_eq!(j["ratio"], 3.0);
        assert_eq!(j["reference"]["name"], "in_process_overhead_p50");

        let rate = Figure::new("rate", 2500.0, "1/s", Target::at_least(2000.0));
        assert!(rate.ok());
        assert!(rate.line().contains(" >=2000 ok"));
        assert_eq!(rate.to_json()["reference"], Value::Null);
        let reported = Figure::new("binary_size", f64::NAN, "MiB", None);
        assert!(reported.ok());
        assert_eq!(reported.to_json()["value"], Value::Null);
        assert_eq!(reported.to_json()["target"], Value::Null);
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let mut s = Samples::default();
        assert!(s.quantile(0.5).is_nan());
        for x in [5.0, 1.0, 3.0, 2.0, 4.0] {
            s.push_ms(x);
        }
        assert_eq!(s.quantile(0.5), 3.0);
        assert_eq!(s.quantile(0.99), 5.0);
        assert_eq!(s.quantile(0.0), 1.0);
    }
}
