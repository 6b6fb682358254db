//! The dashboard's pages, server-rendered with maud: plain HTML forms, one stylesheet, no script.
//! Nothing here is handed a value except [`Revealed`], which only the page answering a Reveal has.

mod environments;
mod secrets;

pub use environments::{applied, environments, plan};
pub use secrets::{delete_confirm, deleted_note, overview, secret, set_form, set_note};

use maud::{html, Markup, DOCTYPE};
use secretsync_core::SecretValue;

/// What every page of a session carries.
pub struct Page {
    /// The session's CSRF token, for its forms.
    pub csrf: String,
    /// What the last POST did, shown once.
    pub flash: Option<String>,
    /// Whether **Apply** is offered.
    pub allow_apply: bool,
}

/// The one value a Reveal asked for.
pub struct Revealed {
    /// The selector it is stored under.
    pub selector: String,
    /// The value.
    pub value: SecretValue,
}

fn layout(title: &str, page: Option<&Page>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) " · secretsync" }
                link rel="stylesheet" href="/style.css";
            }
            body {
                header {
                    nav aria-label="Main" {
                        span.brand { "secretsync" }
                        a href="/" { "Secrets" }
                        a href="/environments" { "Environments" }
                    }
                }
                main {
                    @if let Some(msg) = page.and_then(|p| p.flash.as_deref()) {
                        p.flash role="status" { (msg) }
                    }
                    (body)
                }
            }
        }
    }
}

fn csrf(p: &Page) -> Markup {
    html! { input type="hidden" name="csrf" value=(p.csrf); }
}

/// A page refusing a request before any session (no links into the dashboard).
pub fn refusal(title: &str, why: &str) -> Markup {
    layout(title, None, html! { h1 { (title) } p.error { (why) } })
}

/// A request that failed.
pub fn failure(why: &str) -> Markup {
    layout(
        "Error",
        None,
        html! {
            h1 { "That did not work" }
            p.error role="alert" { (why) }
            p { a href="/" { "Back to the secrets" } }
        },
    )
}
