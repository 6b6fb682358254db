//! The Vault client never sends its token or a request body to another origin, and reads
//! bounded responses. Two plain TCP servers on loopback stand in for Vault and for the host a
//! redirect points at; no emulator needed.

use secretsync_core::{ErrorKind, PutOptions, SecretBackend};
use secretsync_vault::{Auth, VaultBackend, VaultOptions};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TOKEN: &str = "hvs.canary-token-5f1e2d";

/// Serves every request with `response(port)`, recording what it received.
async fn server(
    response: impl Fn(u16) -> String + Send + Sync + 'static,
) -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let response = Arc::new(response);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let (log, response) = (log.clone(), response.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let n = tokio::time::timeout(std::time::Duration::from_secs(2), s.read(&mut buf))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or(0);
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let _ = s.write_all(response(port).as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (port, seen)
}

fn opts(port: u16) -> VaultOptions {
    VaultOptions {
        addr: format!("http://127.0.0.1:{port}"),
        mount: "secret".into(),
        path: String::new(),
        namespace: None,
        auth: Auth::Token(TOKEN.into()),
    }
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let (other, other_seen) =
        server(|_| "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".into())
            .await;
    let (vault, vault_seen) = server(move |_| {
        format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: http://localhost:{other}/v1/secret/data/A\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
    })
    .await;
    let b = VaultBackend::new(opts(vault)).await.unwrap();
    let err = b
        .put("A", &"canary-value-9d8c".into(), &PutOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("redirected"), "{err}");
    assert!(!vault_seen.lock().unwrap().is_empty());
    assert!(
        other_seen.lock().unwrap().is_empty(),
        "the other origin got a request: {:?}",
        other_seen.lock().unwrap()
    );
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn an_oversized_response_is_refused() {
    let big = secretsync_vault::MAX_RESPONSE_BYTES + 1;
    let (vault, _) = server(move |_| {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {big}\r\nconnection: close\r\n\r\n{}",
            " ".repeat(big)
        )
    })
    .await;
    let b = VaultBackend::new(opts(vault)).await.unwrap();
    let err = b.get("A").await.unwrap_err();
    assert!(err.to_string().contains("over"), "{err}");
}

#[test]
fn vault_urls_are_https_unless_plain_http_is_asked_for() {
    // The only test in this binary that touches the environment.
    std::env::set_var("VAULT_TOKEN", "t");
    let u = |s: &str| url::Url::parse(s).unwrap();
    let o = VaultOptions::from_url(&u("vault://vault.example:8200/secret/app")).unwrap();
    assert_eq!(o.addr, "https://vault.example:8200");
    let o = VaultOptions::from_url(&u("vault+http://127.0.0.1:8200/secret")).unwrap();
    assert_eq!(o.addr, "http://127.0.0.1:8200");
    // A VAULT_ADDR with http:// needs the explicit opt-in too.
    std::env::set_var("VAULT_ADDR", "http://127.0.0.1:8200");
    let err = VaultOptions::from_url(&u("vault:///secret/app")).unwrap_err();
    assert!(err.to_string().contains("vault+http://"), "{err}");
    let o = VaultOptions::from_url(&u("vault+http:///secret/app")).unwrap();
    assert_eq!(o.addr, "http://127.0.0.1:8200");
    std::env::set_var("VAULT_ADDR", "https://vault.example");
    assert!(VaultOptions::from_url(&u("vault:///secret/app")).is_ok());
    std::env::remove_var("VAULT_ADDR");
    std::env::remove_var("VAULT_TOKEN");
}
