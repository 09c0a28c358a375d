//! `v1alpha1` requests: curl command lines read into a structured [`Request`], never run.
//!
//! The words are split as Keptn's webhook-service split them (`parseCommandLine`: blanks
//! separate words, `'...'` and `"..."` quote without escapes and end the word, a backslash
//! outside quotes takes the next character literally), with one difference: a placeholder
//! `{{ ... }}` is one piece of its word even when it contains blanks, and the words are split
//! *before* the placeholders are filled in, so a value from an event can never add a word.
//! Then the options curl would have seen are read: `-X`/`--request`, `-H`/`--header`,
//! `-d`/`--data`/`--data-raw`/`--data-binary`/`--data-ascii`, `--json`, `-u`/`--user`,
//! `--url` and one URL; `-s`, `-S`, `-f`, `--fail`, `--fail-with-body`, `--compressed` change
//! nothing; `-L`, `--max-time`/`-m` and `--connect-timeout` are accepted but sluice's own rules
//! apply (a warning says so). Everything else is refused with the option's name.

use super::template::Template;
use super::{Method, Request};

/// A problem with a curl command (the message names the option or word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurlError(pub String);

/// A curl command read into a request, with warnings about what sluice does differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCurl {
    /// The request.
    pub request: Request,
    /// Options accepted but handled by sluice's own rules.
    pub warnings: Vec<String>,
}

/// Splits a command line into words (see the module documentation).
pub fn words(cmd: &str) -> Result<Vec<String>, CurlError> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = cmd.chars().peekable();
    // Keptn's splitter starts with "escape next" set: the first character is literal.
    let mut escape_next = true;
    while let Some(c) = chars.next() {
        if c == '{' && chars.peek() == Some(&'{') {
            // A placeholder: copied whole, blanks included.
            chars.next();
            current.push_str("{{");
            let mut closed = false;
            while let Some(d) = chars.next() {
                current.push(d);
                if d == '}' && chars.peek() == Some(&'}') {
                    chars.next();
                    current.push('}');
                    closed = true;
                    break;
                }
            }
            if !closed {
                return Err(CurlError("unclosed placeholder (`{{` without `}}`)".into()));
            }
            in_word = true;
            escape_next = false;
            continue;
        }
        if escape_next {
            current.push(c);
            escape_next = false;
            in_word = !c.is_whitespace() || in_word;
            continue;
        }
        match c {
            '\\' => escape_next = true,
            '"' | '\'' => {
                // A quoted part runs to the same quote and ends the word.
                let mut closed = false;
                while let Some(d) = chars.next() {
                    if d == c {
                        closed = true;
                        break;
                    }
                    if d == '{' && chars.peek() == Some(&'{') {
                        chars.next();
                        current.push_str("{{");
                        for e in chars.by_ref() {
                            current.push(e);
                            if current.ends_with("}}") {
                                break;
                            }
                        }
                        continue;
                    }
                    current.push(d);
                }
                if !closed {
                    return Err(CurlError("unclosed quote in command".into()));
                }
                words.push(std::mem::take(&mut current));
                in_word = false;
            }
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            _ => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words.retain(|w| !w.trim().is_empty());
    Ok(words)
}

fn template(what: &str, text: &str) -> Result<Template, CurlError> {
    Template::parse(text).map_err(|e| CurlError(format!("{what}: {e}")))
}

/// Reads a curl command line.
pub fn parse(cmd: &str) -> Result<ParsedCurl, CurlError> {
    let words = words(cmd)?;
    let Some((first, args)) = words.split_first() else {
        return Err(CurlError("no command provided".into()));
    };
    if first != "curl" {
        return Err(CurlError(format!(
            "the command must start with `curl`, not `{first}`"
        )));
    }
    let mut method: Option<String> = None;
    let mut headers: Vec<(Template, Template)> = Vec::new();
    let mut data: Vec<String> = Vec::new();
    let mut json = false;
    let mut user: Option<String> = None;
    let mut url: Option<String> = None;
    let mut warnings = Vec::new();
    let mut i = 0;
    let value = |i: usize, opt: &str| -> Result<String, CurlError> {
        args.get(i + 1)
            .cloned()
            .ok_or_else(|| CurlError(format!("curl option `{opt}` needs a value")))
    };
    while i < args.len() {
        let arg = args[i].as_str();
        // Short options with the value attached: -XPOST, -H'x: y', -dvalue.
        let (opt, attached) = match arg.as_bytes() {
            [b'-', c, _, ..] if *c != b'-' && matches!(c, b'X' | b'H' | b'd' | b'u' | b'm') => {
                (&arg[..2], Some(arg[2..].to_owned()))
            }
            _ => (arg, None),
        };
        let take = |i: &mut usize| -> Result<String, CurlError> {
            match &attached {
                Some(v) => Ok(v.clone()),
                None => {
                    let v = value(*i, opt)?;
                    *i += 1;
                    Ok(v)
                }
            }
        };
        match opt {
            "-X" | "--request" => method = Some(take(&mut i)?),
            "-H" | "--header" => {
                let h = take(&mut i)?;
                let Some((name, val)) = h.split_once(':') else {
                    return Err(CurlError(format!(
                        "header `{h}` has no `:` between its name and value"
                    )));
                };
                headers.push((
                    template("header name", name.trim())?,
                    template("header value", val.trim())?,
                ));
            }
            "-d" | "--data" | "--data-binary" | "--data-ascii" => {
                let d = take(&mut i)?;
                if d.starts_with('@') {
                    return Err(CurlError(
                        "file uploads using @ in --data are not allowed".into(),
                    ));
                }
                data.push(d);
            }
            "--data-raw" => data.push(take(&mut i)?),
            "--json" => {
                data.push(take(&mut i)?);
                json = true;
            }
            "-u" | "--user" => user = Some(take(&mut i)?),
            "--url" => {
                let u = take(&mut i)?;
                if url.replace(u).is_some() {
                    return Err(CurlError("more than one URL".into()));
                }
            }
            "-s" | "--silent" | "-S" | "--show-error" | "-f" | "--fail" | "--fail-with-body"
            | "--compressed" | "-sS" | "-Ss" | "-fsS" | "-sSf" | "-fs" | "-sf" => {}
            "-L" | "--location" => warnings.push(
                "sluice never follows redirects: `-L` is ignored and a 3xx answer fails the request"
                    .to_owned(),
            ),
            "-m" | "--max-time" | "--connect-timeout" => {
                take(&mut i)?;
                warnings.push(format!(
                    "`{opt}` is ignored: sluice's own time limits apply"
                ));
            }
            "-o" | "--output" | "-F" | "--form" | "-T" | "--upload-file" | "-K" | "--config" => {
                return Err(CurlError(format!(
                    "curl command contains invalid option '{opt}'"
                )));
            }
            other if other.starts_with('-') && other.len() > 1 => {
                return Err(CurlError(format!(
                    "curl option `{other}` is not supported (supported: -X, -H, -d/--data/--data-raw/--data-binary, --json, -u, --url, -s, -S, -f)"
                )));
            }
            positional => {
                if url.replace(positional.to_owned()).is_some() {
                    return Err(CurlError("more than one URL".into()));
                }
            }
        }
        i += 1;
    }
    let Some(url) = url else {
        return Err(CurlError("the curl command has no URL".into()));
    };
    let method = match method {
        Some(m) => Method::parse(&m).ok_or_else(|| {
            CurlError(format!(
                "method `{m}` is not supported (GET, HEAD, POST, PUT, PATCH or DELETE)"
            ))
        })?,
        None if !data.is_empty() => Method::Post,
        None => Method::Get,
    };
    let has_header = |headers: &[(Template, Template)], name: &str| {
        headers
            .iter()
            .any(|(n, _)| n.as_literal().is_some_and(|t| t.eq_ignore_ascii_case(name)))
    };
    // What curl adds by itself.
    if json {
        if !has_header(&headers, "content-type") {
            headers.push((literal("Content-Type"), literal("application/json")));
        }
        if !has_header(&headers, "accept") {
            headers.push((literal("Accept"), literal("application/json")));
        }
    } else if !data.is_empty() && !has_header(&headers, "content-type") {
        headers.push((
            literal("Content-Type"),
            literal("application/x-www-form-urlencoded"),
        ));
    }
    let body = if data.is_empty() {
        None
    } else {
        Some(template("data", &data.join("&"))?)
    };
    Ok(ParsedCurl {
        request: Request {
            method,
            url: template("URL", &url)?,
            headers,
            body,
            basic_auth: user.map(|u| template("user", &u)).transpose()?,
        },
        warnings,
    })
}

fn literal(text: &str) -> Template {
    Template::literal(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(t: &Template) -> String {
        t.render(
            &json!({"data": {"project": "shop", "stage": "dev"}, "env": {"secretKey": "k 'v'"}}),
        )
        .unwrap()
    }

    #[test]
    fn keptns_readme_commands_read_as_requests() {
        let p = parse("curl --header 'x-token: {{.env.secretKey}}' http://shipyard-controller:8080/v1/project/{{.data.project}}").unwrap();
        assert_eq!(p.request.method, Method::Get);
        assert_eq!(
            render(&p.request.url),
            "http://shipyard-controller:8080/v1/project/shop"
        );
        assert_eq!(p.request.headers.len(), 1);
        assert_eq!(render(&p.request.headers[0].0), "x-token");
        assert_eq!(render(&p.request.headers[0].1), "k 'v'");
        assert!(p.request.body.is_none());

        let p = parse("curl --request POST -H 'Content-Type: application/json' --data '{\"text\": \"{{.data.project}} in {{ .data.stage }}\"}' https://hooks.example/x").unwrap();
        assert_eq!(p.request.method, Method::Post);
        assert_eq!(
            render(p.request.body.as_ref().unwrap()),
            "{\"text\": \"shop in dev\"}"
        );
        assert_eq!(p.request.headers.len(), 1, "the given content type is kept");
    }

    #[test]
    fn curls_defaults_are_kept() {
        let p = parse("curl -d a=1 -d b=2 http://x/").unwrap();
        assert_eq!(p.request.method, Method::Post);
        assert_eq!(render(p.request.body.as_ref().unwrap()), "a=1&b=2");
        assert_eq!(
            render(&p.request.headers[0].1),
            "application/x-www-form-urlencoded"
        );
        let p = parse("curl -XPUT --json '{}' -u 'me:{{.env.secretKey}}' http://x/").unwrap();
        assert_eq!(p.request.method, Method::Put);
        assert_eq!(render(&p.request.headers[0].1), "application/json");
        assert_eq!(render(p.request.basic_auth.as_ref().unwrap()), "me:k 'v'");
    }

    #[test]
    fn placeholders_with_blanks_stay_in_their_word() {
        assert_eq!(
            words("curl http://x/{{ .data.project }} -H 'a: b'").unwrap(),
            ["curl", "http://x/{{ .data.project }}", "-H", "a: b"]
        );
        assert_eq!(words(r"curl a\ b").unwrap(), ["curl", "a b"]);
    }

    #[test]
    fn what_cannot_be_sent_is_refused_by_name() {
        for (cmd, msg) in [
            (
                "curl -o /tmp/x http://x/",
                "curl command contains invalid option '-o'",
            ),
            (
                "curl -d @/etc/passwd http://x/",
                "file uploads using @ in --data are not allowed",
            ),
            (
                "curl --proxy http://p:1 http://x/",
                "curl option `--proxy` is not supported",
            ),
            ("curl -k https://x/", "curl option `-k` is not supported"),
            ("curl http://x/ http://y/", "more than one URL"),
            ("curl -X", "curl option `-X` needs a value"),
            ("curl 'http://x/", "unclosed quote in command"),
            (
                "wget http://x/",
                "the command must start with `curl`, not `wget`",
            ),
            ("curl -X TRACE http://x/", "method `TRACE` is not supported"),
            ("curl -H nocolon http://x/", "header `nocolon` has no `:`"),
            ("curl -s", "the curl command has no URL"),
            ("", "no command provided"),
        ] {
            let e = parse(cmd).unwrap_err();
            assert!(e.0.starts_with(msg), "{cmd}: {}", e.0);
        }
        assert_eq!(parse("curl -L http://x/").unwrap().warnings.len(), 1);
    }
}
