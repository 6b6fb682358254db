//! The pages about secrets: the matrix, one secret, and the set and delete forms.

use super::{csrf, layout, Page, Revealed};
use crate::app::overview::{EnvRow, Overview, SecretRow, Source};
use crate::app::secrets::{DeleteOutcome, SecretDetails, SetOutcome, SetPreview};
use crate::model::{EnvType, Selector};
use maud::{html, Markup};
use secretsync_core::SecretValue;

fn cell_text(source: Source, version: Option<u64>, declared: bool) -> (String, &'static str) {
    let v = version.map(|v| format!(" v{v}")).unwrap_or_default();
    match source {
        Source::Set => (format!("set{v}"), "set"),
        Source::Override => (format!("override{v}"), "override"),
        Source::Type => (format!("via type{v}"), "type"),
        Source::Missing if declared => ("missing (declared)".into(), "missing declared"),
        Source::Missing => ("not set".into(), "missing"),
    }
}

fn type_boxes(checked: &[EnvType]) -> Markup {
    html! {
        fieldset.types {
            legend { "For the types" }
            @for t in EnvType::ALL {
                label {
                    input type="checkbox" name="type" value=(t.as_str()) checked[checked.contains(&t)];
                    " " (t.as_str())
                }
            }
        }
    }
}

fn env_choice(envs: &[EnvRow]) -> Markup {
    html! {
        label {
            "…or an override for one environment "
            select name="env" {
                option value="" { "(none)" }
                @for e in envs.iter().filter(|e| e.declared) {
                    option value=(e.name) { (e.name) " (" (e.env_type) ")" }
                }
            }
        }
    }
}

/// The secrets × environments matrix, with `check`'s verdict per environment.
pub fn overview(p: &Page, o: &Overview, filter: &str) -> Markup {
    let (list, check, envs) = (&o.list, &o.check, &o.environments);
    let body = html! {
        h1 { "Secrets of " (list.app) }
        form.filter method="get" action="/" role="search" {
            label { "Filter by name " input type="search" name="q" value=(filter); }
            button type="submit" { "Filter" }
        }
        table.matrix {
            caption { "Which environment gets which value (never the values themselves)" }
            thead {
                tr {
                    th scope="col" { "Secret" }
                    @for e in &list.env_names {
                        th scope="col" { a href="/environments" { (e) } }
                    }
                }
            }
            tbody {
                @for s in &list.secrets {
                    (matrix_row(s, &list.env_names))
                }
                @if list.secrets.is_empty() {
                    tr { td colspan=(list.env_names.len() + 1) { "No secrets" @if !filter.is_empty() { " match " (filter) } "." } }
                }
            }
            tfoot {
                tr.verdict {
                    th scope="row" { "check" }
                    @for e in &list.env_names {
                        @let missing = check.environments.iter().find(|c| &c.name == e).map_or(0, |c| c.missing.len());
                        @if missing == 0 {
                            td.ok data-env=(e) { "ok" }
                        } @else {
                            td.missing.declared data-env=(e) title="declared secrets with no value here" { (missing) " missing" }
                        }
                    }
                }
            }
        }
        p.legend { "set: the type's own value · override: the environment's own value · via type: a declared environment reading its type's value · missing (declared): the app needs it and has no value there" }
        section {
            h2 { "New secret" }
            form method="get" action="/set" {
                label { "Name " input type="text" name="name" required pattern="[A-Za-z_][A-Za-z0-9_]*" autocomplete="off"; }
                (type_boxes(&[]))
                (env_choice(envs))
                button type="submit" { "Next: preview" }
            }
        }
    };
    layout("Secrets", Some(p), body)
}

fn matrix_row(s: &SecretRow, env_names: &[String]) -> Markup {
    html! {
        tr id={ "row-" (s.name) } {
            th scope="row" {
                a href={ "/secrets/" (s.name) } { (s.name) }
                @if !s.declared { " " span.tag { "not declared" } }
                @if let Some(d) = &s.description { br; small.desc { (d) } }
            }
            @for e in env_names {
                @if let Some(c) = s.environments.get(e) {
                    @let (text, class) = cell_text(c.source, c.version, s.declared);
                    td class=(class) data-env=(e) { (text) }
                } @else {
                    td data-env=(e) {}
                }
            }
        }
    }
}

/// Renders a value for the one Reveal: text as text, anything else as base64.
fn shown(v: &SecretValue) -> Markup {
    match v
        .as_str()
        .filter(|s| !s.chars().any(|c| c.is_control() && !"\n\r\t".contains(c)))
    {
        Some(text) => html! { pre #revealed { (text) } },
        None => {
            use base64::Engine;
            html! {
                p { "Binary value, " (v.len()) " bytes, shown as base64:" }
                pre #revealed { (base64::engine::general_purpose::STANDARD.encode(v.expose())) }
            }
        }
    }
}

/// A secret: where each environment's value comes from, each stored value with its history,
/// and the forms to set, delete, roll back and reveal.
pub fn secret(p: &Page, d: &SecretDetails, envs: &[EnvRow], revealed: Option<&Revealed>) -> Markup {
    let body = html! {
        p { a href="/" { "← Secrets" } }
        h1 { (d.name) }
        @if let Some(desc) = &d.description { p.desc { (desc) } }
        @if !d.declared { p.note { "The app does not declare this secret." } }
        table.where {
            caption { "Where each environment's value comes from" }
            thead { tr { th scope="col" { "Environment" } th scope="col" { "Value" } } }
            tbody {
                @for (env, c) in &d.environments {
                    @let (text, class) = cell_text(c.source, c.version, d.declared);
                    tr { th scope="row" { (env) } td class=(class) data-env=(env) { (text) } }
                }
            }
        }
        h2 { "Stored values" }
        @if d.values.is_empty() { p { "No value is stored yet." } }
        @for v in &d.values {
            section.value {
                h3 { code { (v.selector) } }
                p.meta {
                    "Version " (v.versions.first().map_or(0, |x| x.version))
                    @if let Some(cur) = v.versions.first() { ", set " (cur.updated.format("%Y-%m-%d %H:%M UTC")) }
                    " · sealed for scope " (v.scopes.join(", "))
                }
                @if let Some(r) = revealed.filter(|r| r.selector == v.selector) {
                    (shown(&r.value))
                } @else {
                    form method="post" action={ "/secrets/" (d.name) "/reveal" } {
                        (csrf(p))
                        input type="hidden" name="selector" value=(v.selector);
                        button type="submit" { "Reveal" }
                    }
                }
                table.history {
                    caption { "History" }
                    thead { tr { th scope="col" { "Version" } th scope="col" { "Set" } th scope="col" { "Replaced" } th scope="col" {} } }
                    tbody {
                        @for (i, h) in v.versions.iter().enumerate() {
                            tr {
                                td { "v" (h.version) }
                                td { (h.updated.format("%Y-%m-%d %H:%M:%S UTC")) }
                                td { @if let Some(r) = h.replaced { (r.format("%Y-%m-%d %H:%M:%S UTC")) } @else { "current" } }
                                td {
                                    @if i > 0 {
                                        form method="post" action={ "/secrets/" (d.name) "/rollback" } {
                                            (csrf(p))
                                            input type="hidden" name="selector" value=(v.selector);
                                            input type="hidden" name="version" value=(h.version);
                                            button type="submit" { "Roll back to v" (h.version) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                (delete_forms(&d.name, &v.selector))
            }
        }
        section {
            h2 { "Set a value" }
            p { "Choose what the value is for; the next page shows what that does to the values there are, before anything is saved." }
            form method="get" action="/set" {
                input type="hidden" name="name" value=(d.name);
                (type_boxes(&[]))
                (env_choice(envs))
                button type="submit" { "Next: preview" }
            }
        }
    };
    layout(&d.name, Some(p), body)
}

/// The delete buttons of a value: each leads to the confirmation, which deletes.
fn delete_forms(name: &str, selector: &str) -> Markup {
    let types: Vec<&str> = if selector.starts_with("env:") {
        Vec::new()
    } else {
        selector.split(',').collect()
    };
    html! {
        div.deletes {
            @if types.len() > 1 {
                @for t in &types {
                    form method="get" action={ "/secrets/" (name) "/delete" } {
                        input type="hidden" name="selector" value=(t);
                        button.danger type="submit" { "Delete for " (t) "…" }
                    }
                }
            }
            form method="get" action={ "/secrets/" (name) "/delete" } {
                input type="hidden" name="selector" value=(selector);
                button.danger type="submit" {
                    @if selector.starts_with("env:") { "Delete this override…" } @else { "Delete this value…" }
                }
            }
        }
    }
}

/// Step two of a delete: which environments lose the value, and the form that deletes it.
pub fn delete_confirm(p: &Page, d: &SecretDetails, envs: &[EnvRow], sel: &Selector) -> Markup {
    // The environments reading this value now.
    let readers: Vec<&str> = envs
        .iter()
        .filter(|e| {
            let source = d
                .environments
                .iter()
                .find(|(n, _)| *n == e.name)
                .map(|(_, c)| c.source);
            match sel {
                Selector::Env(n) => n.as_str() == e.name,
                Selector::Types(t) => {
                    e.env_type.parse().is_ok_and(|et| t.contains(et))
                        && matches!(source, Some(Source::Set | Source::Type))
                }
            }
        })
        .map(|e| e.name.as_str())
        .collect();
    let body = html! {
        p { a href={ "/secrets/" (d.name) } { "← " (d.name) } }
        h1 { "Delete " code { (sel) } " of " (d.name) "?" }
        @if let Selector::Env(n) = sel {
            p #after { (n) " reads its type's value afterwards, if there is one." }
        } @else {
            p { "These environments read this value now, and have no value for " (d.name) " afterwards (" code { "check" } " reports them missing):" }
            ul #readers { @for r in &readers { li { (r) } } @if readers.is_empty() { li { "none" } } }
        }
        form method="post" action={ "/secrets/" (d.name) "/delete" } {
            (csrf(p))
            input type="hidden" name="selector" value=(sel);
            button.danger type="submit" { "Delete" }
            " "
            a href={ "/secrets/" (d.name) } { "Cancel" }
        }
    };
    layout(&format!("Delete {}", d.name), Some(p), body)
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The split rule spelled out for a set about to be made.
fn preview_lines(pv: &SetPreview) -> Vec<String> {
    let mut lines = Vec::new();
    let gets: Vec<String> = pv
        .environments
        .iter()
        .filter(|e| e.new_value)
        .map(|e| e.env.clone())
        .collect();
    let verb = if gets.len() == 1 { "gets" } else { "get" };
    lines.push(match pv.replaces {
        Some(v) => format!(
            "{} {verb} the new value, replacing version {v} of the value for {} (kept in its history)",
            join_and(&gets),
            pv.selector
        ),
        None if pv.split.is_empty() && pv.absorbed.is_empty() => {
            format!("{} {verb} a value of its own", join_and(&gets))
        }
        None => format!("{} {verb} its own value", join_and(&gets)),
    });
    for s in &pv.split {
        let keep: Vec<String> = s.to.split(',').map(str::to_string).collect();
        let verb = if keep.len() == 1 { "keeps" } else { "keep" };
        lines.push(format!(
            "{} {verb} the current value (it was shared as {}; now {})",
            join_and(&keep),
            s.from,
            s.to
        ));
    }
    for a in &pv.absorbed {
        lines.push(format!(
            "the value for {a} is replaced by the new one (its history moves with it)"
        ));
    }
    lines
}

/// Step two of a set: what the split rule will do, then the value.
pub fn set_form(p: &Page, pv: &SetPreview, description: Option<&str>) -> Markup {
    let (types, env) = match pv.selector.strip_prefix("env:") {
        Some(e) => (None, Some(e)),
        None => (Some(pv.selector.as_str()), None),
    };
    let body = html! {
        p { a href={ "/secrets/" (pv.name) } { "← " (pv.name) } }
        h1 { "Set " (pv.name) " for " code { (pv.selector) } }
        section #preview aria-labelledby="preview-h" {
            h2 #preview-h { "What saving does" }
            ul #split-rule {
                @for l in preview_lines(pv) { li { (l) } }
            }
            p { "Values afterwards: " }
            ul #selectors-after {
                @for s in &pv.selectors_after { li { code { (s) } } }
            }
            table.where {
                caption { "Each environment afterwards" }
                thead { tr { th scope="col" { "Environment" } th scope="col" { "Reads" } } }
                tbody {
                    @for e in &pv.environments {
                        tr {
                            th scope="row" { (e.env) }
                            @if e.new_value { td.set { "the new value" } }
                            @else if let Some(s) = &e.selector { td.type { "its current value (" (s) ")" } }
                            @else { td.missing { "no value" } }
                        }
                    }
                }
            }
        }
        form method="post" action="/set" enctype="multipart/form-data" {
            (csrf(p))
            input type="hidden" name="name" value=(pv.name);
            @if let Some(t) = types { input type="hidden" name="type" value=(t); }
            @if let Some(e) = env { input type="hidden" name="env" value=(e); }
            label.block {
                "Value (line breaks are stored as \\n)"
                textarea name="value" rows="6" autocomplete="off" autocapitalize="off" spellcheck="false" {}
            }
            label.block {
                "…or a file, stored byte for byte (certificates, binary) "
                input type="file" name="file";
            }
            label.block {
                "Description (optional) "
                input type="text" name="description" value=(description.unwrap_or_default()) autocomplete="off";
            }
            button type="submit" { "Save" }
            " "
            a href={ "/secrets/" (pv.name) } { "Cancel" }
        }
    };
    layout(&format!("Set {}", pv.name), Some(p), body)
}

/// The message after a set.
pub fn set_note(o: &SetOutcome) -> String {
    let mut s = format!(
        "Saved {} for {} as version {}",
        o.name, o.selector, o.version
    );
    for sp in &o.split {
        s.push_str(&format!("; {} keeps its value as {}", sp.from, sp.to));
    }
    for a in &o.absorbed {
        s.push_str(&format!("; the value for {a} was replaced"));
    }
    s
}

/// The message after a delete.
pub fn deleted_note(o: &DeleteOutcome) -> String {
    let parts: Vec<String> = o
        .changes
        .iter()
        .map(|c| match &c.remaining {
            Some(left) => format!("{} now holds {left}", c.selector),
            None => format!("{} deleted", c.selector),
        })
        .collect();
    format!("{}: {}", o.name, parts.join("; "))
}
