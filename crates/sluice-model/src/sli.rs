//! SLI files (`<provider>/sli.yaml`): named provider queries, and the project → stage → service
//! override order used to combine them.
//!
//! Keptn's SLI providers read these files with go-utils `GetSLIConfiguration`, which decodes
//! each file with the lenient `gopkg.in/yaml.v2` into `{spec_version string, indicators
//! map[string]string}`. Unknown and repeated keys were silently accepted (warnings here); a file
//! without indicators was rejected with "missing required field: indicators"; an `indicators`
//! that is a list, or a query that is not a scalar, failed to decode.

use crate::Parsed;
use crate::diagnostic::{Diagnostics, FieldPath, Severity};
use crate::yaml::{self, MapReader, Value};

/// The Keptn error text for a file without indicators.
pub const MISSING_INDICATORS: &str = "missing required field: indicators";

/// One SLI file, or the merge of several.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct SliConfig {
    /// `spec_version` as written (`"1.0"`); optional.
    pub spec_version: Option<String>,
    /// `(SLI name, provider query)` pairs in file order, each name once (a repeated name keeps
    /// its first position and its last query, like the Go map Keptn decoded into).
    pub indicators: Vec<(String, String)>,
}

impl SliConfig {
    /// The query for an SLI name.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.indicators
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, q)| q.as_str())
    }

    /// Sets or replaces the query for a name, keeping the name's first position.
    fn set(&mut self, name: &str, query: &str) {
        match self.indicators.iter_mut().find(|(k, _)| k == name) {
            Some(entry) => entry.1 = query.to_owned(),
            None => self.indicators.push((name.to_owned(), query.to_owned())),
        }
    }
}

/// Combines the SLI files of the project, stage and service levels (pass them in that order):
/// the union of all names, a later level's query replacing an earlier one's. The last
/// `spec_version` that is set wins.
pub fn merge(levels: &[&SliConfig]) -> SliConfig {
    let mut out = SliConfig::default();
    for level in levels {
        if level.spec_version.is_some() {
            out.spec_version.clone_from(&level.spec_version);
        }
        for (name, query) in &level.indicators {
            out.set(name, query);
        }
    }
    out
}

/// Parses and validates an SLI file.
pub fn parse(src: &str) -> Parsed<SliConfig> {
    let mut diags = Diagnostics::new();
    let Some(root) = yaml::parse(src, &mut diags) else {
        return Parsed {
            value: None,
            diagnostics: diags,
        };
    };
    let value = read(&root, &mut diags);
    Parsed {
        value,
        diagnostics: diags,
    }
}

fn read(root: &yaml::Node, diags: &mut Diagnostics) -> Option<SliConfig> {
    let rpath = FieldPath::root();
    // yaml.v2 (non-strict) keeps the last of repeated keys without complaint.
    yaml::check_duplicate_keys(root, &rpath, Severity::Warning, diags);
    if matches!(root.value, Value::Scalar(_) | Value::Seq(_)) {
        diags
            .error(root.pos, &rpath, format!("an SLI file must be a mapping, found {}", root.describe()))
            .hint("write `spec_version: \"1.0\"` and `indicators:` on their own lines, each key followed by `:`");
        return None;
    }
    let mut r = MapReader::new(root, &rpath, diags)?;
    let mut config = SliConfig::default();

    if let Some((n, p)) = r.field("spec_version") {
        config.spec_version = yaml::string(n, &p, diags);
    }

    let mut missing_at = (r.pos(), rpath.clone());
    if let Some((n, p)) = r.field("indicators") {
        missing_at = (n.pos, p.clone());
        match &n.value {
            Value::Seq(_) => {
                diags
                    .error(
                        n.pos,
                        &p,
                        "`indicators` must be a mapping from SLI name to query, found a list",
                    )
                    .hint("remove the `- ` in front of each indicator: `indicators:` then `  response_time_p95: <query>`");
            }
            Value::Scalar(_) => {
                diags
                    .error(
                        n.pos,
                        &p,
                        format!(
                            "`indicators` must be a mapping from SLI name to query, found {}",
                            n.describe()
                        ),
                    )
                    .hint("write each indicator on its own line: `  <name>: <query>`");
            }
            Value::Null => {}
            Value::Map(entries) => {
                for e in entries {
                    let Some(name) = e.key.as_scalar() else {
                        diags.error(
                            e.key.pos,
                            &p,
                            format!("an SLI name must be a string, found {}", e.key.describe()),
                        );
                        continue;
                    };
                    let ipath = p.key(name);
                    match &e.value.value {
                        Value::Scalar(s) => {
                            if s.text.trim().is_empty() {
                                empty_query(name, &e.value, &ipath, diags);
                            }
                            config.set(name, &s.text);
                        }
                        Value::Null => {
                            empty_query(name, &e.value, &ipath, diags);
                            config.set(name, "");
                        }
                        _ => {
                            diags
                                .error(
                                    e.value.pos,
                                    &ipath,
                                    format!(
                                        "the query of SLI `{name}` must be a string, found {}",
                                        e.value.describe()
                                    ),
                                )
                                .hint(format!(
                                    "write the query directly after the name: `{name}: \"<query>\"`"
                                ));
                        }
                    }
                }
            }
        }
    }
    let indicators_invalid = r
        .field("indicators")
        .is_some_and(|(n, _)| matches!(n.value, Value::Seq(_) | Value::Scalar(_)));
    if config.indicators.is_empty() && !indicators_invalid {
        let (pos, path) = missing_at;
        let d = diags.error(pos, &path, MISSING_INDICATORS);
        let misspelt = r
            .unknown()
            .map(|e| e.key_str())
            .find(|k| yaml::suggest(k, &["indicators"]).is_some());
        match misspelt {
            Some(k) => d.hint(format!(
                "the indicators are under `{k}`; rename it to `indicators`"
            )),
            None => d.hint("add `indicators:` with at least one `<sli name>: <query>` line"),
        };
    }
    r.finish(Severity::Warning, "an SLI file", diags);
    Some(config)
}

fn empty_query(name: &str, node: &yaml::Node, path: &FieldPath, diags: &mut Diagnostics) {
    diags
        .warning(node.pos, path, format!("SLI `{name}` has an empty query"))
        .hint("the provider will fail to fetch it; write the query or remove the SLI");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Pos;
    use crate::shipyard::tests::{assert_verdicts, corpus, fixtures};

    fn diags(src: &str) -> Diagnostics {
        parse(src).diagnostics
    }

    fn cfg(pairs: &[(&str, &str)]) -> SliConfig {
        SliConfig {
            spec_version: Some("1.0".into()),
            indicators: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn corpus_verdicts() {
        for verdict in ["valid", "invalid"] {
            assert_verdicts(&fixtures("sli", verdict), verdict == "valid", diags);
            if let Some(files) = corpus("sli", verdict) {
                assert!(!files.is_empty());
                assert_verdicts(&files, verdict == "valid", diags);
            }
        }
    }

    #[test]
    fn valid_file_in_order() {
        let p = parse(include_str!(
            "../tests/fixtures/sli/valid/go-utils-no-spec-version.yaml"
        ));
        assert!(p.diagnostics.is_empty(), "{}", p.diagnostics.render("t"));
        let c = p.value.unwrap();
        assert_eq!(c.spec_version, None);
        assert_eq!(c.indicators[0].0, "error_rate");
        assert!(
            c.query("response_time_p50")
                .unwrap()
                .contains("percentile(50)")
        );
    }

    #[test]
    fn misspelt_indicators_warns_and_errors() {
        let d = diags(include_str!(
            "../tests/fixtures/sli/invalid/indicators-key-misspelt.yaml"
        ));
        let w = d.iter().find(|d| d.severity == Severity::Warning).unwrap();
        assert_eq!((w.path.as_str(), w.pos), ("indicator", Pos::new(3, 1)));
        assert_eq!(w.hint.as_deref(), Some("did you mean `indicators`?"));
        let e = d.iter().find(|d| d.severity == Severity::Error).unwrap();
        assert_eq!(e.message, MISSING_INDICATORS);
        assert!(e.hint.as_deref().unwrap().contains("`indicator`"));
        assert_eq!(d.error_count(), 1);
    }

    #[test]
    fn indicator_shapes() {
        let d = diags(include_str!(
            "../tests/fixtures/sli/invalid/indicators-as-list.yaml"
        ));
        assert_eq!(d.error_count(), 1, "{}", d.render("t"));
        let e = d.iter().next().unwrap();
        assert_eq!((e.path.as_str(), e.pos), ("indicators", Pos::new(4, 3)));
        let d = diags(include_str!(
            "../tests/fixtures/sli/invalid/indicator-value-map.yaml"
        ));
        let e = d.iter().find(|d| d.severity == Severity::Error).unwrap();
        assert_eq!((e.path.as_str(), e.pos.line), ("indicators.error_rate", 6));
        for src in [
            include_str!("../tests/fixtures/sli/invalid/indicators-empty-map.yaml"),
            include_str!("../tests/fixtures/sli/invalid/go-utils-empty-indicators.yaml"),
            "",
            "spec_version: '1.0'\n",
        ] {
            let d = diags(src);
            assert!(d.iter().any(|d| d.message == MISSING_INDICATORS), "{src:?}");
        }
        assert!(diags("- a\n").has_errors());
    }

    #[test]
    fn lenient_like_yaml_v2() {
        let p = parse("spec_version: 1.0\nindicators:\n  a: q1\n  b:\n  a: q2\nowner: me\n");
        let d = &p.diagnostics;
        assert!(!d.has_errors(), "{}", d.render("t"));
        assert_eq!(d.warning_count(), 3, "{}", d.render("t")); // duplicate, empty, unknown
        let c = p.value.unwrap();
        assert_eq!(c.spec_version.as_deref(), Some("1.0"));
        assert_eq!(c.indicators, cfg(&[("a", "q2"), ("b", "")]).indicators);
    }

    #[test]
    fn merge_overrides_by_key_in_level_order() {
        let project = cfg(&[("throughput", "p1"), ("error_rate", "p2")]);
        let stage = cfg(&[("error_rate", "s2"), ("p95", "s3")]);
        let mut service = cfg(&[("throughput", "v1")]);
        service.spec_version = None;
        let m = merge(&[&project, &stage, &service]);
        assert_eq!(
            m.indicators,
            cfg(&[("throughput", "v1"), ("error_rate", "s2"), ("p95", "s3")]).indicators
        );
        assert_eq!(m.spec_version.as_deref(), Some("1.0"));
        assert_eq!(merge(&[]), SliConfig::default());
        assert_eq!(merge(&[&stage]), stage);
    }
}
