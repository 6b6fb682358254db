//! The pages about environments: the list, a plan and what an apply did.

use super::{csrf, layout, Page};
use crate::app::overview::{CheckReport, EnvRow};
use crate::app::sync::{ApplyOutcome, PlanReport};
use crate::sync::{Action, Status};
use maud::{html, Markup};

/// Each environment, its backend and the actions on it.
pub fn environments(p: &Page, envs: &[EnvRow], check: &CheckReport) -> Markup {
    let body = html! {
        h1 { "Environments" }
        table.envs {
            thead {
                tr {
                    th scope="col" { "Environment" } th scope="col" { "Type" } th scope="col" { "Scope" }
                    th scope="col" { "Backend" } th scope="col" { "Prefix" } th scope="col" { "check" } th scope="col" { "Sync" }
                }
            }
            tbody {
                @for e in envs {
                    @let missing = check.environments.iter().find(|c| c.name == e.name).map(|c| c.missing.clone()).unwrap_or_default();
                    tr {
                        th scope="row" { (e.name) @if !e.declared { " " span.tag { "implicit" } } @if e.template { " " span.tag { "template" } } }
                        td { (e.env_type) }
                        td { (e.scope) }
                        td { @if let Some(b) = &e.backend { code { (b) } } @else { "none (runs locally)" } }
                        td { code { (e.prefix) } }
                        @if missing.is_empty() { td.ok { "ok" } }
                        @else { td.missing.declared { "missing: " (missing.join(", ")) } }
                        td.actions {
                            @if e.template {
                                "a template: one environment per id, " code { "--env " (e.name) ":ID" }
                            } @else if e.backend.is_some() {
                                a href={ "/environments/" (e.name) "/plan" } { "Plan" }
                                " "
                                a href={ "/environments/" (e.name) "/plan?check_drift=1" } { "Plan, checking drift" }
                                @if p.allow_apply {
                                    " "
                                    a href={ "/environments/" (e.name) "/apply" } { "Apply…" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !p.allow_apply {
            p.note { "Apply is off. Start the dashboard with " code { "secretsync ui --allow-apply" } " to apply from here." }
        }
    };
    layout("Environments", Some(p), body)
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
        Action::Unchanged => "unchanged",
        Action::Delete => "delete",
        Action::Orphan => "orphan",
        Action::Adopt => "adopt",
        Action::Drift => "drift",
    }
}

fn env_errors(errors: &[crate::app::sync::EnvError]) -> Markup {
    html! {
        @for e in errors {
            p.error role="alert" { (e.env) ": " (e.error) }
        }
    }
}

/// A plan, as `plan` shows it; with `confirm`, the form that applies it.
pub fn plan(p: &Page, env: &str, r: &PlanReport, confirm: bool) -> Markup {
    let body = html! {
        p { a href="/environments" { "← Environments" } }
        h1 { @if confirm { "Apply " } @else { "Plan " } (env) }
        (env_errors(&r.errors))
        @for e in &r.environments {
            p { code { (e.plan.backend) } @if !e.plan.prefix.is_empty() { " (prefix " code { (e.plan.prefix) } ")" } }
            @let changes: Vec<_> = e.plan.items.iter().filter(|i| i.action != Action::Unchanged).collect();
            @if changes.is_empty() {
                p.ok #no-changes { "In sync: nothing to change." }
            } @else {
                table.plan {
                    thead { tr { th scope="col" { "" } th scope="col" { "Name" } th scope="col" { "Action" } th scope="col" { "Why" } } }
                    tbody {
                        @for i in changes {
                            tr class=(action_name(i.action)) {
                                td.mark { (i.action.mark(i.blocked)) }
                                td { code { (i.name) } }
                                td { (action_name(i.action)) @if i.blocked { " (refused)" } }
                                td { (i.reason) }
                            }
                        }
                    }
                }
            }
            pre.summary { (crate::output::plan::render_plan(&e.plan).lines().last().unwrap_or_default()) }
            @if !e.missing_declared.is_empty() {
                p.missing { "Declared but with no value here: " (e.missing_declared.join(", ")) }
            }
            @for w in &e.warnings { p.note { (w) } }
        }
        @if confirm && r.errors.is_empty() {
            form method="post" action={ "/environments/" (env) "/apply" } {
                (csrf(p))
                p { "This writes the changes above to the backend." }
                button.danger type="submit" { "Apply to " (env) }
                " "
                a href="/environments" { "Cancel" }
            }
        }
    };
    layout(&format!("Plan {env}"), Some(p), body)
}

/// How each item of an apply ended.
pub fn applied(p: &Page, env: &str, out: &ApplyOutcome) -> Markup {
    let body = html! {
        p { a href="/environments" { "← Environments" } }
        h1 { "Applied " (env) }
        (env_errors(&out.errors))
        @for e in &out.environments {
            table.plan {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Action" } th scope="col" { "Outcome" } } }
                tbody {
                    @for x in e.report.results.iter().filter(|x| x.status != Status::Unchanged) {
                        tr {
                            td { code { (x.name) } }
                            td { (action_name(x.action)) }
                            td class=(match x.status { Status::Done => "ok", _ => "missing" }) {
                                @match x.status {
                                    Status::Done => "done",
                                    Status::Failed => { "failed: " (x.error.as_ref().map_or("", |e| e.message.as_str())) },
                                    Status::Skipped => { "skipped: " (x.error.as_ref().map_or("", |e| e.message.as_str())) },
                                    Status::Unchanged => "unchanged",
                                }
                            }
                        }
                    }
                }
            }
            pre.summary { (crate::output::plan::render_apply(&e.report).lines().last().unwrap_or_default()) }
        }
        p { @if out.ok { span.ok { "Every item done or unchanged." } } @else { span.missing { "Some items need you: see above." } } }
    };
    layout(&format!("Applied {env}"), Some(p), body)
}
