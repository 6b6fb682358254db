//! Finds Encore.ts secret declarations in TypeScript sources:
//!
//! ```ts
//! import { secret } from "encore.dev/config";
//!
//! // Stripe's API key, for charges.
//! const stripeKey = secret("StripeKey");
//! ```
//!
//! A call of `secret` imported from `encore.dev/config` (also renamed, `{ secret as s }`, or
//! through a namespace, `import * as config` and `config.secret("Name")`) with a string literal
//! declares that secret. A comment on the same line, else the comment lines right above, is its
//! description. A call whose name is not a literal is an error (file:line), as it is for Encore.
//! Comments, strings, template literals and regular expressions are not code; `node_modules`,
//! generated and build folders (`encore.gen`, `dist`, `build`, `coverage`), `__tests__`, hidden
//! folders, `.d.ts` and test files (`*.test.ts`, `*.spec.ts`) are skipped.

use super::{Found, ScanError};
use std::path::Path;

/// The module Encore.ts exports `secret` from.
const MODULE: &str = "encore.dev/config";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok<'a> {
    Ident(&'a str),
    Punct(char),
    /// A string literal, or a template literal without `${}`: its raw text.
    Str(&'a str),
    /// A template literal with `${}` in it.
    Template,
    /// A number or a regular expression.
    Lit,
    Comment(&'a str),
    Newline,
}

/// Whether a `/` after this token starts a regular expression (not a division).
fn regex_may_follow(prev: Option<&Tok<'_>>) -> bool {
    match prev {
        None => true,
        Some(Tok::Punct(c)) => !matches!(c, ')' | ']' | '}'),
        Some(Tok::Ident(w)) => matches!(
            *w,
            "return"
                | "typeof"
                | "case"
                | "do"
                | "else"
                | "in"
                | "of"
                | "new"
                | "delete"
                | "void"
                | "throw"
                | "instanceof"
                | "yield"
                | "await"
        ),
        _ => false,
    }
}

/// The last token that is not a comment or a line end.
fn prev_code<'a>(out: &[(Tok<'a>, usize)]) -> Option<Tok<'a>> {
    out.iter()
        .rev()
        .map(|(t, _)| t)
        .find(|t| !matches!(t, Tok::Comment(_) | Tok::Newline))
        .cloned()
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// Splits TypeScript source into the tokens the scanner needs, with 1-based line numbers.
fn lex(src: &str) -> Vec<(Tok<'_>, usize)> {
    let b = src.as_bytes();
    let mut out: Vec<(Tok<'_>, usize)> = Vec::new();
    let (mut i, mut line) = (0, 1);
    // Open braces: `true` for a template literal's `${`, where a `}` resumes the template.
    let mut braces: Vec<bool> = Vec::new();
    // Reads template text from `i` to its closing backtick or a `${` (or the end of an
    // unterminated one); returns where the text ends, where lexing goes on, and whether it
    // stopped at a `${`.
    let template = |mut i: usize, line: &mut usize| -> (usize, usize, bool) {
        while i < b.len() {
            match b[i] {
                b'\\' => i += 1,
                b'\n' => *line += 1,
                b'`' => return (i, i + 1, false),
                b'$' if b.get(i + 1) == Some(&b'{') => return (i, i + 2, true),
                _ => {}
            }
            i += 1;
        }
        (b.len(), b.len(), false)
    };
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
            b'/' if regex_may_follow(prev_code(&out).as_ref()) => {
                let (mut j, mut class) = (i + 1, false);
                while j < b.len() && b[j] != b'\n' {
                    match b[j] {
                        b'\\' => j += 1,
                        b'[' => class = true,
                        b']' => class = false,
                        b'/' if !class => break,
                        _ => {}
                    }
                    j += 1;
                }
                j = (j + 1).min(b.len());
                while j < b.len() && b[j].is_ascii_alphabetic() {
                    j += 1;
                }
                out.push((Tok::Lit, line));
                i = j;
            }
            b'"' | b'\'' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != c && b[j] != b'\n' {
                    if b[j] == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
                let end = j.min(b.len());
                out.push((Tok::Str(&src[i + 1..end]), start_line));
                i = (j + 1).min(b.len());
            }
            b'`' => {
                let (text_end, next, interp) = template(i + 1, &mut line);
                if interp {
                    braces.push(true);
                    out.push((Tok::Template, start_line));
                } else {
                    // (An escape just before the end can point past it.)
                    out.push((Tok::Str(&src[i + 1..text_end.min(b.len())]), start_line));
                }
                i = next.min(b.len());
            }
            b'{' => {
                braces.push(false);
                out.push((Tok::Punct('{'), line));
                i += 1;
            }
            b'}' => {
                if braces.pop() == Some(true) {
                    // The end of a `${…}`: the template goes on.
                    let (_, next, interp) = template(i + 1, &mut line);
                    if interp {
                        braces.push(true);
                    }
                    i = next.min(b.len());
                } else {
                    out.push((Tok::Punct('}'), line));
                    i += 1;
                }
            }
            _ if is_ident_byte(c) && !c.is_ascii_digit() => {
                let mut j = i;
                while j < b.len() && is_ident_byte(b[j]) {
                    j += 1;
                }
                out.push((Tok::Ident(&src[i..j]), line));
                i = j;
            }
            _ if c.is_ascii_digit() => {
                while i < b.len() && (is_ident_byte(b[i]) || b[i] == b'.') {
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

/// How a file reaches `secret` from `encore.dev/config`.
#[derive(Debug, Default)]
struct Imports<'a> {
    /// Local names of `secret` (`secret`, or `s` for `{ secret as s }`).
    names: Vec<&'a str>,
    /// Namespaces (`config` for `import * as config`).
    namespaces: Vec<&'a str>,
}

/// Reads the `import … from "encore.dev/config"` statements among `code`.
fn imports<'a>(code: &[(Tok<'a>, usize)]) -> Imports<'a> {
    let mut out = Imports::default();
    for (k, (t, _)) in code.iter().enumerate() {
        if *t != Tok::Ident("import") || (k > 0 && code[k - 1].0 == Tok::Punct('.')) {
            continue;
        }
        // The clause runs to `from`; the module follows it.
        let Some(from) = code[k + 1..]
            .iter()
            // An import clause is short; the cap keeps a file of stray `import` words linear.
            .take(200)
            .position(|(t, _)| *t == Tok::Ident("from") || *t == Tok::Punct(';'))
            .map(|p| k + 1 + p)
        else {
            continue;
        };
        if code[from].0 != Tok::Ident("from")
            || code.get(from + 1).map(|t| &t.0) != Some(&Tok::Str(MODULE))
        {
            continue;
        }
        let clause = &code[k + 1..from];
        if clause.first().map(|t| &t.0) == Some(&Tok::Ident("type")) {
            continue;
        }
        let mut j = 0;
        while j < clause.len() {
            match &clause[j].0 {
                Tok::Punct('*') => {
                    if let (Some((Tok::Ident("as"), _)), Some((Tok::Ident(ns), _))) =
                        (clause.get(j + 1), clause.get(j + 2))
                    {
                        out.namespaces.push(ns);
                    }
                    j += 3;
                }
                Tok::Punct('{') => {
                    // Specifiers: `[type] name [as local]`, comma-separated.
                    let end = clause[j..]
                        .iter()
                        .position(|(t, _)| *t == Tok::Punct('}'))
                        .map_or(clause.len(), |p| j + p);
                    for spec in clause[j + 1..end].split(|(t, _)| *t == Tok::Punct(',')) {
                        let words: Vec<&str> = spec
                            .iter()
                            .filter_map(|(t, _)| match t {
                                Tok::Ident(w) => Some(*w),
                                _ => None,
                            })
                            .collect();
                        match words.as_slice() {
                            ["secret"] => out.names.push("secret"),
                            ["secret", "as", local] => out.names.push(local),
                            _ => {}
                        }
                    }
                    j = end + 1;
                }
                _ => j += 1,
            }
        }
    }
    out
}

/// Finds the secrets declared in one TypeScript file's source.
pub fn scan_source(file: &Path, src: &str) -> Result<Vec<Found>, ScanError> {
    let toks = lex(src);
    let code: Vec<(Tok<'_>, usize)> = toks
        .iter()
        .filter(|(t, _)| !matches!(t, Tok::Comment(_) | Tok::Newline))
        .cloned()
        .collect();
    let imp = imports(&code);
    if imp.names.is_empty() && imp.namespaces.is_empty() {
        return Ok(Vec::new());
    }
    let lines = by_line(&toks);
    let mut out = Vec::new();
    for k in 0..code.len() {
        let Tok::Ident(name) = code[k].0 else {
            continue;
        };
        let prev = k.checked_sub(1).map(|p| &code[p].0);
        let direct = imp.names.contains(&name)
            && prev != Some(&Tok::Punct('.'))
            && !matches!(prev, Some(Tok::Ident("function" | "import" | "as")));
        let through_ns = name == "secret"
            && prev == Some(&Tok::Punct('.'))
            && k >= 2
            && matches!(code[k - 2].0, Tok::Ident(ns) if imp.namespaces.contains(&ns))
            && !(k >= 3 && code[k - 3].0 == Tok::Punct('.'));
        if !(direct || through_ns) || code.get(k + 1).map(|t| &t.0) != Some(&Tok::Punct('(')) {
            continue;
        }
        let line = code[k].1;
        let invalid = |message: String| ScanError::Invalid {
            file: file.into(),
            line,
            message,
        };
        let arg = code.get(k + 2).map(|t| &t.0);
        let after = code.get(k + 3).map(|t| &t.0);
        let literal = match (arg, after) {
            (Some(Tok::Str(s)), Some(Tok::Punct(')' | ','))) => s,
            _ => {
                return Err(invalid(format!(
                    "{name}(…) must name the secret with a string literal (e.g. {name}(\"StripeKey\")), as Encore requires; secretsync cannot see a computed name"
                )))
            }
        };
        let secret = literal
            .parse()
            .map_err(|e: crate::model::InvalidInput| invalid(e.0))?;
        out.push(Found {
            name: secret,
            description: description(&lines, line),
            file: file.into(),
            line,
        });
    }
    Ok(out)
}

/// Each line's tokens (line ends left out), to read comments by line.
type Lines<'t, 'a> = std::collections::BTreeMap<usize, Vec<&'t Tok<'a>>>;

fn by_line<'t, 'a>(toks: &'t [(Tok<'a>, usize)]) -> Lines<'t, 'a> {
    let mut lines = Lines::new();
    for (t, l) in toks.iter().filter(|(t, _)| *t != Tok::Newline) {
        lines.entry(*l).or_default().push(t);
    }
    lines
}

/// The comments on `line`, else on the lines right above it that hold comments only.
fn description(lines: &Lines<'_, '_>, line: usize) -> Option<String> {
    let on = |l: usize| lines.get(&l).map_or(&[][..], Vec::as_slice);
    let comments = |ts: &[&Tok<'_>]| -> Vec<String> {
        ts.iter()
            .filter_map(|t| match t {
                Tok::Comment(c) => Some(
                    c.lines()
                        .map(|l| l.trim().trim_start_matches('*').trim())
                        .filter(|l| !l.is_empty())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                _ => None,
            })
            .filter(|c| !c.is_empty())
            .collect()
    };
    let mut found = comments(on(line));
    if found.is_empty() {
        let mut l = line;
        while l > 1 {
            l -= 1;
            let ts = on(l);
            if ts.is_empty() || !ts.iter().all(|t| matches!(t, Tok::Comment(_))) {
                break;
            }
            found.splice(0..0, comments(ts));
        }
    }
    Some(found.join(" ")).filter(|d| !d.is_empty())
}

/// Scans every TypeScript file under `root` (`.ts`, `.tsx`, `.mts`, `.cts`; not `.d.ts` or
/// tests), skipping `node_modules`, generated, build and test folders, in path order.
pub fn scan_dir(root: &Path) -> Result<Vec<Found>, ScanError> {
    let skip_dir = |n: &str| {
        matches!(
            n,
            "node_modules" | "encore.gen" | "dist" | "build" | "coverage" | "__tests__"
        )
    };
    let want = |n: &str| {
        [".ts", ".tsx", ".mts", ".cts"]
            .iter()
            .any(|e| n.ends_with(e))
            && ![".d.ts", ".d.mts", ".d.cts"].iter().any(|e| n.ends_with(e))
            && ![".test.", ".spec."].iter().any(|t| n.contains(t))
    };
    super::scan_tree(root, "TypeScript", &skip_dir, &want, scan_source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(src: &str) -> Result<Vec<(String, Option<String>, usize)>, ScanError> {
        Ok(scan_source(Path::new("x.ts"), src)?
            .into_iter()
            .map(|s| (s.name.to_string(), s.description, s.line))
            .collect())
    }

    #[test]
    fn finds_calls_with_their_comments() {
        let src = r#"import { api } from "encore.dev/api";
import { secret } from "encore.dev/config";

// Stripe's API key.
// Rotated yearly.
const stripeKey = secret("StripeKey");
const gh = secret('GitHubAPIToken'); // the bot's token
/** Signs webhooks. */
export const hook = secret(`WebhookKey`);

const db = secret(
  "DatabaseURL",
);
"#;
        assert_eq!(
            scan(src).unwrap(),
            vec![
                (
                    "StripeKey".into(),
                    Some("Stripe's API key. Rotated yearly.".into()),
                    6
                ),
                ("GitHubAPIToken".into(), Some("the bot's token".into()), 7),
                ("WebhookKey".into(), Some("Signs webhooks.".into()), 9),
                ("DatabaseURL".into(), None, 11),
            ]
        );
    }

    #[test]
    fn renamed_and_namespace_imports_count() {
        let src = "import { secret as s, type Foo } from 'encore.dev/config';\nimport * as config from \"encore.dev/config\";\nconst a = s(\"A\");\nconst b = config.secret(\"B\");\nconst c = other.secret(\"NotOurs\");\n";
        let names: Vec<String> = scan(src).unwrap().into_iter().map(|s| s.0).collect();
        assert_eq!(names, ["A", "B"]);
    }

    #[test]
    fn without_the_import_comments_strings_regexes_and_templates_are_not_calls() {
        // No import from encore.dev/config: another `secret` function.
        assert!(scan("import { secret } from './mine';\nsecret(\"X\");\n")
            .unwrap()
            .is_empty());
        let src = r#"import { secret } from "encore.dev/config";
// secret("InComment")
/* secret("InBlock") */
const s1 = "secret(\"InString\")";
const r = /secret\("InRegex"\)/g;
const t = `secret("InTemplate") ${ x + `secret("Nested")` } secret("After")`;
const ok = secret("Real");
function secret2() {}
obj.secret("Method");
"#;
        let names: Vec<String> = scan(src).unwrap().into_iter().map(|s| s.0).collect();
        assert_eq!(names, ["Real"]);
    }

    #[test]
    fn a_code_in_an_interpolation_is_code() {
        let src =
            "import { secret } from \"encore.dev/config\";\nconst t = `${secret(\"InInterp\")}`;\n";
        let names: Vec<String> = scan(src).unwrap().into_iter().map(|s| s.0).collect();
        assert_eq!(names, ["InInterp"]);
    }

    #[test]
    fn computed_or_invalid_names_give_file_and_line() {
        let err =
            scan("import { secret } from \"encore.dev/config\";\n\nconst k = secret(name);\n")
                .unwrap_err()
                .to_string();
        assert!(
            err.starts_with("x.ts:3:") && err.contains("string literal"),
            "{err}"
        );
        let err =
            scan("import { secret } from \"encore.dev/config\";\nconst k = secret(`Key${n}`);\n")
                .unwrap_err()
                .to_string();
        assert!(err.starts_with("x.ts:2:"), "{err}");
        let err = scan(
            "import { secret } from \"encore.dev/config\";\nconst k = secret(\"bad-name\");\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("x.ts:2:"), "{err}");
    }

    #[test]
    fn an_unterminated_template_ending_in_a_wide_character_scans() {
        // Regression (found by the go_scan fuzz target): the template's text was cut one byte
        // short of the end of the file, inside a multi-byte character.
        for src in [
            "`é",
            "`a\\é",
            "x = `${1}é",
            "import { secret } from \"encore.dev/config\";\nsecret(`Aé",
        ] {
            let _ = scan(src);
        }
        // The fuzzer's input (its `&str`: the file's longest valid UTF-8 prefix).
        let _ = scan(include_str!(
            "../../fuzz/seeds/go_scan/crash-ts-unterminated-template"
        ));
    }

    #[test]
    fn any_text_scans_without_panicking() {
        let src = "import { secret } from \"encore.dev/config\";\nconst a = secret(\"Aé\");\n/* é `x ${ \"y\" } ' / [ \\é";
        for end in (0..=src.len()).filter(|&e| src.is_char_boundary(e)) {
            for start in (0..end).filter(|&s| src.is_char_boundary(s)) {
                let _ = scan(&src[start..end]);
            }
        }
    }

    #[test]
    fn scan_dir_skips_dependencies_generated_folders_and_tests() {
        let dir = tempfile::tempdir().unwrap();
        let w = |p: &str, n: &str| {
            let p = dir.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(
                p,
                format!("import {{ secret }} from \"encore.dev/config\";\nexport const k = secret(\"{n}\");\n"),
            )
            .unwrap();
        };
        w("billing/billing.ts", "Alpha");
        w("web/page.tsx", "Beta");
        w("node_modules/x/index.ts", "Dep");
        w("encore.gen/clients.ts", "Generated");
        w("dist/billing.ts", "Built");
        w("billing/billing.test.ts", "InTest");
        w("billing/__tests__/x.ts", "InTests");
        w("types/env.d.ts", "Types");
        w(".encore/x.ts", "Hidden");
        let names: Vec<String> = scan_dir(dir.path())
            .unwrap()
            .into_iter()
            .map(|s| s.name.to_string())
            .collect();
        assert_eq!(names, ["Alpha", "Beta"]);
    }
}
