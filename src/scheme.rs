//! The one table of backend schemes: how a URL names one, how it is opened, its default rate
//! limits (from each cloud's published quotas) and which URL options select *where* it writes.
//! A new backend is one new variant here plus its crate; every `match` below is exhaustive, so
//! the compiler points at each place that must learn about it.

use anyhow::{bail, Context, Result};
use secretsync_core::memory::MemoryBackend;
use secretsync_core::pace::{Rate, RateLimits};
use secretsync_core::permissions::{Policy, PolicyScope};
use secretsync_core::SecretBackend;
use std::path::Path;
use std::sync::Arc;

/// The file backend a `file://` URL names (relative paths from `base`); `None` for other URLs.
pub fn file_backend(url: &str, base: &Path) -> Option<secretsync_core::file::FileBackend> {
    let rest = url.strip_prefix("file://")?;
    Some(secretsync_core::file::FileBackend::new(
        base.join(rest.trim_start_matches("./")),
    ))
}

/// A backend URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `memory://NAME`: in-process, for tests.
    Memory,
    /// `file://PATH`: a local JSON file, 0600.
    File,
    /// `aws-sm://?region=R`: AWS Secrets Manager.
    AwsSm,
    /// `aws-ssm://?region=R`: AWS Systems Manager Parameter Store.
    AwsSsm,
    /// `gcp-sm://PROJECT`: GCP Secret Manager.
    GcpSm,
    /// `vault://HOST/MOUNT[/PATH]`: Vault or OpenBao KV v2 over https.
    Vault,
    /// `vault+http://…`: the same over plain http (an explicit opt-in).
    VaultHttp,
}

impl Scheme {
    /// Every scheme, in the order errors list them.
    pub const ALL: [Scheme; 7] = [
        Scheme::AwsSm,
        Scheme::AwsSsm,
        Scheme::GcpSm,
        Scheme::Vault,
        Scheme::VaultHttp,
        Scheme::File,
        Scheme::Memory,
    ];

    /// The URL scheme.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Memory => "memory",
            Scheme::File => "file",
            Scheme::AwsSm => "aws-sm",
            Scheme::AwsSsm => "aws-ssm",
            Scheme::GcpSm => "gcp-sm",
            Scheme::Vault => "vault",
            Scheme::VaultHttp => "vault+http",
        }
    }

    /// The cargo feature that builds it in, if it needs one.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            Scheme::Memory | Scheme::File => None,
            Scheme::AwsSm | Scheme::AwsSsm => Some("aws"),
            Scheme::GcpSm => Some("gcp"),
            Scheme::Vault | Scheme::VaultHttp => Some("vault"),
        }
    }

    /// The scheme of `url` and the rest after `://`; the error lists the schemes there are.
    pub fn of_url(url: &str) -> Result<(Scheme, &str), String> {
        let known = || Scheme::ALL.map(|s| format!("{}://", s.as_str())).join(", ");
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            format!("{url:?} is not a backend URL: use one of {}, e.g. \"aws-sm://?region=eu-west-1\" or \"file:///var/lib/app/secrets\"", known())
        })?;
        Scheme::ALL
            .into_iter()
            .find(|s| s.as_str() == scheme)
            .map(|s| (s, rest))
            .ok_or_else(|| {
                format!(
                    "unknown backend scheme {scheme:?} in {url:?}: use one of {}",
                    known()
                )
            })
    }

    /// Default rate limits: the service's published quotas (AWS: writes 50/s, `ListSecrets`
    /// 100/s, reads 10,000/s; GCP: 600 requests a minute of each class, value reads apart at
    /// 90,000); unlimited for local ones. Backends that speak HTTP apply them to each request
    /// they send.
    pub fn default_rates(self) -> RateLimits {
        match self {
            Scheme::AwsSm => RateLimits::default(),
            // Parameter Store's standard throughput is 40/s shared by GetParameter(s) (AWS's
            // quota page); it publishes no figure for PutParameter or DescribeParameters, so
            // writes and listings start conservative (raise with writes_per_second /
            // lists_per_second, or after enabling higher throughput).
            Scheme::AwsSsm => RateLimits {
                list: Rate::per_second(10),
                read: Rate::per_second(40),
                write: Rate::per_second(3),
            },
            // Secret Manager's quotas are per request: 600 reads and 600 writes a minute per
            // project. The backend paces each HTTP request (a create is three write requests),
            // so these are the quotas themselves. Value reads (`AccessSecretVersion`) have a
            // quota of their own, 90,000 a minute, which the backend's wire keeps.
            Scheme::GcpSm => RateLimits::all(Rate::per_minute(600)),
            // Vault has no published quota; a server's own rate limit quotas answer 429.
            Scheme::Vault | Scheme::VaultHttp | Scheme::File | Scheme::Memory => {
                RateLimits::unlimited()
            }
        }
    }

    /// The URL query options that choose *where* secrets are written (an account, region,
    /// namespace), as opposed to how to log in: two URLs that agree on scheme, host, path and
    /// these options write to the same place.
    pub fn target_options(self) -> &'static [&'static str] {
        match self {
            Scheme::AwsSm | Scheme::AwsSsm => &["region", "endpoint", "profile"],
            Scheme::GcpSm => &["endpoint"],
            Scheme::Vault | Scheme::VaultHttp => &["namespace"],
            Scheme::File | Scheme::Memory => &[],
        }
    }

    /// Checks `url` as far as it can be without connecting: its scheme, its syntax and the
    /// options of the backends built in. Returns the scheme.
    pub fn check_url(url: &str) -> Result<Scheme, String> {
        let (scheme, rest) = Scheme::of_url(url)?;
        match scheme {
            Scheme::Memory => {}
            Scheme::File if rest.is_empty() => {
                return Err("file:// needs a path, e.g. file://./replica".into())
            }
            Scheme::File => {}
            _ => {
                let u =
                    url::Url::parse(url).map_err(|e| format!("{url:?} is not a valid URL: {e}"))?;
                match scheme {
                    #[cfg(feature = "aws")]
                    Scheme::AwsSm => {
                        secretsync_aws::SmOptions::from_url(&u)?;
                    }
                    #[cfg(feature = "aws")]
                    Scheme::AwsSsm => {
                        secretsync_aws::SsmOptions::from_url(&u)?;
                    }
                    #[cfg(feature = "gcp")]
                    Scheme::GcpSm => {
                        secretsync_gcp::GcpSmOptions::from_url(&u)?;
                    }
                    #[cfg(feature = "vault")]
                    Scheme::Vault | Scheme::VaultHttp => {
                        secretsync_vault::VaultOptions::from_url(&u).map_err(|e| e.to_string())?;
                    }
                    _ => drop(u),
                }
            }
        }
        Ok(scheme)
    }

    /// The policy document `scope`'s job needs on the backend `url` names, written from the
    /// backend's permission table without connecting; `None` for local backends, which need no
    /// grant.
    pub fn policy(self, url: &str, scope: &PolicyScope) -> Result<Option<Policy>, String> {
        #[cfg(any(feature = "aws", feature = "gcp", feature = "vault"))]
        let parsed =
            || url::Url::parse(url).map_err(|e| format!("{url:?} is not a valid URL: {e}"));
        #[cfg(not(any(feature = "aws", feature = "gcp", feature = "vault")))]
        let _ = (url, scope);
        let policy = match self {
            Scheme::Memory | Scheme::File => None,
            #[cfg(feature = "aws")]
            Scheme::AwsSm => Some(secretsync_aws::sm::permissions::policy(
                &secretsync_aws::SmOptions::from_url(&parsed()?)?,
                scope,
            )),
            #[cfg(feature = "aws")]
            Scheme::AwsSsm => Some(secretsync_aws::ssm::permissions::policy(
                &secretsync_aws::SsmOptions::from_url(&parsed()?)?,
                scope,
            )),
            #[cfg(feature = "gcp")]
            Scheme::GcpSm => Some(secretsync_gcp::sm::permissions::policy(
                &secretsync_gcp::GcpSmOptions::from_url(&parsed()?)?,
                scope,
            )),
            #[cfg(feature = "vault")]
            Scheme::Vault | Scheme::VaultHttp => Some(secretsync_vault::permissions::policy(
                &secretsync_vault::Location::from_url(&parsed()?).map_err(|e| e.to_string())?,
                scope,
            )),
            #[allow(unreachable_patterns)]
            other => {
                return Err(format!(
                    "{}:// backends are not built into this secretsync (build with --features {})",
                    other.as_str(),
                    other.feature().unwrap_or_default()
                ))
            }
        };
        Ok(policy)
    }

    /// Opens the backend `url` names; relative `file://` paths are taken from `base`.
    pub async fn open(self, url: &str, base: &Path) -> Result<Arc<dyn SecretBackend>> {
        let (_, rest) = url.split_once("://").unwrap_or(("", url));
        #[cfg(any(feature = "aws", feature = "gcp", feature = "vault"))]
        let parsed = || url::Url::parse(url).with_context(|| format!("{url:?} is not a valid URL"));
        Ok(match self {
            Scheme::Memory => Arc::new(MemoryBackend::named(rest)),
            Scheme::File => {
                if rest.is_empty() {
                    bail!("file:// needs a path, e.g. file://./replica or file:///var/lib/app/secrets.json");
                }
                Arc::new(file_backend(url, base).context("a file:// URL")?)
            }
            #[cfg(feature = "aws")]
            Scheme::AwsSm => Arc::new(secretsync_aws::AwsSmBackend::from_url(&parsed()?).await?),
            #[cfg(feature = "aws")]
            Scheme::AwsSsm => Arc::new(secretsync_aws::AwsSsmBackend::from_url(&parsed()?).await?),
            #[cfg(feature = "gcp")]
            Scheme::GcpSm => Arc::new(secretsync_gcp::GcpSmBackend::from_url(&parsed()?).await?),
            #[cfg(feature = "vault")]
            Scheme::Vault | Scheme::VaultHttp => {
                Arc::new(secretsync_vault::VaultBackend::from_url(&parsed()?).await?)
            }
            #[allow(unreachable_patterns)]
            other => bail!(
                "{}:// backends are not built into this secretsync (build with --features {})",
                other.as_str(),
                other.feature().unwrap_or_default()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_scheme_or_get_a_clear_error() {
        for s in Scheme::ALL {
            let url = format!("{}://x", s.as_str());
            assert_eq!(Scheme::of_url(&url).unwrap(), (s, "x"));
        }
        let err = Scheme::of_url("s3://bucket").unwrap_err();
        assert!(
            err.contains("unknown backend scheme \"s3\"") && err.contains("aws-sm://"),
            "{err}"
        );
        let err = Scheme::of_url("billing/").unwrap_err();
        assert!(err.contains("not a backend URL"), "{err}");
    }

    #[test]
    fn every_scheme_has_rates_and_target_options() {
        assert_eq!(Scheme::AwsSm.default_rates().write, Rate::per_second(50));
        assert_eq!(Scheme::GcpSm.default_rates().read, Rate::per_minute(600));
        for s in Scheme::ALL {
            assert!(s.default_rates().list.calls > 0, "{s:?}");
            let _ = s.target_options();
        }
    }
}
