//! Kubernetes `$(VAR)` expansion, as applied to a container's `command`, `args` and env values.
//!
//! Kubernetes (not a shell) expands `$(NAME)` with the container's environment: a defined
//! variable is replaced by its value, an undefined one is left as written, `$$` is an escaped
//! `$` (so `$$(VAR)` gives the literal `$(VAR)`), an unterminated `$(` and any other `$` are
//! kept as they are. This mirrors `k8s.io/kubernetes/third_party/forked/golang/expansion`,
//! except that it works on characters rather than bytes (Kubernetes mangles a multi-byte
//! character right after a `$`; sluice keeps it).

/// Expands `$(VAR)` references in `s` with `env`, with Kubernetes semantics.
pub fn expand_vars(s: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    for piece in pieces(s) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(name) => match env(name) {
                Some(v) => out.push_str(&v),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            },
        }
    }
    out
}

/// The variable names referenced as `$(NAME)` in `s` (escaped `$$(NAME)` excluded), in order.
pub fn var_references(s: &str) -> Vec<&str> {
    pieces(s)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(name) => Some(name),
            Piece::Text(_) => None,
        })
        .collect()
}

enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut checkpoint = 0;
    let mut i = 0;
    let bytes = s.as_bytes();
    while i < bytes.len() {
        // `$` is ASCII, so byte indexing never splits a character here.
        if bytes[i] == b'$' && i + 1 < bytes.len() {
            out.push(Piece::Text(&s[checkpoint..i]));
            match bytes[i + 1] {
                b'$' => {
                    out.push(Piece::Text("$"));
                    i += 2;
                }
                b'(' => match s[i + 2..].find(')') {
                    Some(close) => {
                        out.push(Piece::Var(&s[i + 2..i + 2 + close]));
                        i += 2 + close + 1;
                    }
                    None => {
                        out.push(Piece::Text("$("));
                        i += 2;
                    }
                },
                _ => {
                    // Keep `$` and let the next character be copied as ordinary text.
                    out.push(Piece::Text("$"));
                    i += 1;
                }
            }
            checkpoint = i;
        } else {
            i += 1;
        }
    }
    out.push(Piece::Text(&s[checkpoint..]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEPTN_PROJECT" => Some("fulltour".into()),
            "KEPTN_STAGE" => Some("qa".into()),
            "EMPTY" => Some(String::new()),
            "DOLLAR" => Some("$(KEPTN_PROJECT)".into()),
            _ => None,
        }
    }

    fn x(s: &str) -> String {
        expand_vars(s, &env)
    }

    #[test]
    fn known_variables_are_replaced() {
        assert_eq!(x("$(KEPTN_PROJECT)-$(KEPTN_STAGE)"), "fulltour-qa");
        assert_eq!(x("ns=$(KEPTN_PROJECT)!"), "ns=fulltour!");
        assert_eq!(x("a$(EMPTY)b"), "ab");
    }

    #[test]
    fn unknown_variables_are_left_as_written() {
        assert_eq!(x("$(NOPE) $(KEPTN_STAGE)"), "$(NOPE) qa");
        assert_eq!(x("$()"), "$()");
    }

    #[test]
    fn double_dollar_escapes() {
        assert_eq!(x("$$(KEPTN_PROJECT)"), "$(KEPTN_PROJECT)");
        assert_eq!(x("$$$(KEPTN_PROJECT)"), "$fulltour");
        assert_eq!(x("$$HOME"), "$HOME");
        assert_eq!(x("cost: $$5"), "cost: $5");
    }

    #[test]
    fn other_dollars_stay() {
        assert_eq!(x("$"), "$");
        assert_eq!(x("a$"), "a$");
        assert_eq!(x("${KEPTN_PROJECT}"), "${KEPTN_PROJECT}");
        assert_eq!(x("$KEPTN_PROJECT"), "$KEPTN_PROJECT");
        assert_eq!(x("$(KEPTN_PROJECT"), "$(KEPTN_PROJECT");
        assert_eq!(x("$é$(KEPTN_STAGE)"), "$éqa");
    }

    #[test]
    fn expansion_is_not_recursive() {
        assert_eq!(x("$(DOLLAR)"), "$(KEPTN_PROJECT)");
    }

    #[test]
    fn shell_substitutions_are_left_alone() {
        // `$(kubectl …)` reads up to the first `)` as a (nonexistent) variable name.
        let s = "R=$(kubectl get x -o '{{.a}}');D=$((${S}+1))";
        assert_eq!(x(s), s);
        assert_eq!(
            var_references(s),
            vec!["kubectl get x -o '{{.a}}'", "(${S}+1"]
        );
    }

    #[test]
    fn references_skip_escapes() {
        assert_eq!(var_references("$(A) $$(B) $(C"), vec!["A"]);
    }
}
