//! `secretsync ui` in a real headless Chromium (Debian's chromium and chromium-driver, started by
//! scripts/emulators.sh), driven over WebDriver with fantoccini; and its guard probed with plain
//! HTTP requests. Screenshots of each page go to target/ui-screenshots/.

use crate::common::{spawn, Project, Running, CANARY};
use fantoccini::{Client, ClientBuilder, Locator};
use secretsync_core::conformance::emulator_endpoint;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;

/// A project with declared secrets, one environment on a `file://` backend and some values.
fn project() -> Project {
    let p = Project::init();
    p.append_config(
        r#"
[secrets.DatabaseURL]
description = "Postgres connection string"

[secrets.StripeKey]
description = "Stripe API key"

[secrets.ApiToken]
description = "GitHub API token"

[environments.prod-eu]
type = "production"
backend = "file://replica/prod-eu"
prefix = "app/"
"#,
    );
    p.set("DatabaseURL", "--type", "prod", "postgres://prod-db");
    p.set(
        "DatabaseURL",
        "--type",
        "dev,preview,local",
        "postgres://dev-db",
    );
    p.set(
        "ApiToken",
        "--type",
        "dev,preview,local",
        "shared-dev-token",
    );
    p
}

/// A running dashboard.
struct Dash {
    _child: Running,
    /// The printed URL, with its one-time token.
    url: String,
    /// `http://127.0.0.1:PORT`.
    base: String,
}

fn start(p: &Project, extra: &[&str]) -> Dash {
    let mut args = vec!["ui"];
    args.extend_from_slice(extra);
    let mut child = spawn(
        p.std_cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let out = child.0.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("secretsync ui: ")
        .unwrap_or_else(|| panic!("no URL printed: {line:?}"))
        .to_string();
    let base = url.split("/?").next().unwrap().to_string();
    Dash {
        _child: child,
        url,
        base,
    }
}

fn shots_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A headless Chromium session, or `None` (skipped loudly; a failure under CI=true).
async fn browser(p: &Project) -> Option<Client> {
    browser_in(p, "chromium-profile").await
}

/// [`browser`] with a profile of its own (another browser, with no cookie of the first's).
async fn browser_in(p: &Project, profile: &str) -> Option<Client> {
    let wd = emulator_endpoint("SECRETSYNC_TEST_WEBDRIVER")?;
    let profile = p.path(profile);
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1400",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let caps = caps.as_object().unwrap().clone();
    Some(
        ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps)
            .connect(&wd)
            .await
            .expect("cannot start Chromium through chromedriver"),
    )
}

async fn html(c: &Client) -> String {
    c.source().await.unwrap()
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(shots_dir().join(format!("{name}.png")), png).unwrap();
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The matrix cell of `secret` × `env` on the overview.
async fn cell(c: &Client, secret: &str, env: &str) -> String {
    text_of(c, &format!("tr#row-{secret} td[data-env='{env}']")).await
}

/// Clicks what `loc` finds and waits for the next page to replace this one (a click that
/// submits a form returns before the new page is there).
async fn navigate(c: &Client, loc: Locator<'_>) {
    let old = c.find(Locator::Css("html")).await.unwrap();
    c.find(loc).await.unwrap().click().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while old.tag_name().await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "no new page within 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

#[test]
fn the_matrix_shows_missing_secrets_and_a_value_set_in_the_form_reaches_the_store() {
    let p = project();
    let d = start(&p, &[]);
    rt().block_on(async {
        let Some(c) = browser(&p).await else { return };
        c.goto(&d.url).await.unwrap();
        // The token was exchanged for a cookie and dropped from the address.
        assert_eq!(
            c.current_url().await.unwrap().as_str(),
            format!("{}/", d.base)
        );
        assert_eq!(text_of(&c, "h1").await, "Secrets of demo");
        shot(&c, "overview").await;
        assert_eq!(cell(&c, "DatabaseURL", "production").await, "set v1");
        assert_eq!(cell(&c, "DatabaseURL", "prod-eu").await, "via type v1");
        assert_eq!(
            cell(&c, "StripeKey", "production").await,
            "missing (declared)"
        );
        assert_eq!(cell(&c, "StripeKey", "local").await, "missing (declared)");
        assert_eq!(
            text_of(&c, "tr.verdict td[data-env='production']").await,
            "2 missing"
        );
        // The filter keeps the matching rows.
        c.find(Locator::Css("input[name=q]"))
            .await
            .unwrap()
            .send_keys("stripe")
            .await
            .unwrap();
        navigate(&c, Locator::Css("form.filter button")).await;
        let page = html(&c).await;
        assert!(page.contains("row-StripeKey") && !page.contains("row-ApiToken"));

        // Set StripeKey for production and preview through the form.
        c.goto(&format!("{}/secrets/StripeKey", d.base))
            .await
            .unwrap();
        shot(&c, "secret-declared-unset").await;
        for t in ["production", "preview"] {
            c.find(Locator::Css(&format!("input[name=type][value={t}]")))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
        }
        navigate(&c, Locator::Css("form[action='/set'] button")).await;
        assert!(!c.current_url().await.unwrap().as_str().contains(CANARY));
        c.find(Locator::Css("textarea[name=value]"))
            .await
            .unwrap()
            .send_keys(CANARY)
            .await
            .unwrap();
        navigate(
            &c,
            Locator::Css("form[enctype='multipart/form-data'] button"),
        )
        .await;
        assert_eq!(
            c.current_url().await.unwrap().as_str(),
            format!("{}/secrets/StripeKey", d.base)
        );
        assert_eq!(
            text_of(&c, "p.flash").await,
            "Saved StripeKey for production,preview as version 1"
        );
        let page = html(&c).await;
        assert!(
            !page.contains(CANARY),
            "the value is on the page after a save"
        );
        assert_eq!(p.get("StripeKey", "--type", "production"), CANARY);
        assert_eq!(p.get("StripeKey", "--env", "prod-eu"), CANARY);

        // The missing cells are gone; the ones still missing stay.
        c.goto(&format!("{}/", d.base)).await.unwrap();
        assert_eq!(cell(&c, "StripeKey", "production").await, "set v1");
        assert_eq!(cell(&c, "StripeKey", "prod-eu").await, "via type v1");
        assert_eq!(cell(&c, "StripeKey", "local").await, "missing (declared)");
        assert_eq!(
            text_of(&c, "tr.verdict td[data-env='production']").await,
            "1 missing"
        );
        assert!(!html(&c).await.contains(CANARY));
        c.close().await.unwrap();
    });
}

#[test]
fn the_split_preview_is_what_saving_stores_and_reveal_shows_exactly_one_value() {
    let p = project();
    let d = start(&p, &[]);
    rt().block_on(async {
        let Some(c) = browser(&p).await else { return };
        c.goto(&d.url).await.unwrap();
        // ApiToken is shared by development, preview and local; local gets its own value.
        c.goto(&format!("{}/set?name=ApiToken&type=local", d.base))
            .await
            .unwrap();
        shot(&c, "set-preview").await;
        let rule = text_of(&c, "#split-rule").await;
        assert!(rule.contains("local gets its own value"), "{rule}");
        assert!(
            rule.contains("development and preview keep the current value"),
            "{rule}"
        );
        let mut predicted: Vec<String> = Vec::new();
        for li in c
            .find_all(Locator::Css("#selectors-after li"))
            .await
            .unwrap()
        {
            predicted.push(li.text().await.unwrap());
        }
        assert_eq!(predicted, ["development,preview", "local"]);
        c.find(Locator::Css("textarea[name=value]"))
            .await
            .unwrap()
            .send_keys(CANARY)
            .await
            .unwrap();
        navigate(&c, Locator::Css("form[enctype='multipart/form-data'] button")).await;
        // What was stored is what the preview said.
        let list: serde_json::Value = serde_json::from_str(&p.ok(&["list", "--json"], None)).unwrap();
        let api = list["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "ApiToken")
            .unwrap();
        let mut stored: Vec<String> = api["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["selector"].as_str().unwrap().to_string())
            .collect();
        stored.sort();
        assert_eq!(stored, predicted);
        assert_eq!(p.get("ApiToken", "--type", "local"), CANARY);
        assert_eq!(p.get("ApiToken", "--type", "preview"), "shared-dev-token");

        // The secret page: both values listed, neither shown.
        c.goto(&format!("{}/secrets/ApiToken", d.base)).await.unwrap();
        shot(&c, "secret").await;
        let page = html(&c).await;
        assert!(!page.contains(CANARY) && !page.contains("shared-dev-token"));
        // Reveal the local one: it alone is on the page.
        navigate(&c, Locator::Css("section.value:has(input[value='local']) form[action$='/reveal'] button")).await;
        shot(&c, "secret-revealed").await;
        let revealed = c.find_all(Locator::Css("#revealed")).await.unwrap();
        assert_eq!(revealed.len(), 1);
        assert_eq!(revealed[0].text().await.unwrap(), CANARY);
        let page = html(&c).await;
        assert_eq!(page.matches(CANARY).count(), 1, "the value shows once");
        assert!(!page.contains("shared-dev-token"), "a second value was shown");
        assert!(!c.current_url().await.unwrap().as_str().contains(CANARY));
        // Gone again on the next page.
        c.goto(&format!("{}/secrets/ApiToken", d.base)).await.unwrap();
        assert!(!html(&c).await.contains(CANARY));

        // Roll the local value back? It has one version; the shared one gets a second, then
        // goes back to the first through the history's button.
        p.set("ApiToken", "--type", "dev,preview", "second-dev-token");
        c.goto(&format!("{}/secrets/ApiToken", d.base)).await.unwrap();
        navigate(&c, Locator::Css("section.value:has(input[value='development,preview']) form[action$='/rollback'] button")).await;
        assert!(text_of(&c, "p.flash").await.contains("version 1 restored as version 3"));
        assert_eq!(p.get("ApiToken", "--type", "preview"), "shared-dev-token");

        // Delete preview's part of the shared value: development keeps it.
        navigate(&c, Locator::Css("form[action$='/delete'] input[value='preview'] ~ button")).await;
        // The confirmation, then the delete.
        navigate(&c, Locator::XPath("//button[text()='Delete']")).await;
        assert!(text_of(&c, "p.flash").await.contains("development,preview now holds development"));
        let out = p.code(&["get", "ApiToken", "--type", "preview"], None, 1);
        assert!(!out.contains("shared-dev-token"));
        assert_eq!(p.get("ApiToken", "--type", "development"), "shared-dev-token");
        c.close().await.unwrap();
    });
}

#[test]
fn a_file_upload_is_stored_byte_for_byte_and_an_override_goes_to_its_environment() {
    let p = project();
    let d = start(&p, &[]);
    let bytes: Vec<u8> = (0u8..=255)
        .chain(b"\r\n-----END-----\n".iter().copied())
        .collect();
    let file = p.path("cert.bin");
    std::fs::write(&file, &bytes).unwrap();
    rt().block_on(async {
        let Some(c) = browser(&p).await else { return };
        c.goto(&d.url).await.unwrap();
        c.goto(&format!("{}/set?name=TlsCert&env=prod-eu", d.base))
            .await
            .unwrap();
        let rule = text_of(&c, "#split-rule").await;
        assert!(rule.contains("prod-eu gets a value of its own"), "{rule}");
        c.find(Locator::Css("input[type=file]"))
            .await
            .unwrap()
            .send_keys(&file.display().to_string())
            .await
            .unwrap();
        navigate(
            &c,
            Locator::Css("form[enctype='multipart/form-data'] button"),
        )
        .await;
        assert_eq!(
            text_of(&c, "p.flash").await,
            "Saved TlsCert for env:prod-eu as version 1"
        );
        c.close().await.unwrap();
    });
    let out = p
        .cmd(&["get", "TlsCert", "--env", "prod-eu"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, bytes);
}

#[test]
fn plan_shows_an_out_of_band_write_and_apply_needs_allow_apply_and_a_confirmation() {
    let p = project();
    p.ok(&["apply", "--env", "prod-eu"], None);
    let backend = p.path("replica/prod-eu");
    {
        let d = start(&p, &[]);
        rt().block_on(async {
            let Some(c) = browser(&p).await else { return };
            c.goto(&d.url).await.unwrap();
            c.goto(&format!("{}/environments", d.base)).await.unwrap();
            shot(&c, "environments").await;
            assert!(html(&c).await.contains("Apply is off"));
            assert!(c.find(Locator::LinkText("Apply…")).await.is_err());
            navigate(&c, Locator::LinkText("Plan")).await;
            assert_eq!(text_of(&c, "#no-changes").await, "In sync: nothing to change.");
            // Someone edits a value in the backend by hand (labels kept): drift.
            let file = backend.join("secrets.json");
            let mut j: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            j["secrets"]["app/DatabaseURL"]["value"] =
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "edited").into();
            std::fs::write(&file, j.to_string()).unwrap();
            c.refresh().await.unwrap();
            shot(&c, "plan").await;
            let page = html(&c).await;
            assert!(
                page.contains("<tr class=\"drift\"><td class=\"mark\">!</td><td><code>app/DatabaseURL</code></td><td>drift (refused)</td>"),
                "{page}"
            );
            assert_eq!(
                text_of(&c, "pre.summary").await,
                "Plan: 0 to create, 0 to update, 0 to delete, 1 drifted, 0 refused, 0 unchanged."
            );
            // Apply is refused outright without --allow-apply.
            c.goto(&format!("{}/environments/prod-eu/apply", d.base)).await.unwrap();
            assert!(html(&c).await.contains("--allow-apply"));
            c.close().await.unwrap();
        });
    }
    // Restarted with --allow-apply: a new value, then Apply… → confirm → per-item outcomes.
    p.set("StripeKey", "--type", "prod", "sk_live");
    let d = start(&p, &["--allow-apply"]);
    rt().block_on(async {
        let Some(c) = browser(&p).await else { return };
        c.goto(&d.url).await.unwrap();
        c.goto(&format!("{}/environments", d.base)).await.unwrap();
        navigate(&c, Locator::LinkText("Apply…")).await;
        shot(&c, "apply-confirm").await;
        assert!(html(&c).await.contains("app/StripeKey"));
        navigate(&c, Locator::Css("form[action$='/apply'] button")).await;
        shot(&c, "applied").await;
        let page = html(&c).await;
        assert!(page.contains("app/StripeKey"), "{page}");
        assert!(
            page.contains(
                "<td><code>app/StripeKey</code></td><td>create</td><td class=\"ok\">done</td>"
            ),
            "{page}"
        );
        assert!(!page.contains("sk_live"));
        c.close().await.unwrap();
    });
    let stored = std::fs::read_to_string(backend.join("secrets.json")).unwrap();
    assert!(stored.contains("app/StripeKey"));
}

/// Plain HTTP, no browser: what the guard refuses.
mod guard {
    use super::*;
    use reqwest::header::{COOKIE, HOST, LOCATION, SET_COOKIE};
    use reqwest::redirect::Policy;

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap()
    }

    /// The session cookie and the CSRF token of a page.
    async fn session(d: &Dash) -> (String, String) {
        let r = client().get(&d.url).send().await.unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()[LOCATION], "/");
        let set = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap().to_string();
        let page = client()
            .get(format!("{}/secrets/ApiToken", d.base))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_string();
        (cookie, csrf)
    }

    #[test]
    fn requests_without_the_token_with_a_foreign_host_or_without_csrf_are_refused() {
        let p = project();
        let d = start(&p, &["--allow-apply"]);
        rt().block_on(async {
            // No token, no cookie: refused, but for the stylesheet (the refusals use it).
            let r = client()
                .get(format!("{}/style.css", d.base))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");
            for path in ["/", "/environments", "/secrets/ApiToken"] {
                let r = client()
                    .get(format!("{}{path}", d.base))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 401, "{path}");
            }
            // A wrong token.
            let r = client()
                .get(format!("{}/?token=00", d.base))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401);
            // DNS rebinding: the right port under another name.
            let r = client()
                .get(&d.url)
                .header(HOST, "attacker.example:80")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 421);
            let (cookie, csrf) = session(&d).await;
            // The token works once.
            let r = client().get(&d.url).send().await.unwrap();
            assert_eq!(r.status(), 401);
            // A foreign Host is refused with the session cookie too.
            let r = client()
                .get(format!("{}/", d.base))
                .header(COOKIE, &cookie)
                .header(HOST, "localhost.attacker.example")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 421);
            // The headers of a page.
            let r = client()
                .get(format!("{}/", d.base))
                .header(COOKIE, &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let h = r.headers();
            assert_eq!(
                h["content-security-policy"],
                "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            );
            assert_eq!(h["cache-control"], "no-store");
            assert_eq!(h["x-frame-options"], "DENY");
            let page = r.text().await.unwrap();
            assert!(!page.contains("<script"), "no script, inline or not");
            assert!(
                !page.contains("http://") && !page.contains("https://"),
                "no external asset"
            );

            // Every state-changing form, and any route (a route added later, one that is not
            // there), without and with a wrong CSRF token: the guard refuses them all.
            let posts: [(&str, Vec<(&str, &str)>); 6] = [
                (
                    "/secrets/ApiToken/reveal",
                    vec![("selector", "development,preview,local")],
                ),
                (
                    "/secrets/ApiToken/delete",
                    vec![("selector", "development,preview,local")],
                ),
                (
                    "/secrets/ApiToken/rollback",
                    vec![("selector", "development,preview,local"), ("version", "1")],
                ),
                ("/environments/prod-eu/apply", vec![]),
                ("/a/route/added/later", vec![("selector", "production")]),
                ("/style.css", vec![]),
            ];
            for (path, form) in &posts {
                for token in [None, Some("0123")] {
                    let mut f = form.clone();
                    if let Some(t) = token {
                        f.push(("csrf", t));
                    }
                    let r = client()
                        .post(format!("{}{path}", d.base))
                        .header(COOKIE, &cookie)
                        .form(&f)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 403, "{path} with {token:?}");
                    assert!(!r.text().await.unwrap().contains("shared-dev-token"));
                }
            }
            let set = |csrf: Option<&str>| {
                let mut f = reqwest::multipart::Form::new()
                    .text("name", "ApiToken")
                    .text("type", "local")
                    .text("value", CANARY);
                if let Some(t) = csrf {
                    f = f.text("csrf", t.to_string());
                }
                client()
                    .post(format!("{}/set", d.base))
                    .header(COOKIE, &cookie)
                    .multipart(f)
            };
            // With the token, an unknown route is the router's 404.
            let r = client()
                .post(format!("{}/a/route/added/later", d.base))
                .header(COOKIE, &cookie)
                .form(&[("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404);
            assert_eq!(set(None).send().await.unwrap().status(), 403);
            assert_eq!(set(Some("0123")).send().await.unwrap().status(), 403);
            // A form from another site, even with the token (SameSite keeps the cookie away in a
            // browser; the Origin check refuses it anyway).
            let r = set(Some(&csrf))
                .header("origin", "http://attacker.example")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403);
            // Nothing above changed the store.
            assert_eq!(p.get("ApiToken", "--type", "local"), "shared-dev-token");
            // Other methods.
            let r = client()
                .delete(format!("{}/secrets/ApiToken", d.base))
                .header(COOKIE, &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 405);
            // The real thing works.
            let r = set(Some(&csrf)).send().await.unwrap();
            assert_eq!(r.status(), 303);
            assert_eq!(p.get("ApiToken", "--type", "local"), CANARY);
        });
    }

    #[test]
    fn the_dashboard_listens_on_loopback_only() {
        let p = project();
        for host in ["0.0.0.0", "192.0.2.1", "example.com", "::"] {
            let out = p.code(&["ui", "--host", host], None, 1);
            assert!(out.contains("loopback only"), "{host}: {out}");
        }
    }

    #[test]
    fn the_dashboard_and_the_cli_write_at_once_without_losing_a_write() {
        let p = project();
        let d = start(&p, &[]);
        let (cookie, csrf) = rt().block_on(session(&d));
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..8 {
                    p.set(&format!("Cli{i}"), "--type", "dev", "from-cli");
                }
            });
            s.spawn(|| {
                rt().block_on(async {
                    for i in 0..8 {
                        let f = reqwest::multipart::Form::new()
                            .text("csrf", csrf.clone())
                            .text("name", format!("Ui{i}"))
                            .text("type", "development")
                            .text("value", "from-ui");
                        let r = client()
                            .post(format!("{}/set", d.base))
                            .header(COOKIE, &cookie)
                            .multipart(f)
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(r.status(), 303);
                    }
                });
            });
        });
        let list = p.ok(&["list", "--json"], None);
        for i in 0..8 {
            assert!(list.contains(&format!("\"Cli{i}\"")), "Cli{i} lost");
            assert!(list.contains(&format!("\"Ui{i}\"")), "Ui{i} lost");
        }
    }
}

/// A template in the environment list: marked as one, with how its instances are named and no
/// plan of its own; an instance's plan is at its own address.
#[test]
fn the_environment_list_shows_a_template_and_an_instance_plans() {
    let p = project();
    p.append_config(
        "[environments.pr]\ntype = \"preview\"\nbackend = \"file://replica/previews\"\nprefix = \"web/pr-{id}/\"\n",
    );
    let d = start(&p, &[]);
    rt().block_on(async {
        let Some(c) = browser(&p).await else { return };
        c.goto(&d.url).await.unwrap();
        c.goto(&format!("{}/environments", d.base)).await.unwrap();
        let page = html(&c).await;
        assert!(
            page.contains("<th scope=\"row\">pr <span class=\"tag\">template</span></th>"),
            "{page}"
        );
        assert!(page.contains("<code>--env pr:ID</code>"), "{page}");
        assert!(!page.contains("href=\"/environments/pr/plan\""), "{page}");
        c.goto(&format!("{}/environments/pr:7/plan", d.base))
            .await
            .unwrap();
        let page = html(&c).await;
        assert!(page.contains("web/pr-7/DatabaseURL"), "{page}");
        c.close().await.unwrap();
    });
}

/// Delete is two steps: the value's button shows what it removes (the environments that read
/// it), and only the form there deletes; Cancel leaves the value.
#[test]
fn delete_asks_first_and_names_the_environments_that_lose_the_value() {
    let p = project();
    let d = start(&p, &[]);
    rt().block_on(async {
        let Some(c) = browser(&p).await else { return };
        c.goto(&d.url).await.unwrap();
        c.goto(&format!("{}/secrets/ApiToken", d.base))
            .await
            .unwrap();
        navigate(&c, Locator::XPath("//button[text()='Delete this value…']")).await;
        shot(&c, "delete-confirm").await;
        assert_eq!(
            text_of(&c, "h1").await,
            "Delete development,preview,local of ApiToken?"
        );
        assert_eq!(text_of(&c, "#readers").await, "development\npreview\nlocal");
        navigate(&c, Locator::LinkText("Cancel")).await;
        assert_eq!(p.get("ApiToken", "--type", "local"), "shared-dev-token");
        navigate(&c, Locator::XPath("//button[text()='Delete for local…']")).await;
        assert_eq!(text_of(&c, "#readers").await, "local");
        navigate(&c, Locator::XPath("//button[text()='Delete']")).await;
        assert!(html(&c).await.contains("class=\"flash\""));
        let out = p.run(&["get", "ApiToken", "--type", "local"], None);
        assert_eq!(out.status.code(), Some(1), "local's value is gone");
        assert_eq!(p.get("ApiToken", "--type", "dev"), "shared-dev-token");
        c.close().await.unwrap();
    });
}

/// The page a used link leads to is styled like every other: its stylesheet is served
/// without a session.
#[test]
fn the_used_link_page_is_styled_like_the_rest() {
    let p = project();
    let d = start(&p, &[]);
    rt().block_on(async {
        let Some(first) = browser(&p).await else {
            return;
        };
        first.goto(&d.url).await.unwrap();
        first.close().await.unwrap();
        let c = browser_in(&p, "second-profile").await.unwrap();
        c.goto(&d.url).await.unwrap();
        shot(&c, "link-used").await;
        assert_eq!(text_of(&c, "h1").await, "This link was used already");
        let header = c.find(Locator::Css("header")).await.unwrap();
        assert_eq!(
            header.css_value("background-color").await.unwrap(),
            "rgba(29, 35, 48, 1)",
            "the stylesheet applies"
        );
        c.close().await.unwrap();
    });
}
