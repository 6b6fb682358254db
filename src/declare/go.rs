//! Finds Encore-style secret declarations in Go sources:
//!
//! ```go
//! var secrets struct {
//!     GitHubAPIToken string // personal access token for the bot
//!     // Key used to sign webhooks.
//!     WebhookKey string
//! }
//! ```
//!
//! An unexported, package-level `var secrets struct { … }` (also inside a `var ( … )` group).
//! Field comments (trailing, else the comment lines above) become descriptions. Fields must be
//! `string`. `vendor/`, `testdata/`, hidden folders and `_test.go` files are skipped.

use super::{Found, ScanError};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    Ident(&'a str),
    Punct(char),
    /// A string literal (a struct tag, say).
    Str,
    /// Any other literal.
    Lit,
    Comment(&'a str),
    Newline,
}

/// Splits Go source into the tokens the scanner needs, with 1-based line numbers.
fn lex(src: &str) -> Vec<(Tok<'_>, usize)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < b.len() {
        let c = b[i];
        let start_line = line;
        if let Some((text, end, newlines)) = super::comment(src, i) {
            out.push((Tok::Comment(text), line));
            if newlines > 0 {
                line += newlines;
                out.push((Tok::Newline, line));
            }
            i = end;
            continue;
        }
        match c {
            b'\n' => {
                out.push((Tok::Newline, line));
                line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'"' | b'\'' | b'`' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != c {
                    if c != b'`' && b[j] == b'\\' {
                        j += 1;
                    } else if b[j] == b'\n' {
                        if c != b'`' {
                            break;
                        }
                        line += 1;
                    }
                    j += 1;
                }
                out.push((if c == b'\'' { Tok::Lit } else { Tok::Str }, start_line));
                i = (j + 1).min(b.len());
            }
            _ if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let mut j = i;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80)
                {
                    j += 1;
                }
                out.push((Tok::Ident(&src[i..j]), line));
                i = j;
            }
            _ if c.is_ascii_digit() => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_')
                {
                    i += 1;
                }
                out.push((Tok::Lit, line));
            }
            _ => {
                out.push((Tok::Punct(c as char), line));
                i += 1;
            }
        }
    }
    out
}

/// Finds the secret fields declared in one Go file's source.
pub fn scan_source(file: &Path, src: &str) -> Result<Vec<Found>, ScanError> {
    let toks = lex(src);
    let significant = |k: usize| !matches!(toks[k].0, Tok::Comment(_) | Tok::Newline);
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut var_group: Option<usize> = None;
    let mut prev: Option<usize> = None; // previous significant token
    let mut k = 0;
    while k < toks.len() {
        let (tok, _) = &toks[k];
        match tok {
            Tok::Punct('(' | '{' | '[') => {
                if *tok == Tok::Punct('(')
                    && depth == 0
                    && prev.map(|p| &toks[p].0) == Some(&Tok::Ident("var"))
                {
                    var_group = Some(1);
                }
                depth += 1;
            }
            Tok::Punct(')' | '}' | ']') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    var_group = None;
                }
            }
            Tok::Ident("secrets") => {
                let at_top = depth == 0 && prev.map(|p| &toks[p].0) == Some(&Tok::Ident("var"));
                let in_group = var_group == Some(depth)
                    && prev.is_some_and(|p| {
                        matches!(toks[p].0, Tok::Punct('(' | ';')) || toks[k - 1].0 == Tok::Newline
                    });
                let next: Vec<usize> = (k + 1..toks.len())
                    .filter(|&j| significant(j))
                    .take(2)
                    .collect();
                let is_struct = next.len() == 2
                    && toks[next[0]].0 == Tok::Ident("struct")
                    && toks[next[1]].0 == Tok::Punct('{');
                if (at_top || in_group) && is_struct {
                    let (fields, end) = parse_fields(file, &toks, next[1] + 1)?;
                    out.extend(fields);
                    prev = Some(end);
                    k = end + 1;
                    continue;
                }
            }
            _ => {}
        }
        if significant(k) {
            prev = Some(k);
        }
        k += 1;
    }
    Ok(out)
}

/// Parses struct fields from `start` (just after `{`) to the matching `}`; returns the fields and
/// the index of the `}`.
fn parse_fields(
    file: &Path,
    toks: &[(Tok<'_>, usize)],
    start: usize,
) -> Result<(Vec<Found>, usize), ScanError> {
    let invalid = |line: usize, message: String| ScanError::Invalid {
        file: file.into(),
        line,
        message,
    };
    let mut out = Vec::new();
    let mut doc: Vec<&str> = Vec::new();
    let mut k = start;
    loop {
        // One line (up to a newline or ';'), split into code and comments.
        let mut code: Vec<(Tok<'_>, usize)> = Vec::new();
        let mut comments: Vec<&str> = Vec::new();
        let mut closed = false;
        while k < toks.len() {
            match &toks[k].0 {
                Tok::Newline | Tok::Punct(';') => {
                    k += 1;
                    break;
                }
                Tok::Punct('}')
                    if code.is_empty() || !code.iter().any(|(t, _)| *t == Tok::Punct('{')) =>
                {
                    closed = true;
                    break;
                }
                Tok::Comment(c) => comments.push(c),
                t => code.push((t.clone(), toks[k].1)),
            }
            k += 1;
        }
        if code.is_empty() {
            if comments.is_empty() {
                doc.clear();
            } else {
                doc.extend(comments);
            }
        } else {
            let line = code[0].1;
            let mut names = Vec::new();
            let mut i = 0;
            while let Some((Tok::Ident(n), _)) = code.get(i) {
                names.push(*n);
                if code.get(i + 1).map(|t| &t.0) == Some(&Tok::Punct(',')) {
                    i += 2;
                } else {
                    i += 1;
                    break;
                }
            }
            let mut ty: Vec<&Tok<'_>> = code[i.min(code.len())..].iter().map(|(t, _)| t).collect();
            if ty.last() == Some(&&Tok::Str) && ty.len() > 1 {
                ty.pop(); // a struct tag
            }
            if names.is_empty() || ty.is_empty() {
                return Err(invalid(
                    line,
                    "`var secrets struct` may hold only named string fields (e.g. `APIKey string`); embedded fields are not secrets".into(),
                ));
            }
            if ty != [&Tok::Ident("string")] {
                return Err(invalid(
                    line,
                    format!(
                        "secret field {} has type `{}`; fields of `var secrets struct` must be `string`",
                        names.join(", "),
                        render(&ty)
                    ),
                ));
            }
            let desc = if comments.is_empty() {
                doc.join(" ")
            } else {
                comments.join(" ")
            };
            for n in names {
                let name = n
                    .parse()
                    .map_err(|e: crate::model::InvalidInput| invalid(line, e.0))?;
                out.push(Found {
                    name,
                    description: Some(desc.trim().to_string()).filter(|d| !d.is_empty()),
                    file: file.into(),
                    line,
                });
            }
            doc.clear();
        }
        if closed {
            return Ok((out, k));
        }
        if k >= toks.len() {
            return Err(invalid(
                toks.last().map_or(1, |t| t.1),
                "`var secrets struct {` is not closed".into(),
            ));
        }
    }
}

fn render(ty: &[&Tok<'_>]) -> String {
    ty.iter()
        .map(|t| match t {
            Tok::Ident(s) => (*s).to_string(),
            Tok::Punct(c) => c.to_string(),
            Tok::Str => "\"…\"".into(),
            _ => "…".into(),
        })
        .collect::<Vec<_>>()
        .join("")
        .replace("struct{", "struct {")
}

/// Scans every `.go` file under `root` (skipping `vendor/`, `testdata/`, `node_modules/`,
/// hidden folders and `_test.go`), in path order.
pub fn scan_dir(root: &Path) -> Result<Vec<Found>, ScanError> {
    let skip_dir = |n: &str| matches!(n, "vendor" | "testdata" | "node_modules");
    let want = |n: &str| n.ends_with(".go") && !n.ends_with("_test.go");
    super::scan_tree(root, "Go", &skip_dir, &want, scan_source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(src: &str) -> Result<Vec<(String, Option<String>, usize)>, ScanError> {
        Ok(scan_source(Path::new("x.go"), src)?
            .into_iter()
            .map(|s| (s.name.to_string(), s.description, s.line))
            .collect())
    }

    #[test]
    fn any_text_scans_without_panicking() {
        // Regression: a file ending inside a comment with a multi-byte character panicked.
        let src = "package p\n// é\nvar secrets struct {\n\tA string // ü\n}\n/* ünterminated é \"x\" `y` '\\é' 7é";
        for end in (0..=src.len()).filter(|&e| src.is_char_boundary(e)) {
            for start in (0..end).filter(|&s| src.is_char_boundary(s)) {
                let _ = scan(&src[start..end]);
            }
        }
        assert!(scan("/* é").unwrap().is_empty());
        assert!(scan("/*é*/").unwrap().is_empty());
    }

    #[test]
    fn finds_fields_with_trailing_and_leading_comments() {
        let src = r#"package svc

import "encore.dev/rlog"

// secrets are filled in by the platform.
var secrets struct {
	GitHubAPIToken string // token for the bot
	// Key used to sign webhooks.
	// Rotated yearly.
	WebhookKey string

	A, B string `json:"x"`
}

func f() { var secrets struct{ Inner string }; _ = secrets }
"#;
        let got = scan(src).unwrap();
        assert_eq!(
            got,
            vec![
                ("GitHubAPIToken".into(), Some("token for the bot".into()), 7),
                (
                    "WebhookKey".into(),
                    Some("Key used to sign webhooks. Rotated yearly.".into()),
                    10
                ),
                ("A".into(), None, 12),
                ("B".into(), None, 12),
            ]
        );
    }

    #[test]
    fn finds_the_var_group_form_and_ignores_strings_and_comments() {
        let src = "package p\nconst s = \"var secrets struct { Fake string }\"\n/* var secrets struct { Fake2 string } */\nvar (\n\tx = 1\n\tsecrets struct {\n\t\tDbURL string\n\t}\n)\n";
        assert_eq!(scan(src).unwrap(), vec![("DbURL".into(), None, 7)]);
    }

    #[test]
    fn exported_or_other_names_are_not_secrets() {
        assert!(
            scan("package p\nvar Secrets struct { X string }\nvar cfg struct { Y string }\n")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn non_string_fields_name_file_and_line() {
        let err = scan("package p\n\nvar secrets struct {\n\tOk string\n\tPort int\n}\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("x.go:5:") && err.contains("Port") && err.contains("`int`"),
            "{err}"
        );
        let err = scan("package p\nvar secrets struct {\n\tNested struct{ A string }\n}\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x.go:3") && err.contains("must be `string`"),
            "{err}"
        );
        let err = scan("package p\nvar secrets struct {\n\tfmt.Stringer\n}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.go:3"), "{err}");
    }

    #[test]
    fn scan_dir_skips_vendor_testdata_and_tests() {
        let dir = tempfile::tempdir().unwrap();
        let w = |p: &str, s: &str| {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, s).unwrap();
        };
        let decl = |n: &str| format!("package p\nvar secrets struct {{\n\t{n} string\n}}\n");
        w("a/svc.go", &decl("Alpha"));
        w("b/svc.go", &decl("Alpha"));
        w("b/more.go", &decl("Beta"));
        w("vendor/x/x.go", &decl("Vendored"));
        w("a/testdata/t.go", &decl("TestData"));
        w("a/svc_test.go", &decl("InTest"));
        w(".git/x.go", &decl("Hidden"));
        let names: Vec<String> = scan_dir(dir.path())
            .unwrap()
            .into_iter()
            .map(|s| s.name.to_string())
            .collect();
        assert_eq!(names, ["Alpha", "Beta", "Alpha"]);
    }
}
