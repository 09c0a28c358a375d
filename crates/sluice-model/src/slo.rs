//! The SLO file (`slo.yaml`): typed model, Keptn's parse-time defaults, and criteria parsed once.
//!
//! Decoding follows what Keptn 1.4.5's lighthouse did (`go-utils` `ServiceLevelObjectives`,
//! decoded with `gopkg.in/yaml.v3`, then `parseSLO` defaults), so a file Keptn accepted parses
//! without errors here and a file Keptn rejected (or whose evaluation Keptn failed) gets an error.
//!
//! Decisions where Keptn's docs and code disagree (the code is followed):
//! - `number_of_comparison_results` defaults to **3** when a `comparison` block exists (docs: 1);
//!   with no block at all the defaults are `{single_result, all, 1, avg}`. An empty mapping
//!   (`comparison: {}`) is a present block: `compare_with` is then empty, which Keptn treats
//!   as "neither single nor several", i.e. 3 previous results.
//! - Criteria: only ASCII spaces are removed (Go `strings.Replace(c, " ", "", -1)`), the
//!   criterion must start with one of `<`, `|`, `=`, `>` (what the regex's character class
//!   really checks), the operator is the first of `<=`, `<`, `=`, `>=`, `>` that prefixes it,
//!   one trailing `%` makes it relative (increase unless a `-` sign follows the operator), one
//!   leading `+`/`-` makes it relative, and the rest must be a Go `ParseFloat` number (so `=`
//!   works, `<10%` is a relative increase, `<=` alone, `<=+` and `<10%abc` are invalid).
//! - An unparsable pass criterion is an error (Keptn failed the evaluation); an unparsable
//!   warning criterion is a warning (Keptn then dropped all warning targets of the objective
//!   and never gave it a warning: `evaluateOrCombinedCriteria`). Both are kept in
//!   the model as [`CriterionSpec`]s with an `Err` so the engine can reproduce Keptn.
//! - `total_score` values are parsed like Keptn: one trailing `%` removed, then Go
//!   `ParseFloat` (`"90 %"`, `"75%%"` and `"bla"` are invalid).
//!
//! sluice extensions (Keptn's decoder ignored unknown keys, so Keptn would have read such a
//! file as if they were not there, and `compare_with: baseline` as "3 previous results"):
//! - `objectives[].statistical`: a [`Statistical`] criterion, checked strictly (unknown keys,
//!   wrong types and out-of-range values are errors with their position);
//! - `objectives[].on_missing`: [`OnMissing`];
//! - `comparison.compare_with: baseline`: [`CompareWith::Baseline`];
//! - `groups` and `objectives[].group`: [`ScoreGroup`], Kayenta's weighted metric groups.
//!
//! A file without them parses to exactly what it did before (`statistical` and `on_missing`
//! are `None`).

use std::fmt;

use crate::Parsed;
use crate::diagnostic::{Diagnostics, FieldPath, Severity};
use crate::wire::wire_enum;
use crate::yaml::{self, MapReader, Node};

/// A parsed `slo.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    /// `spec_version` as written (not checked by Keptn; `0.1.x` and `1.0` are common).
    pub spec_version: String,
    /// `filter`: custom filters handed to the SLI provider, in file order.
    pub filter: Vec<(String, String)>,
    /// The comparison settings after Keptn's defaults.
    pub comparison: Comparison,
    /// Objectives in file order (null entries dropped, weights defaulted).
    pub objectives: Vec<Objective>,
    /// `total_score`, if present.
    pub total_score: Option<TotalScore>,
    /// `groups` (sluice extension): when present, the total score is the weighted mean of
    /// the groups' scores instead of one sum over all objectives (Kayenta's metric groups).
    pub groups: Vec<ScoreGroup>,
}

/// A group of objectives scored together (`groups: {NAME: WEIGHT, …}`, sluice extension after
/// Kayenta's judge): the group's score is the percentage its objectives reach of their
/// weights, as Keptn scores a whole SLO; the total is the mean of the groups' scores weighted
/// by the groups' weights, over the groups that have objectives that count.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreGroup {
    /// The name objectives give in `group`.
    pub name: String,
    /// Its weight (a whole number of at least 1).
    pub weight: i64,
}

/// How previous evaluations are selected and aggregated for relative criteria.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// `compare_with`.
    pub compare_with: CompareWith,
    /// `include_result_with_score`.
    pub include_result_with_score: IncludeResults,
    /// `number_of_comparison_results` after defaulting (0 → 3 in a present block).
    pub number_of_comparison_results: i64,
    /// `aggregate_function`.
    pub aggregate_function: AggregateFunction,
}

impl Default for Comparison {
    /// Keptn's defaults when the SLO has no `comparison` block.
    fn default() -> Self {
        Comparison {
            compare_with: CompareWith::SingleResult,
            include_result_with_score: IncludeResults::All,
            number_of_comparison_results: 1,
            aggregate_function: AggregateFunction::Avg,
        }
    }
}

impl Comparison {
    /// How many previous evaluations Keptn asks for: 1 for `single_result`,
    /// `number_of_comparison_results` for `several_results`, 3 otherwise; 1 (the pinned
    /// baseline) for sluice's `baseline`.
    pub fn previous_results_wanted(&self) -> i64 {
        match self.compare_with {
            CompareWith::SingleResult | CompareWith::Baseline => 1,
            CompareWith::SeveralResults => self.number_of_comparison_results,
            CompareWith::Other(_) => 3,
        }
    }
}

wire_enum!(
    /// `compare_with`. Keptn compared exactly; anything else meant 3 previous results.
    CompareWith {
        /// `single_result`: one previous evaluation.
        SingleResult = "single_result",
        /// `several_results`: `number_of_comparison_results` previous evaluations.
        SeveralResults = "several_results",
        /// `baseline` (sluice extension): the pinned baseline evaluation of the stage and
        /// service, which the caller passes as the only previous evaluation. Keptn read it as
        /// an unknown value and compared with 3 previous results.
        Baseline = "baseline",
    }
);

wire_enum!(
    /// `include_result_with_score` (compared lower-cased; anything else means all).
    IncludeResults {
        /// Previous evaluations of any result.
        All = "all",
        /// Only previous evaluations with result pass.
        Pass = "pass",
        /// Previous evaluations with result pass or warning.
        PassOrWarn = "pass_or_warn",
    }
);

wire_enum!(
    /// `aggregate_function` applied to previous values (anything else aggregates to 0).
    AggregateFunction {
        /// Mean.
        Avg = "avg",
        /// 50th percentile.
        P50 = "p50",
        /// 90th percentile.
        P90 = "p90",
        /// 95th percentile.
        P95 = "p95",
    }
);

impl IncludeResults {
    /// Keptn lower-cases this value before using it.
    fn from_keptn(s: &str) -> Self {
        match s.to_lowercase().as_str() {
            "all" => IncludeResults::All,
            "pass" => IncludeResults::Pass,
            "pass_or_warn" => IncludeResults::PassOrWarn,
            _ => IncludeResults::Other(s.to_owned()),
        }
    }
}

/// One objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    /// The SLI name (empty if missing, as in Keptn).
    pub sli: String,
    /// `displayName` (may be empty).
    pub display_name: String,
    /// Pass criteria: OR over sets, AND inside a set. Empty = informational objective.
    pub pass: Vec<CriteriaSet>,
    /// Warning criteria, same shape.
    pub warning: Vec<CriteriaSet>,
    /// Weight after Go truncation and Keptn's 0 → 1 default.
    pub weight: i64,
    /// `key_sli`.
    pub key_sli: bool,
    /// `statistical` (sluice extension): a test of the current samples against the
    /// baseline's, an extra pass criterion.
    pub statistical: Option<Statistical>,
    /// `on_missing` (sluice extension): what a missing value or missing samples mean;
    /// `None` is Keptn's behaviour (the objective fails).
    pub on_missing: Option<OnMissing>,
    /// `group` (sluice extension): the [`ScoreGroup`] it is scored in.
    pub group: Option<String>,
}

/// A statistical criterion (sluice extension, `objectives[].statistical`): the samples of the
/// current evaluation are compared with the baseline's by a two-sample test; the objective's
/// pass criteria hold only when the test finds no bad change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Statistical {
    /// `test`: the only test is `mann-whitney`.
    pub test: StatisticalTest,
    /// `direction`: which change is bad (default `increase`).
    pub direction: Direction,
    /// `alpha`: the significance level, in (0, 0.5] (default 0.05).
    pub alpha: f64,
    /// `effect_size`: a significant change fails only when the effect (a ratio, current over
    /// baseline) is beyond this factor (≥ 1) in the bad direction; `None` = any significant
    /// change fails.
    pub effect_size: Option<f64>,
    /// `effect_measure`: the ratio compared with `effect_size` (default `median_ratio`).
    pub effect_measure: EffectMeasure,
    /// `outliers`: whether values far outside the interquartile range are removed first.
    pub outliers: Outliers,
    /// `min_samples`: fewer values than this on either side (after NaNs and outliers are
    /// removed) mean "no data" (default 3).
    pub min_samples: usize,
}

impl Statistical {
    /// Default significance level.
    pub const DEFAULT_ALPHA: f64 = 0.05;
    /// Default minimum sample size per side.
    pub const DEFAULT_MIN_SAMPLES: usize = 3;

    /// The criterion as one line for evaluation results and explanations, e.g.
    /// `mann-whitney increase alpha=0.05 effect_size=1.2 (median_ratio)`.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{} {} alpha={}",
            self.test.as_str(),
            self.direction.as_str(),
            self.alpha
        );
        if let Some(e) = self.effect_size {
            out.push_str(&format!(
                " effect_size={e} ({})",
                self.effect_measure.as_str()
            ));
        }
        if self.outliers == Outliers::Remove {
            out.push_str(" outliers=remove");
        }
        out
    }
}

impl Default for Statistical {
    fn default() -> Self {
        Statistical {
            test: StatisticalTest::MannWhitney,
            direction: Direction::Increase,
            alpha: Self::DEFAULT_ALPHA,
            effect_size: None,
            effect_measure: EffectMeasure::MedianRatio,
            outliers: Outliers::Keep,
            min_samples: Self::DEFAULT_MIN_SAMPLES,
        }
    }
}

/// Declares a closed, sluice-only enum with its YAML words.
macro_rules! closed_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $wire:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $variant,)*
        }

        impl $name {
            /// The YAML words, in declaration order.
            pub const KNOWN: &'static [&'static str] = &[$($wire),*];

            /// The YAML word.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)*
                }
            }

            /// Reads the YAML word.
            pub fn from_word(word: &str) -> Option<Self> {
                match word {
                    $($wire => Some($name::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

closed_enum!(
    /// `statistical.test`.
    StatisticalTest {
        /// The Mann-Whitney U test (Wilcoxon rank-sum), SciPy's `mannwhitneyu`.
        MannWhitney = "mann-whitney",
    }
);

closed_enum!(
    /// `statistical.direction`: which change of the current samples against the baseline is
    /// bad.
    Direction {
        /// Larger values are worse (latency, error rate): one-sided test.
        Increase = "increase",
        /// Smaller values are worse (throughput, hit rate): one-sided test.
        Decrease = "decrease",
        /// Any change is bad: two-sided test.
        Either = "either",
    }
);

closed_enum!(
    /// `statistical.effect_measure`.
    EffectMeasure {
        /// Median of the current samples over the baseline's.
        MedianRatio = "median_ratio",
        /// Mean of the current samples over the baseline's (Kayenta's `meanRatio`).
        MeanRatio = "mean_ratio",
    }
);

closed_enum!(
    /// `statistical.outliers`.
    Outliers {
        /// Use every value.
        Keep = "keep",
        /// Remove values outside Kayenta's fences (3 × IQR, at least the 1st and 99th
        /// percentiles) on each side first.
        Remove = "remove",
    }
);

closed_enum!(
    /// `objectives[].on_missing` (sluice extension): what happens when the SLI value (for
    /// pass criteria) or the samples (for a statistical criterion) are missing.
    OnMissing {
        /// The objective fails, and a key SLI fails the gate (Keptn's behaviour).
        Fail = "fail",
        /// The objective gets a warning (half its weight) and does not fail the gate.
        Warn = "warn",
        /// What is missing is not checked; an objective with nothing left to check is
        /// informational and does not count toward the score.
        Ignore = "ignore",
    }
);

impl Objective {
    /// The name Keptn shows for the objective: the display name, or the SLI name.
    pub fn name(&self) -> &str {
        if self.display_name.is_empty() {
            &self.sli
        } else {
            &self.display_name
        }
    }
}

/// One `- criteria: [...]` item: all criteria must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct CriteriaSet {
    /// The criteria, in file order.
    pub criteria: Vec<CriterionSpec>,
}

/// A criterion as written plus its parse.
#[derive(Debug, Clone, PartialEq)]
pub struct CriterionSpec {
    /// The original string (reported verbatim in evaluation results).
    pub text: String,
    /// The parsed criterion, or why Keptn could not parse it.
    pub parsed: Result<Criterion, CriterionError>,
}

impl CriterionSpec {
    /// Parses a criterion string.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let parsed = Criterion::parse(&text);
        CriterionSpec { text, parsed }
    }
}

/// Comparison operator of a criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `=`
    Eq,
    /// `>=`
    Ge,
    /// `>`
    Gt,
}

impl Operator {
    /// The operator's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Eq => "=",
            Operator::Ge => ">=",
            Operator::Gt => ">",
        }
    }

    /// Whether `measured <op> target` holds (IEEE semantics, as in Go).
    pub fn holds(self, measured: f64, target: f64) -> bool {
        match self {
            Operator::Lt => measured < target,
            Operator::Le => measured <= target,
            Operator::Eq => measured == target,
            Operator::Ge => measured >= target,
            Operator::Gt => measured > target,
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed criterion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Criterion {
    /// Fixed threshold: `measured <op> value`.
    Absolute {
        /// Operator.
        op: Operator,
        /// Threshold.
        value: f64,
    },
    /// Relative to the aggregate `A` of previous values: target `A*(100±change)/100`
    /// (`percent`) or `A±change`.
    Relative {
        /// Operator.
        op: Operator,
        /// The change amount as written (may be negative or NaN, as Go allowed).
        change: f64,
        /// Whether `change` is a percentage.
        percent: bool,
        /// Increase (`+` or bare `%`) or decrease (`-`).
        increase: bool,
    },
}

/// Why a criterion string is not a valid Keptn criterion (Keptn's two error texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CriterionError {
    /// It does not start with a comparison operator.
    #[error("invalid criteria string")]
    InvalidString,
    /// The number after the operator could not be parsed.
    #[error("could not parse criteria target value")]
    InvalidValue,
}

impl Criterion {
    /// Parses a criterion exactly as Keptn's `parseCriteriaString` did.
    pub fn parse(text: &str) -> Result<Criterion, CriterionError> {
        let squeezed: String = text.chars().filter(|c| *c != ' ').collect();
        // The regex `^([<|<=|=|>|>=]{1,2})...` only requires the first character to be in
        // the class `[<|=>]`; every other group may match empty.
        if !matches!(squeezed.as_bytes().first(), Some(b'<' | b'|' | b'=' | b'>')) {
            return Err(CriterionError::InvalidString);
        }
        let mut rest = squeezed.as_str();
        let mut op = None;
        for (lit, o) in [
            ("<=", Operator::Le),
            ("<", Operator::Lt),
            ("=", Operator::Eq),
            (">=", Operator::Ge),
            (">", Operator::Gt),
        ] {
            if let Some(r) = rest.strip_prefix(lit) {
                op = Some(o);
                rest = r;
                break;
            }
        }
        let mut percent = false;
        let mut relative = false;
        let mut increase = false;
        if let Some(r) = rest.strip_suffix('%') {
            percent = true;
            relative = true;
            increase = true;
            rest = r;
        }
        if let Some(r) = rest.strip_prefix('-') {
            relative = true;
            increase = false;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('+') {
            relative = true;
            increase = true;
            rest = r;
        }
        let value = go_parse_float(rest).ok_or(CriterionError::InvalidValue)?;
        // Only `|` can leave the operator unset, and no number starts with `|`.
        let op = op.ok_or(CriterionError::InvalidValue)?;
        Ok(if relative {
            Criterion::Relative {
                op,
                change: value,
                percent,
                increase,
            }
        } else {
            Criterion::Absolute { op, value }
        })
    }

    /// The operator.
    pub fn op(&self) -> Operator {
        match self {
            Criterion::Absolute { op, .. } | Criterion::Relative { op, .. } => *op,
        }
    }

    /// The target value for an aggregate of previous values (`aggregate` is ignored by
    /// absolute criteria), computed exactly as Keptn did.
    pub fn target(&self, aggregate: f64) -> f64 {
        match *self {
            Criterion::Absolute { value, .. } => value,
            Criterion::Relative {
                change,
                percent: true,
                increase: true,
                ..
            } => (aggregate * (100.0 + change)) / 100.0,
            Criterion::Relative {
                change,
                percent: true,
                increase: false,
                ..
            } => (aggregate * (100.0 - change)) / 100.0,
            Criterion::Relative {
                change,
                percent: false,
                increase: true,
                ..
            } => aggregate + change,
            Criterion::Relative {
                change,
                percent: false,
                increase: false,
                ..
            } => aggregate - change,
        }
    }
}

impl fmt::Display for Criterion {
    /// A canonical form that parses back to the same criterion.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Criterion::Absolute { op, value } => write!(f, "{op}{value}"),
            Criterion::Relative {
                op,
                change,
                percent,
                increase,
            } => {
                let sign = if increase { '+' } else { '-' };
                let pct = if percent { "%" } else { "" };
                write!(f, "{op}{sign}{change}{pct}")
            }
        }
    }
}

/// `total_score`.
#[derive(Debug, Clone, PartialEq)]
pub struct TotalScore {
    /// `pass` (missing → Keptn: "no target score defined").
    pub pass: Option<ScoreTarget>,
    /// `warning` (optional).
    pub warning: Option<ScoreTarget>,
}

/// A total-score threshold such as `"90%"`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreTarget {
    /// As written.
    pub text: String,
    /// The percentage, or `None` if Keptn could not parse it.
    pub percent: Option<f64>,
}

impl ScoreTarget {
    /// Parses like Keptn: one trailing `%` removed, then Go `ParseFloat`.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let percent = go_parse_float(text.strip_suffix('%').unwrap_or(&text));
        ScoreTarget { text, percent }
    }
}

/// Go's `strconv.ParseFloat(s, 64)` acceptance: decimal or hexadecimal (with `p` exponent)
/// numbers with an optional sign, `inf`/`infinity` (signed) and `nan` (unsigned), case
/// insensitive; out-of-range values are errors. Underscores (allowed by Go only after a base
/// prefix) are not supported.
pub fn go_parse_float(s: &str) -> Option<f64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" {
        return (body.len() == s.len()).then_some(f64::NAN);
    }
    let v = if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex_float(hex)?
    } else {
        if !is_decimal_float(body) {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    if v.is_infinite() {
        return None;
    }
    Some(if neg { -v } else { v })
}

fn is_decimal_float(s: &str) -> bool {
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_ok =
        int.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok || (int.is_empty() && frac.is_empty()) {
        return false;
    }
    match exp {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
        }
    }
}

fn parse_hex_float(s: &str) -> Option<f64> {
    let (mantissa, exp) = s.split_once('p')?;
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut m = 0.0f64;
    for c in int.chars() {
        m = m * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        m += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let e_digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
    if e_digits.is_empty() || !e_digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let e: i32 = exp.parse().unwrap_or(if exp.starts_with('-') {
        -10_000
    } else {
        10_000
    });
    Some(m * 2f64.powi(e))
}

/// Parses an `slo.yaml`.
pub fn parse(src: &str) -> Parsed<Slo> {
    let mut diags = Diagnostics::new();
    let Some(root) = yaml::parse(src, &mut diags) else {
        return Parsed {
            value: None,
            diagnostics: diags,
        };
    };
    let root_path = FieldPath::root();
    yaml::check_duplicate_keys(&root, &root_path, Severity::Error, &mut diags);
    let Some(mut map) = MapReader::new(&root, &root_path, &mut diags) else {
        return Parsed {
            value: None,
            diagnostics: diags,
        };
    };

    let spec_version = map
        .field("spec_version")
        .and_then(|(n, p)| yaml::string(n, &p, &mut diags))
        .unwrap_or_default();
    let filter = map
        .field("filter")
        .and_then(|(n, p)| yaml::string_map(n, &p, &mut diags))
        .unwrap_or_default();
    let comparison = match map.field("comparison") {
        Some((n, p)) if !n.is_null() => read_comparison(n, &p, &mut diags),
        _ => Comparison::default(),
    };
    let objectives = match map.field("objectives") {
        Some((n, p)) => read_objectives(n, &p, &mut diags),
        None => Vec::new(),
    };
    if objectives.is_empty() {
        let (pos, path) = match root.get("objectives") {
            Some(n) => (n.pos, root_path.key("objectives")),
            None => (root.pos, root_path.clone()),
        };
        diags
            .error(pos, &path, "the SLO has no objectives")
            .hint("add at least one objective; Keptn fails the evaluation with \"lighthouse failed because no SLO objective was provided\"");
    }
    let total_score = read_total_score(&mut map, &root, &mut diags);
    let groups = match map.field("groups") {
        Some((n, p)) => read_groups(n, &p, &mut diags),
        None => Vec::new(),
    };
    map.finish(Severity::Warning, "an SLO file", &mut diags);
    let slo = Slo {
        spec_version,
        filter,
        comparison,
        objectives,
        total_score,
        groups,
    };
    check_groups(&root, &root_path, &slo, &mut diags);
    Parsed {
        value: Some(slo),
        diagnostics: diags,
    }
}

fn read_comparison(node: &Node, path: &FieldPath, diags: &mut Diagnostics) -> Comparison {
    let Some(mut m) = MapReader::new(node, path, diags) else {
        return Comparison::default();
    };
    let compare_with = m
        .field("compare_with")
        .map(|(n, p)| {
            let s = yaml::string(n, &p, diags).unwrap_or_default();
            let v: CompareWith = s.parse().unwrap_or(CompareWith::Other(String::new()));
            if let CompareWith::Other(o) = &v {
                diags
                    .warning(n.pos, &p, format!("unknown compare_with `{o}`; Keptn then compares with 3 previous results"))
                    .hint("use single_result or several_results");
            }
            v
        })
        .unwrap_or(CompareWith::Other(String::new()));
    let include_result_with_score = m
        .field("include_result_with_score")
        .and_then(|(n, p)| {
            let s = yaml::string(n, &p, diags)?;
            let v = if s.is_empty() {
                IncludeResults::All
            } else {
                IncludeResults::from_keptn(&s)
            };
            if let IncludeResults::Other(o) = &v {
                diags
                    .warning(n.pos, &p, format!("unknown include_result_with_score `{o}`; Keptn then includes all previous results"))
                    .hint("use all, pass or pass_or_warn");
            }
            Some(v)
        })
        .unwrap_or(IncludeResults::All);
    let number_of_comparison_results = m
        .field("number_of_comparison_results")
        .and_then(|(n, p)| {
            let i = yaml::integer(n, &p, diags)?;
            if i.truncated {
                diags
                    .warning(
                        n.pos,
                        &p,
                        format!(
                            "fractional number_of_comparison_results; Keptn uses {}",
                            i.value
                        ),
                    )
                    .hint("write a whole number");
            }
            Some(i.value)
        })
        .filter(|v| *v != 0)
        .unwrap_or(3);
    let aggregate_function = m
        .field("aggregate_function")
        .and_then(|(n, p)| {
            let s = yaml::string(n, &p, diags)?;
            if s.is_empty() {
                return Some(AggregateFunction::Avg);
            }
            let v: AggregateFunction = s.parse().unwrap_or(AggregateFunction::Avg);
            if let AggregateFunction::Other(o) = &v {
                diags
                    .warning(
                        n.pos,
                        &p,
                        format!("unknown aggregate_function `{o}`; Keptn then compares against 0"),
                    )
                    .hint("use avg, p50, p90 or p95");
            }
            Some(v)
        })
        .unwrap_or(AggregateFunction::Avg);
    m.finish(Severity::Warning, "the comparison block", diags);
    Comparison {
        compare_with,
        include_result_with_score,
        number_of_comparison_results,
        aggregate_function,
    }
}

fn read_objectives(node: &Node, path: &FieldPath, diags: &mut Diagnostics) -> Vec<Objective> {
    let Some(items) = yaml::seq(node, path, diags) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        if item.is_null() {
            diags
                .warning(item.pos, &p, "empty objective; Keptn ignores it")
                .hint("remove the empty `-` entry");
            continue;
        }
        if let Some(o) = read_objective(item, &p, diags) {
            out.push(o);
        }
    }
    out
}

fn read_objective(node: &Node, path: &FieldPath, diags: &mut Diagnostics) -> Option<Objective> {
    let mut m = MapReader::new(node, path, diags)?;
    let sli = m
        .field("sli")
        .and_then(|(n, p)| yaml::string(n, &p, diags))
        .unwrap_or_default();
    if sli.is_empty() {
        diags
            .warning(node.pos, path, "objective without an `sli` name")
            .hint("name the SLI this objective evaluates (`sli: response_time_p95`)");
    }
    let display_name = m
        .field("displayName")
        .and_then(|(n, p)| yaml::string(n, &p, diags))
        .unwrap_or_default();
    let pass = m
        .field("pass")
        .map(|(n, p)| read_criteria_sets(n, &p, true, diags))
        .unwrap_or_default();
    let warning = m
        .field("warning")
        .map(|(n, p)| read_criteria_sets(n, &p, false, diags))
        .unwrap_or_default();
    let mut weight = 0;
    if let Some((n, p)) = m.field("weight")
        && let Some(w) = yaml::integer(n, &p, diags)
    {
        if w.truncated {
            diags
                .warning(
                    n.pos,
                    &p,
                    format!(
                        "fractional weight; Keptn truncates it to {}{}",
                        w.value,
                        if w.value == 0 { " and then uses 1" } else { "" }
                    ),
                )
                .hint("weights are whole numbers");
        }
        weight = w.value;
    }
    if weight == 0 {
        weight = 1;
    }
    let key_sli = m
        .field("key_sli")
        .and_then(|(n, p)| yaml::boolean(n, &p, diags))
        .unwrap_or(false);
    let statistical = m
        .field("statistical")
        .and_then(|(n, p)| read_statistical(n, &p, diags));
    let on_missing = m.field("on_missing").and_then(|(n, p)| {
        let word = yaml::string(n, &p, diags)?;
        let v = OnMissing::from_word(&word);
        if v.is_none() {
            diags
                .error(n.pos, &p, format!("unknown on_missing `{word}`"))
                .hint("use fail, warn or ignore");
        }
        v
    });
    let group = m
        .field("group")
        .and_then(|(n, p)| yaml::string(n, &p, diags));
    m.finish(Severity::Warning, "an objective", diags);
    Some(Objective {
        sli,
        display_name,
        pass,
        warning,
        weight,
        key_sli,
        statistical,
        on_missing,
        group,
    })
}

/// Reads `groups`: a mapping of group names to whole-number weights of at least 1.
fn read_groups(node: &Node, path: &FieldPath, diags: &mut Diagnostics) -> Vec<ScoreGroup> {
    let entries = match node.as_map() {
        Some(entries) => entries,
        None if node.is_null() => return Vec::new(),
        None => {
            diags
                .error(
                    node.pos,
                    path,
                    format!(
                        "expected a mapping of group names to weights, found {}",
                        node.describe()
                    ),
                )
                .hint("write for example `groups: {latency: 60, errors: 40}`");
            return Vec::new();
        }
    };
    let mut groups = Vec::with_capacity(entries.len());
    for e in entries {
        let name = e.key_str().to_owned();
        let p = path.key(&name);
        if name.is_empty() {
            diags.error(e.key.pos, path, "a group needs a name");
            continue;
        }
        let Some(w) = yaml::integer(&e.value, &p, diags) else {
            if e.value.is_null() {
                diags
                    .error(e.value.pos, &p, format!("group `{name}` has no weight"))
                    .hint("give it a whole number of at least 1");
            }
            continue;
        };
        if w.truncated || w.value < 1 {
            diags
                .error(
                    e.value.pos,
                    &p,
                    format!("the weight of group `{name}` must be a whole number of at least 1"),
                )
                .hint("weights are relative: 60 and 40 weigh like 3 and 2");
            continue;
        }
        groups.push(ScoreGroup {
            name,
            weight: w.value,
        });
    }
    groups
}

/// With `groups`, every objective names one of them, and every `group` named is declared.
fn check_groups(root: &Node, root_path: &FieldPath, slo: &Slo, diags: &mut Diagnostics) {
    let declared: Vec<&str> = slo.groups.iter().map(|g| g.name.as_str()).collect();
    let items: Vec<(usize, &Node)> = root
        .get("objectives")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.is_null())
        .collect();
    if items.len() != slo.objectives.len() {
        // An objective could not be read at all: that error is reported already.
        return;
    }
    for ((i, node), objective) in items.into_iter().zip(&slo.objectives) {
        let path = root_path.key("objectives").index(i);
        match (&objective.group, node.get("group")) {
            (Some(name), Some(at)) if !declared.contains(&name.as_str()) => {
                let hint = if declared.is_empty() {
                    "declare the groups and their weights at the top level, e.g. `groups: {latency: 60, errors: 40}`".to_owned()
                } else {
                    format!("declared groups: {}", declared.join(", "))
                };
                diags
                    .error(
                        at.pos,
                        &path.key("group"),
                        format!("group `{name}` is not declared in `groups`"),
                    )
                    .hint(hint);
            }
            (None, _) if !declared.is_empty() => {
                diags
                    .error(
                        node.pos,
                        &path,
                        format!(
                            "objective `{}` names no group, but the SLO has `groups`",
                            objective.name()
                        ),
                    )
                    .hint(format!("add `group:` with one of: {}", declared.join(", ")));
            }
            _ => {}
        }
    }
}

/// Reads a finite number (an unquoted YAML integer or float).
fn number(node: &Node, path: &FieldPath, diags: &mut Diagnostics) -> Option<f64> {
    let parsed = match &node.value {
        yaml::Value::Null => return None,
        yaml::Value::Scalar(s) if !s.quoted => go_parse_float(&s.text).filter(|v| v.is_finite()),
        _ => None,
    };
    if parsed.is_none() {
        let found = node
            .as_scalar()
            .map_or_else(|| node.describe().to_owned(), |t| format!("`{t}`"));
        diags.error(node.pos, path, format!("expected a number, found {found}"));
    }
    parsed
}

/// Reads one of a closed set of words, or reports an error listing them.
fn word<T>(
    node: &Node,
    path: &FieldPath,
    field: &str,
    known: &[&str],
    from_word: fn(&str) -> Option<T>,
    diags: &mut Diagnostics,
) -> Option<T> {
    let text = yaml::string(node, path, diags)?;
    let v = from_word(&text);
    if v.is_none() {
        let hint = match yaml::suggest(&text, known) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("use {}", known.join(", ")),
        };
        diags
            .error(node.pos, path, format!("unknown {field} `{text}`"))
            .hint(hint);
    }
    v
}

/// `objectives[].statistical` (sluice extension). Its own keys are checked strictly: an
/// unknown key is an error, since a misspelt option would silently change the verdict.
fn read_statistical(node: &Node, path: &FieldPath, diags: &mut Diagnostics) -> Option<Statistical> {
    let mut m = MapReader::new(node, path, diags)?;
    let errors_before = diags.error_count();
    let mut out = Statistical::default();
    match m.field("test") {
        Some((n, p)) => {
            if let Some(t) = word(
                n,
                &p,
                "statistical test",
                StatisticalTest::KNOWN,
                StatisticalTest::from_word,
                diags,
            ) {
                out.test = t;
            }
        }
        None => {
            diags
                .error(node.pos, path, "statistical criterion without `test`")
                .hint("add `test: mann-whitney`");
        }
    }
    if let Some((n, p)) = m.field("direction")
        && let Some(d) = word(
            n,
            &p,
            "direction",
            Direction::KNOWN,
            Direction::from_word,
            diags,
        )
    {
        out.direction = d;
    }
    if let Some((n, p)) = m.field("alpha")
        && let Some(a) = number(n, &p, diags)
    {
        if a > 0.0 && a <= 0.5 {
            out.alpha = a;
        } else {
            diags
                .error(n.pos, &p, format!("alpha {a} is outside (0, 0.5]"))
                .hint("the significance level is a probability such as 0.05 or 0.01");
        }
    }
    if let Some((n, p)) = m.field("effect_size")
        && let Some(e) = number(n, &p, diags)
    {
        if e >= 1.0 {
            out.effect_size = Some(e);
        } else {
            diags
                .error(n.pos, &p, format!("effect_size {e} is below 1"))
                .hint("the effect size is a ratio such as 1.2 (a 20% change); for `decrease` it is applied as 1/1.2");
        }
    }
    if let Some((n, p)) = m.field("effect_measure")
        && let Some(e) = word(
            n,
            &p,
            "effect_measure",
            EffectMeasure::KNOWN,
            EffectMeasure::from_word,
            diags,
        )
    {
        out.effect_measure = e;
    }
    if let Some((n, p)) = m.field("outliers")
        && let Some(o) = word(
            n,
            &p,
            "outliers",
            Outliers::KNOWN,
            Outliers::from_word,
            diags,
        )
    {
        out.outliers = o;
    }
    if let Some((n, p)) = m.field("min_samples")
        && let Some(i) = yaml::integer(n, &p, diags)
    {
        if i.truncated || i.value < 1 {
            diags
                .error(
                    n.pos,
                    &p,
                    "min_samples must be a whole number of at least 1",
                )
                .hint("the default is 3");
        } else {
            out.min_samples = usize::try_from(i.value).unwrap_or(usize::MAX);
        }
    }
    m.finish(Severity::Error, "a statistical criterion", diags);
    (diags.error_count() == errors_before).then_some(out)
}

fn read_criteria_sets(
    node: &Node,
    path: &FieldPath,
    pass: bool,
    diags: &mut Diagnostics,
) -> Vec<CriteriaSet> {
    let Some(items) = yaml::seq(node, path, diags) else {
        return Vec::new();
    };
    let what = if pass { "pass" } else { "warning" };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let p = path.index(i);
        if item.is_null() {
            diags
                .error(
                    item.pos,
                    &p,
                    format!("empty {what} criteria entry; Keptn's lighthouse crashed on it"),
                )
                .hint("write `- criteria: [\"<=100\"]` or remove the entry");
            continue;
        }
        let Some(mut m) = MapReader::new(item, &p, diags) else {
            continue;
        };
        let mut criteria = Vec::new();
        if let Some((n, cp)) = m.field("criteria")
            && let Some(list) = yaml::string_list(n, &cp, diags)
        {
            let nodes = n.as_seq().unwrap_or(&[]);
            for (j, text) in list.into_iter().enumerate() {
                let spec = CriterionSpec::new(text);
                if let Err(e) = &spec.parsed {
                    let pos = nodes.get(j).map_or(n.pos, |x| x.pos);
                    let jp = cp.index(j);
                    let msg = format!("invalid {what} criterion `{}`: {e}", spec.text);
                    let hint = "write an operator (<, <=, =, >=, >) and a number, with an optional +/- sign and % for a change relative to previous results: \"<=800\", \"<=+10%\"";
                    if pass {
                        diags
                            .error(pos, &jp, format!("{msg}; Keptn fails the evaluation"))
                            .hint(hint);
                    } else {
                        diags
                            .warning(
                                pos,
                                &jp,
                                format!("{msg}; Keptn then ignores every warning criterion of this objective"),
                            )
                            .hint(hint);
                    }
                }
                criteria.push(spec);
            }
        }
        if criteria.is_empty() {
            diags
                .warning(
                    item.pos,
                    &p,
                    format!(
                        "{what} criteria set without criteria; Keptn treats it as always satisfied{}",
                        if pass {
                            " (an objective with no pass criterion at all still counts its weight but never scores)"
                        } else {
                            ""
                        }
                    ),
                )
                .hint("add criteria or remove the entry");
        }
        m.finish(Severity::Warning, "a criteria set", diags);
        out.push(CriteriaSet { criteria });
    }
    out
}

fn read_total_score(
    map: &mut MapReader<'_>,
    root: &Node,
    diags: &mut Diagnostics,
) -> Option<TotalScore> {
    let Some((node, path)) = map.field("total_score") else {
        diags
            .error(root.pos, &FieldPath::root(), "missing `total_score`")
            .hint("add `total_score: {pass: \"90%\", warning: \"75%\"}`; Keptn fails with \"no target score defined\"");
        return None;
    };
    let mut m = MapReader::new(node, &path, diags)?;
    let read = |key: &'static str, m: &mut MapReader<'_>, diags: &mut Diagnostics| {
        let (n, p) = m.field(key)?;
        let text = yaml::string(n, &p, diags)?;
        if text.is_empty() {
            return None;
        }
        let t = ScoreTarget::new(text);
        if t.percent.is_none() {
            diags
                .error(n.pos, &p, format!("invalid total_score {key} `{}`; Keptn fails with \"could not parse {key} target percentage\"", t.text))
                .hint("write a number with an optional % right after it, such as \"90%\"");
        }
        Some(t)
    };
    let pass = read("pass", &mut m, diags);
    let warning = read("warning", &mut m, diags);
    if pass.is_none() {
        diags
            .error(
                node.pos,
                &path,
                "total_score has no `pass` target; Keptn fails with \"no target score defined\"",
            )
            .hint("add `pass: \"90%\"`");
    }
    m.finish(Severity::Warning, "total_score", diags);
    Some(TotalScore { pass, warning })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crit(s: &str) -> Result<Criterion, CriterionError> {
        Criterion::parse(s)
    }

    #[test]
    fn keptn_parse_criteria_string_table() {
        use Operator::*;
        let abs = |op, value| Ok(Criterion::Absolute { op, value });
        let rel = |op, change, percent, increase| {
            Ok(Criterion::Relative {
                op,
                change,
                percent,
                increase,
            })
        };
        assert_eq!(crit("<10"), abs(Lt, 10.0));
        assert_eq!(crit("<=10"), abs(Le, 10.0));
        assert_eq!(crit("=10"), abs(Eq, 10.0));
        assert_eq!(crit(">=10"), abs(Ge, 10.0));
        assert_eq!(crit(">10"), abs(Gt, 10.0));
        assert_eq!(crit(">-10%"), rel(Gt, 10.0, true, false));
        assert_eq!(crit("<=+10.5%"), rel(Le, 10.5, true, true));
        assert_eq!(crit("<=+10"), rel(Le, 10.0, false, true));
        assert_eq!(crit("  <=+10   %"), rel(Le, 10.0, true, true));
        assert_eq!(crit("  <=10%"), rel(Le, 10.0, true, true));
    }

    #[test]
    fn criteria_corner_cases() {
        assert_eq!(crit("<="), Err(CriterionError::InvalidValue));
        assert_eq!(crit("<=+"), Err(CriterionError::InvalidValue));
        assert_eq!(crit("<10%abc"), Err(CriterionError::InvalidValue));
        assert_eq!(crit("<<10"), Err(CriterionError::InvalidValue));
        assert_eq!(crit("!=0"), Err(CriterionError::InvalidString));
        assert_eq!(crit("invalid"), Err(CriterionError::InvalidString));
        assert_eq!(crit("|5"), Err(CriterionError::InvalidValue));
        assert_eq!(crit(""), Err(CriterionError::InvalidString));
        assert_eq!(
            crit("< = 5"),
            Ok(Criterion::Absolute {
                op: Operator::Le,
                value: 5.0
            })
        );
        // Only spaces are removed, not tabs.
        assert_eq!(crit("<\t5"), Err(CriterionError::InvalidValue));
        assert_eq!(crit("<5%%"), Err(CriterionError::InvalidValue));
        assert!(
            matches!(crit("<+-5"), Ok(Criterion::Relative { change, increase: true, .. }) if change == -5.0)
        );
        assert!(matches!(crit("<=nan"), Ok(Criterion::Absolute { value, .. }) if value.is_nan()));
        assert_eq!(crit("<1e400"), Err(CriterionError::InvalidValue));
        assert_eq!(
            crit("<0x10p0"),
            Ok(Criterion::Absolute {
                op: Operator::Lt,
                value: 16.0
            })
        );
        assert_eq!(
            crit("=0%"),
            Ok(Criterion::Relative {
                op: Operator::Eq,
                change: 0.0,
                percent: true,
                increase: true
            })
        );
    }

    #[test]
    fn go_parse_float_acceptance() {
        assert_eq!(go_parse_float("90"), Some(90.0));
        assert_eq!(go_parse_float(".5"), Some(0.5));
        assert_eq!(go_parse_float("5."), Some(5.0));
        assert_eq!(go_parse_float("+Inf"), Some(f64::INFINITY));
        assert!(go_parse_float("+nan").is_none());
        assert!(go_parse_float("90 ").is_none());
        assert!(go_parse_float("75%").is_none());
        assert!(go_parse_float("1_000").is_none());
        assert!(go_parse_float("").is_none());
        assert!(go_parse_float("e5").is_none());
    }

    #[test]
    fn targets_follow_keptn_formulas() {
        let c = |s| Criterion::parse(s).unwrap();
        assert_eq!(c("<=+10%").target(520.0), 572.0);
        assert_eq!(c("<=-10%").target(100.0), 90.0);
        assert_eq!(c("<=+10").target(100.0), 110.0);
        assert_eq!(c("<=-10").target(100.0), 90.0);
        assert_eq!(c("<600").target(100.0), 600.0);
    }

    #[test]
    fn defaults_without_and_with_comparison_block() {
        let p = parse("objectives:\n  - sli: a\ntotal_score: {pass: '90%'}\n");
        let slo = p.value.unwrap();
        assert!(!p.diagnostics.has_errors(), "{:?}", p.diagnostics);
        assert_eq!(slo.comparison, Comparison::default());
        assert_eq!(slo.comparison.previous_results_wanted(), 1);
        let p = parse(
            "comparison: {compare_with: several_results}\nobjectives:\n  - sli: a\n    weight: 0\ntotal_score: {pass: '90%'}\n",
        );
        let slo = p.value.unwrap();
        assert_eq!(slo.comparison.number_of_comparison_results, 3);
        assert_eq!(
            slo.comparison.include_result_with_score,
            IncludeResults::All
        );
        assert_eq!(slo.comparison.aggregate_function, AggregateFunction::Avg);
        assert_eq!(slo.objectives[0].weight, 1);
        let p = parse("comparison: {}\nobjectives:\n  - sli: a\ntotal_score: {pass: '90%'}\n");
        assert_eq!(p.value.unwrap().comparison.previous_results_wanted(), 3);
    }

    #[test]
    fn total_score_parsing_like_keptn() {
        assert_eq!(ScoreTarget::new("90%").percent, Some(90.0));
        assert_eq!(ScoreTarget::new("90").percent, Some(90.0));
        assert_eq!(ScoreTarget::new("90 %").percent, None);
        assert_eq!(ScoreTarget::new("75%%").percent, None);
        assert_eq!(ScoreTarget::new("bla").percent, None);
    }

    #[test]
    fn misspelt_key_warns_with_suggestion() {
        let p = parse("comparision: {}\nobjectives:\n  - sli: a\ntotal_score: {pass: '90%'}\n");
        assert!(!p.diagnostics.has_errors());
        let d = p
            .diagnostics
            .iter()
            .find(|d| d.path == "comparision")
            .unwrap();
        assert_eq!(d.hint.as_deref(), Some("did you mean `comparison`?"));
    }

    #[test]
    fn fractional_weight_truncates_with_warning() {
        let p = parse("objectives:\n  - sli: a\n    weight: 2.7\ntotal_score: {pass: '90%'}\n");
        assert!(!p.diagnostics.has_errors());
        assert_eq!(p.diagnostics.warning_count(), 1);
        assert_eq!(p.value.unwrap().objectives[0].weight, 2);
    }

    #[test]
    fn pass_criterion_error_warning_criterion_warning() {
        let p = parse(
            "objectives:\n  - sli: a\n    pass: [{criteria: ['<<1']}]\n    warning: [{criteria: ['<<2']}]\ntotal_score: {pass: '90%'}\n",
        );
        let errs: Vec<_> = p
            .diagnostics
            .iter()
            .map(|d| (d.severity, d.path.clone(), d.pos.line))
            .collect();
        assert_eq!(
            errs,
            vec![
                (
                    Severity::Error,
                    "objectives[0].pass[0].criteria[0]".to_owned(),
                    3
                ),
                (
                    Severity::Warning,
                    "objectives[0].warning[0].criteria[0]".to_owned(),
                    4
                )
            ]
        );
        let slo = p.value.unwrap();
        assert!(slo.objectives[0].pass[0].criteria[0].parsed.is_err());
    }

    fn corpus_dir() -> Option<std::path::PathBuf> {
        let candidates = [
            std::path::PathBuf::from("/work/shared/keptn-corpus"),
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/keptn-corpus"),
        ];
        candidates.into_iter().find(|p| p.is_dir())
    }

    fn check_dir(dir: &std::path::Path, expect_errors: bool) -> usize {
        let mut n = 0;
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(src) = std::fs::read_to_string(&path) else {
                continue;
            };
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let p = parse(&src);
            let rendered = p.diagnostics.render(&name);
            if expect_errors {
                assert!(p.diagnostics.has_errors(), "{name} should have errors");
            } else {
                assert!(
                    !p.diagnostics.has_errors(),
                    "{name} should have no errors:\n{rendered}"
                );
                assert!(p.value.is_some());
                if name.starts_with("odd-") {
                    assert!(p.diagnostics.warning_count() > 0, "{name} should warn");
                }
            }
            n += 1;
        }
        n
    }

    #[test]
    fn corpus_valid_and_invalid() {
        let Some(dir) = corpus_dir() else {
            println!("keptn corpus not found; skipping corpus test");
            return;
        };
        assert!(check_dir(&dir.join("valid/slo"), false) > 0);
        assert!(check_dir(&dir.join("invalid/slo"), true) > 0);
    }

    #[test]
    fn fixtures_valid_and_invalid() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slo");
        assert!(check_dir(&base.join("valid"), false) >= 3);
        assert!(check_dir(&base.join("invalid"), true) >= 3);
    }

    const STATISTICAL: &str = "comparison:\n  compare_with: baseline\nobjectives:\n  - sli: response_time_p95\n    statistical:\n      test: mann-whitney\n      direction: increase\n      alpha: 0.01\n      effect_size: 1.2\n      effect_measure: mean_ratio\n      outliers: remove\n      min_samples: 10\n    on_missing: warn\n  - sli: error_rate\n    pass: [{criteria: ['<=1']}]\ntotal_score: {pass: '90%'}\n";

    #[test]
    fn statistical_criterion_and_on_missing_parse() {
        let p = parse(STATISTICAL);
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let slo = p.value.unwrap();
        assert_eq!(slo.comparison.compare_with, CompareWith::Baseline);
        assert_eq!(slo.comparison.previous_results_wanted(), 1);
        let o = &slo.objectives[0];
        assert_eq!(
            o.statistical,
            Some(Statistical {
                test: StatisticalTest::MannWhitney,
                direction: Direction::Increase,
                alpha: 0.01,
                effect_size: Some(1.2),
                effect_measure: EffectMeasure::MeanRatio,
                outliers: Outliers::Remove,
                min_samples: 10,
            })
        );
        assert_eq!(o.on_missing, Some(OnMissing::Warn));
        assert_eq!(
            o.statistical.unwrap().describe(),
            "mann-whitney increase alpha=0.01 effect_size=1.2 (mean_ratio) outliers=remove"
        );
        let plain = &slo.objectives[1];
        assert_eq!((plain.statistical, plain.on_missing), (None, None));
    }

    #[test]
    fn statistical_defaults() {
        let p = parse(
            "objectives:\n  - sli: a\n    statistical: {test: mann-whitney}\ntotal_score: {pass: '90%'}\n",
        );
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        assert_eq!(
            p.value.unwrap().objectives[0].statistical,
            Some(Statistical::default())
        );
    }

    fn errors_of(src: &str) -> Vec<(String, u32, u32, String)> {
        parse(src)
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| (d.path.clone(), d.pos.line, d.pos.col, d.message.clone()))
            .collect()
    }

    #[test]
    fn statistical_mistakes_are_positioned_errors() {
        let src = "objectives:\n  - sli: a\n    statistical:\n      test: t-test\n      direction: up\n      alpha: 0.7\n      effect_size: 0.8\n      outlier: remove\n      min_samples: 0\n      effect_measure: ratio\n    on_missing: skip\ntotal_score: {pass: '90%'}\n";
        let errors = errors_of(src);
        let paths: Vec<(&str, u32, u32)> = errors
            .iter()
            .map(|(p, l, c, _)| (p.as_str(), *l, *c))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("objectives[0].statistical.test", 4, 13),
                ("objectives[0].statistical.direction", 5, 18),
                ("objectives[0].statistical.alpha", 6, 14),
                ("objectives[0].statistical.effect_size", 7, 20),
                ("objectives[0].statistical.effect_measure", 10, 23),
                ("objectives[0].statistical.min_samples", 9, 20),
                ("objectives[0].statistical.outlier", 8, 7),
                ("objectives[0].on_missing", 11, 17),
            ],
            "{errors:#?}"
        );
        let alpha = &errors[2].3;
        assert!(alpha.contains("outside (0, 0.5]"), "{alpha}");
        let p = parse(src);
        let outlier = p
            .diagnostics
            .iter()
            .find(|d| d.path == "objectives[0].statistical.outlier")
            .unwrap();
        assert_eq!(outlier.hint.as_deref(), Some("did you mean `outliers`?"));
        // A broken criterion is not kept (the objective must not be scored with defaults).
        assert_eq!(p.value.unwrap().objectives[0].statistical, None);
    }

    #[test]
    fn groups_parse_and_their_mistakes_are_positioned_errors() {
        let p = parse(
            "groups: {latency: 3, errors: 1}\nobjectives:\n  - sli: p95\n    group: latency\n  - sli: error_rate\n    group: errors\ntotal_score: {pass: '90%'}\n",
        );
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let slo = p.value.unwrap();
        assert_eq!(
            slo.groups,
            vec![
                ScoreGroup {
                    name: "latency".into(),
                    weight: 3
                },
                ScoreGroup {
                    name: "errors".into(),
                    weight: 1
                },
            ]
        );
        assert_eq!(slo.objectives[1].group.as_deref(), Some("errors"));
        // A file without them is what it was.
        let plain = parse("objectives:\n  - sli: a\ntotal_score: {pass: '90%'}\n")
            .value
            .unwrap();
        assert!(plain.groups.is_empty());
        assert_eq!(plain.objectives[0].group, None);

        let errors = errors_of(
            "groups: {latency: 0, errors: 1.5, misc: high, ok: 2}\nobjectives:\n  - sli: a\n    group: latncy\n  - sli: b\ntotal_score: {pass: '90%'}\n",
        );
        let found: Vec<(&str, u32, u32)> = errors
            .iter()
            .map(|(p, l, c, _)| (p.as_str(), *l, *c))
            .collect();
        assert_eq!(
            found,
            vec![
                ("groups.latency", 1, 19),
                ("groups.errors", 1, 30),
                ("groups.misc", 1, 41),
                ("objectives[0].group", 4, 12),
                ("objectives[1]", 5, 5),
            ],
            "{errors:#?}"
        );
        assert!(
            errors[3].3.contains("`latncy` is not declared"),
            "{}",
            errors[3].3
        );
        assert!(errors[4].3.contains("names no group"), "{}", errors[4].3);
        // A group named without a `groups` block.
        let errors =
            errors_of("objectives:\n  - sli: a\n    group: latency\ntotal_score: {pass: '90%'}\n");
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert_eq!(
            (errors[0].0.as_str(), errors[0].1),
            ("objectives[0].group", 3)
        );
    }

    #[test]
    fn statistical_wrong_types_and_missing_test() {
        let errors = errors_of(
            "objectives:\n  - sli: a\n    statistical:\n      alpha: '0.05'\n      effect_size: [1]\n  - sli: b\n    statistical: yes\ntotal_score: {pass: '90%'}\n",
        );
        let messages: Vec<&str> = errors.iter().map(|e| e.3.as_str()).collect();
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert!(messages[0].contains("without `test`"), "{messages:?}");
        assert!(messages[1].contains("expected a number"), "{messages:?}");
        assert!(messages[2].contains("expected a number"), "{messages:?}");
        assert_eq!(errors[3].0, "objectives[1].statistical");
    }

    #[test]
    fn keptn_only_slo_is_unchanged_by_the_extension() {
        let p = parse(
            "comparison: {compare_with: several_results}\nobjectives:\n  - sli: a\n    pass: [{criteria: ['<=1']}]\ntotal_score: {pass: '90%'}\n",
        );
        let slo = p.value.unwrap();
        assert!(
            slo.objectives
                .iter()
                .all(|o| o.statistical.is_none() && o.on_missing.is_none())
        );
        // `baseline` used to be an unknown word (3 previous results, with a warning).
        let p = parse(
            "comparison: {compare_with: baseline}\nobjectives:\n  - sli: a\ntotal_score: {pass: '90%'}\n",
        );
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    }

    #[test]
    fn duplicate_key_is_an_error() {
        let p = parse("objectives:\n  - sli: a\n    sli: b\ntotal_score: {pass: '90%'}\n");
        assert!(p.diagnostics.has_errors());
    }
}
