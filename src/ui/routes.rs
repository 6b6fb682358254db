//! The dashboard's routes: each reads its input, calls one application function and renders.

use super::guard::{self, Csrf};
use super::pages::{self, Page, Revealed};
use super::Ui;
use crate::app::{self, overview, secrets, sync};
use crate::model::{SecretName, Selector, TypeSet};
use crate::store::Target;
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{middleware, Extension, Router};
use maud::Markup;
use secretsync_core::SecretValue;
use serde::Deserialize;
use std::sync::Arc;
use zeroize::Zeroizing;

type Shared = State<Arc<Ui>>;

/// Every route, behind the guard.
pub fn router(ui: Arc<Ui>) -> Router {
    let gate = ui.gate.clone();
    Router::new()
        .route("/", get(overview))
        .route("/style.css", get(style))
        .route("/secrets/{name}", get(secret))
        .route("/secrets/{name}/reveal", post(reveal))
        .route("/secrets/{name}/delete", get(delete_confirm).post(delete))
        .route("/secrets/{name}/rollback", post(rollback))
        .route("/set", get(set_form).post(set_save))
        .route("/environments", get(environments))
        .route("/environments/{env}/plan", get(plan))
        .route("/environments/{env}/apply", get(apply_confirm).post(apply))
        .fallback(not_found)
        // A value is at most 64 KiB; a form a little more.
        .layer(DefaultBodyLimit::max(super::guard::MAX_FORM_BYTES))
        .layer(middleware::from_fn_with_state(gate, guard::guard))
        .with_state(ui)
}

/// A request that failed: the page says why (never a value).
struct Failure(StatusCode, String);

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure(StatusCode::BAD_REQUEST, app::error_line(&e))
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, pages::failure(&self.1)).into_response()
    }
}

type Result<T, E = Failure> = std::result::Result<T, E>;

fn forbidden(why: &str) -> Failure {
    Failure(StatusCode::FORBIDDEN, why.to_string())
}

impl Ui {
    fn page(&self, csrf: Csrf) -> Page {
        Page {
            csrf: csrf.0,
            flash: self.gate.take_flash(),
            allow_apply: self.allow_apply,
        }
    }
}

fn name_of(s: &str) -> Result<SecretName> {
    s.parse()
        .map_err(|e: crate::model::InvalidInput| Failure(StatusCode::NOT_FOUND, e.to_string()))
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("style.css"),
    )
}

async fn not_found() -> Failure {
    Failure(StatusCode::NOT_FOUND, "no such page".into())
}

/// The query's pairs, repeated keys kept.
fn pairs(q: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, v)| k == key && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

async fn overview(
    State(ui): Shared,
    Extension(csrf): Extension<Csrf>,
    RawQuery(q): RawQuery,
) -> Result<Markup> {
    let q = pairs(q.as_deref());
    let filter = first(&q, "q").unwrap_or_default().to_string();
    let mut o = overview::overview(&ui.ws)?;
    let needle = filter.to_lowercase();
    o.list
        .secrets
        .retain(|s| needle.is_empty() || s.name.to_lowercase().contains(&needle));
    Ok(pages::overview(&ui.page(csrf), &o, &filter))
}

async fn secret(
    State(ui): Shared,
    Extension(csrf): Extension<Csrf>,
    Path(name): Path<String>,
) -> Result<Markup> {
    secret_page(&ui, csrf, &name_of(&name)?, None)
}

fn secret_page(
    ui: &Ui,
    csrf: Csrf,
    name: &SecretName,
    revealed: Option<Revealed>,
) -> Result<Markup> {
    let details = secrets::details(&ui.ws, name)?;
    let envs = overview::environments(&ui.ws)?;
    Ok(pages::secret(
        &ui.page(csrf),
        &details,
        &envs,
        revealed.as_ref(),
    ))
}

/// A value's selector as a read target.
fn target_of(ui: &Ui, sel: &str) -> Result<Target> {
    let cfg = ui.ws.config()?;
    let sel: Selector = sel.parse().map_err(anyhow::Error::from)?;
    Ok(match sel {
        Selector::Types(t) => match t.iter().next() {
            Some(first) => Target::Type(first),
            None => return Err(Failure(StatusCode::BAD_REQUEST, "no type given".into())),
        },
        Selector::Env(n) => Target::Env(cfg.env(n.as_str()).map_err(anyhow::Error::from)?),
    })
}

/// A form about one value (its CSRF token is the guard's).
#[derive(Deserialize)]
struct ValueForm {
    selector: String,
    #[serde(default)]
    version: String,
}

async fn reveal(
    State(ui): Shared,
    Extension(csrf): Extension<Csrf>,
    Path(name): Path<String>,
    Form(f): Form<ValueForm>,
) -> Result<Markup> {
    let name = name_of(&name)?;
    let target = target_of(&ui, &f.selector)?;
    let (selector, value) = secrets::get(&ui.ws, &name, &target).await?;
    secret_page(
        &ui,
        csrf,
        &name,
        Some(Revealed {
            selector: selector.to_string(),
            value,
        }),
    )
}

/// The query of the delete confirmation: which value.
#[derive(Deserialize)]
struct Which {
    selector: String,
}

/// Step one of a delete: what it removes, and the form that does it.
async fn delete_confirm(
    State(ui): Shared,
    Extension(csrf): Extension<Csrf>,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<Which>,
) -> Result<Markup> {
    let name = name_of(&name)?;
    let sel: Selector = q.selector.parse().map_err(anyhow::Error::from)?;
    let details = secrets::details(&ui.ws, &name)?;
    let envs = crate::app::overview::environments(&ui.ws)?;
    Ok(pages::delete_confirm(&ui.page(csrf), &details, &envs, &sel))
}

/// Step two of a delete: done.
async fn delete(
    State(ui): Shared,
    Path(name): Path<String>,
    Form(f): Form<ValueForm>,
) -> Result<Response> {
    let name = name_of(&name)?;
    let sel: Selector = f.selector.parse().map_err(anyhow::Error::from)?;
    let (types, env) = match &sel {
        Selector::Types(t) => (Some(*t), None),
        Selector::Env(n) => (None, Some(n.to_string())),
    };
    let out = secrets::delete(&ui.ws, &name, types, env.as_deref()).await?;
    ui.gate.flash(pages::deleted_note(&out));
    Ok(Redirect::to(&format!("/secrets/{name}")).into_response())
}

async fn rollback(
    State(ui): Shared,
    Path(name): Path<String>,
    Form(f): Form<ValueForm>,
) -> Result<Response> {
    let name = name_of(&name)?;
    let target = target_of(&ui, &f.selector)?;
    let to: u64 = f.version.parse().map_err(|_| {
        Failure(
            StatusCode::BAD_REQUEST,
            format!("version {:?} is not a number", f.version),
        )
    })?;
    let out = secrets::rollback(&ui.ws, &name, &target, Some(to)).await?;
    ui.gate.flash(format!(
        "{} for {}: version {} restored as version {}",
        out.name, out.selector, out.restored, out.version
    ));
    Ok(Redirect::to(&format!("/secrets/{name}")).into_response())
}

/// What a set applies to, from a form: types (checkboxes or a comma list) or one environment.
fn write_target(pairs: &[(String, String)]) -> Result<(Option<TypeSet>, Option<String>)> {
    let types: Vec<&str> = pairs
        .iter()
        .filter(|(k, v)| k == "type" && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect();
    let env = first(pairs, "env").map(str::to_string);
    let types = if types.is_empty() {
        None
    } else {
        Some(
            types
                .join(",")
                .parse::<TypeSet>()
                .map_err(anyhow::Error::from)?,
        )
    };
    match (&types, &env) {
        (Some(_), Some(_)) => Err(Failure(
            StatusCode::BAD_REQUEST,
            "choose types or one environment's override, not both".into(),
        )),
        (None, None) => Err(Failure(
            StatusCode::BAD_REQUEST,
            "choose the types the value is for, or an environment for an override".into(),
        )),
        _ => Ok((types, env)),
    }
}

async fn set_form(
    State(ui): Shared,
    Extension(csrf): Extension<Csrf>,
    RawQuery(q): RawQuery,
) -> Result<Markup> {
    let q = pairs(q.as_deref());
    let name = name_of(first(&q, "name").unwrap_or_default())?;
    let (types, env) = write_target(&q)?;
    let preview = secrets::preview_set(&ui.ws, &name, types, env.as_deref())?;
    Ok(pages::set_form(
        &ui.page(csrf),
        &preview,
        first(&q, "description"),
    ))
}

async fn set_save(State(ui): Shared, mut form: Multipart) -> Result<Response> {
    let mut fields: Vec<(String, String)> = Vec::new();
    // The value, kept apart from the other fields and wiped when dropped.
    let mut text: Option<Zeroizing<String>> = None;
    let mut file: Option<Zeroizing<Vec<u8>>> = None;
    let bad = |e: axum::extract::multipart::MultipartError| {
        Failure(
            StatusCode::BAD_REQUEST,
            format!("cannot read the form: {}", e.body_text()),
        )
    };
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let key = field.name().unwrap_or_default().to_string();
        if key == "file" {
            let has_name = field.file_name().is_some_and(|n| !n.is_empty());
            let bytes = field.bytes().await.map_err(bad)?;
            if has_name {
                file = Some(Zeroizing::new(bytes.to_vec()));
            }
        } else if key == "value" {
            text = Some(Zeroizing::new(field.text().await.map_err(bad)?));
        } else {
            fields.push((key, field.text().await.map_err(bad)?));
        }
    }
    // The CSRF token comes first of all: nothing else in the form is looked at without it.
    let name = name_of(first(&fields, "name").unwrap_or_default())?;
    let (types, env) = write_target(&fields)?;
    let value = match (file, text) {
        (Some(bytes), _) => bytes.to_vec(),
        // A browser sends a textarea's line breaks as CRLF; people mean LF.
        (None, Some(t)) => t.replace("\r\n", "\n").into_bytes(),
        (None, None) => Vec::new(),
    };
    if value.is_empty() {
        return Err(Failure(
            StatusCode::BAD_REQUEST,
            "no value: type it in the box or choose a file".into(),
        ));
    }
    let out = secrets::set(
        &ui.ws,
        secrets::SetOptions {
            name: name.clone(),
            types,
            env,
            value: SecretValue::new(value),
            description: first(&fields, "description").map(str::to_string),
        },
    )
    .await?;
    ui.gate.flash(pages::set_note(&out));
    Ok(Redirect::to(&format!("/secrets/{name}")).into_response())
}

async fn environments(State(ui): Shared, Extension(csrf): Extension<Csrf>) -> Result<Markup> {
    let o = overview::overview(&ui.ws)?;
    Ok(pages::environments(
        &ui.page(csrf),
        &o.environments,
        &o.check,
    ))
}

/// Runs a plan or an apply on a blocking thread of the runtime: their futures hold borrows that
/// the compiler cannot prove `Send` across the handler's await (rust-lang/rust#102211), and
/// `block_on` does not need them to be.
async fn off_thread<T, Fut>(make: impl FnOnce() -> Fut + Send + 'static) -> Result<T>
where
    Fut: std::future::Future<Output = anyhow::Result<T>>,
    T: Send + 'static,
{
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || rt.block_on(make()))
        .await
        .map_err(|e| {
            Failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the task failed: {e}"),
            )
        })?
        .map_err(Failure::from)
}

fn sync_options(env: &str, q: &[(String, String)]) -> app::sync::SyncOptions {
    let mut opts = app::sync::SyncOptions {
        envs: vec![env.to_string()],
        ..Default::default()
    };
    opts.plan.check_drift = first(q, "check_drift").is_some();
    opts.plan.verify = first(q, "verify").is_some();
    opts
}

async fn plan(
    State(ui): Shared,
    Extension(csrf): Extension<Csrf>,
    Path(env): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Markup> {
    let q = pairs(q.as_deref());
    let (ws, opts) = (ui.ws.clone(), sync_options(&env, &q));
    let report = off_thread(move || async move { sync::plan(&ws, &opts).await }).await?;
    Ok(pages::plan(&ui.page(csrf), &env, &report, false))
}

async fn apply_confirm(
    State(ui): Shared,
    Extension(csrf): Extension<Csrf>,
    Path(env): Path<String>,
) -> Result<Markup> {
    apply_allowed(&ui)?;
    let (ws, opts) = (ui.ws.clone(), sync_options(&env, &[]));
    let report = off_thread(move || async move { sync::plan(&ws, &opts).await }).await?;
    Ok(pages::plan(&ui.page(csrf), &env, &report, true))
}

/// Refuses an apply unless the dashboard was started with `--allow-apply`.
fn apply_allowed(ui: &Ui) -> Result<()> {
    if ui.allow_apply {
        Ok(())
    } else {
        Err(forbidden(
            "apply is off: start the dashboard with `secretsync ui --allow-apply` to apply from it",
        ))
    }
}

/// The apply confirmation holds nothing but its CSRF token, which the guard checks.
async fn apply(
    State(ui): Shared,
    Extension(csrf): Extension<Csrf>,
    Path(env): Path<String>,
) -> Result<Markup> {
    apply_allowed(&ui)?;
    let (ws, opts) = (ui.ws.clone(), sync_options(&env, &[]));
    let out =
        off_thread(move || async move { sync::apply(&ws, &opts, &app::NoProgress).await }).await?;
    Ok(pages::applied(&ui.page(csrf), &env, &out))
}
