//! `secretsync ui`: a local dashboard over the same application functions as the CLI.
//!
//! Server-rendered HTML (maud) on axum, bound to loopback only, no script at all. The guard
//! ([`guard`]) admits the holder of the one-time token in the printed URL, checks `Host`
//! against DNS rebinding and sets the security headers; every form that changes something
//! carries the session's CSRF token. Values appear only on the page answering a **Reveal**.

mod guard;
mod pages;
mod routes;

use crate::app::Workspace;
use anyhow::{bail, Context, Result};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

/// How `secretsync ui` serves.
#[derive(Debug, Clone)]
pub struct Options {
    /// A loopback address or `localhost`.
    pub host: String,
    /// The port (0: a free one).
    pub port: u16,
    /// Offer **Apply** on the environments page.
    pub allow_apply: bool,
}

/// What the handlers share.
#[derive(Debug)]
pub struct Ui {
    ws: Workspace,
    allow_apply: bool,
    gate: Arc<guard::Gate>,
}

/// A bound dashboard, not yet serving.
pub struct Server {
    listener: tokio::net::TcpListener,
    ui: Arc<Ui>,
    /// The URL to open, carrying the one-time token.
    pub url: String,
}

/// The address `host` names, if it is loopback.
fn loopback(host: &str) -> Result<IpAddr> {
    let ip = match host {
        "localhost" => IpAddr::from([127, 0, 0, 1]),
        h => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .with_context(|| {
                format!("--host {h}: not an IP address; the dashboard listens on loopback only (127.0.0.1, ::1 or localhost)")
            })?,
    };
    if !ip.is_loopback() {
        bail!("--host {host}: not a loopback address; the dashboard listens on loopback only (127.0.0.1, ::1 or localhost), since it can show and change secrets. To reach it from elsewhere, forward a port over SSH");
    }
    Ok(ip)
}

/// Binds the dashboard of `ws` on loopback.
pub async fn bind(ws: Workspace, opts: &Options) -> Result<Server> {
    // The config must load now, not on the first page.
    ws.config()?;
    let ip = loopback(&opts.host)?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, opts.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", opts.host, opts.port))?;
    let port = listener.local_addr()?.port();
    let name = match (opts.host.as_str(), ip) {
        ("localhost", _) => "localhost".to_string(),
        (_, IpAddr::V6(v6)) => format!("[{v6}]"),
        (_, IpAddr::V4(v4)) => v4.to_string(),
    };
    let host = format!("{name}:{port}");
    let token = guard::random_token();
    let url = format!("http://{host}/?token={token}");
    let gate = Arc::new(guard::Gate {
        origin: format!("http://{host}"),
        host,
        auth: Mutex::new(guard::Auth::new(token)),
    });
    Ok(Server {
        listener,
        ui: Arc::new(Ui {
            ws,
            allow_apply: opts.allow_apply,
            gate,
        }),
        url,
    })
}

impl Server {
    /// Serves until `shutdown` resolves.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let app = routes::router(self.ui);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .context("the dashboard's server failed")
    }
}

#[cfg(test)]
mod tests {
    use super::loopback;

    #[test]
    fn only_loopback_addresses_are_taken() {
        for ok in ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"] {
            assert!(loopback(ok).is_ok(), "{ok}");
        }
        for bad in [
            "0.0.0.0",
            "::",
            "10.0.0.1",
            "example.com",
            "localhost.example.com",
            "",
        ] {
            let e = loopback(bad).unwrap_err().to_string();
            assert!(e.contains("loopback only"), "{bad}: {e}");
        }
    }
}
