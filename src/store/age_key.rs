//! The embedded default recipient: an age X25519 key pair. The public key (`age1…`) is the
//! recipient id written in the store; the secret key lives in the user's config dir (mode 0600)
//! or in `SECRETSYNC_AGE_IDENTITY`.

use async_trait::async_trait;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use secretsync_core::{DataKey, Identity, KeyError, Recipient};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use zeroize::Zeroizing;

use age::secrecy::ExposeSecret;

/// Environment variable holding an age secret key (or a path to an identity file).
pub const IDENTITY_ENV: &str = "SECRETSYNC_AGE_IDENTITY";

const WRAP_MAGIC: &[u8] = b"secretsync/data-key/v1\0";

/// The payload wrapped for a recipient: the store id travels with the key, so a wrapped key
/// copied into another store is refused.
fn wrap_payload(key: &DataKey, store_id: &str) -> Zeroizing<Vec<u8>> {
    let mut pt = Zeroizing::new(WRAP_MAGIC.to_vec());
    pt.extend_from_slice(store_id.as_bytes());
    pt.push(0);
    pt.extend_from_slice(key.expose());
    pt
}

fn unwrap_payload(pt: &[u8], store_id: &str) -> Option<DataKey> {
    let rest = pt.strip_prefix(WRAP_MAGIC)?;
    let rest = rest.strip_prefix(store_id.as_bytes())?;
    let rest = rest.strip_prefix(&[0u8])?;
    DataKey::try_from_slice(rest)
}

/// An age X25519 public key the data key is wrapped for.
#[derive(Debug, Clone)]
pub struct AgeRecipient(age::x25519::Recipient);

impl FromStr for AgeRecipient {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        age::x25519::Recipient::from_str(s.trim())
            .map(AgeRecipient)
            .map_err(|e| KeyError::new(s, format!("not an age X25519 public key (age1…): {e}")))
    }
}

#[async_trait]
impl Recipient for AgeRecipient {
    fn id(&self) -> String {
        self.0.to_string()
    }

    async fn wrap(&self, key: &DataKey, store_id: &str) -> Result<String, KeyError> {
        let ct = age::encrypt(&self.0, &wrap_payload(key, store_id))
            .map_err(|e| KeyError::new(self.id(), format!("age encryption failed: {e}")))?;
        Ok(B64.encode(ct))
    }
}

/// An age X25519 secret key that can unwrap keys wrapped for its public key.
pub struct AgeIdentity {
    secret: age::x25519::Identity,
    public: String,
}

impl std::fmt::Debug for AgeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgeIdentity({})", self.public)
    }
}

impl AgeIdentity {
    /// A new random identity.
    pub fn generate() -> Self {
        Self::from_secret(age::x25519::Identity::generate())
    }

    fn from_secret(secret: age::x25519::Identity) -> Self {
        let public = secret.to_public().to_string();
        Self { secret, public }
    }

    /// The public key (`age1…`): the recipient id.
    pub fn public(&self) -> &str {
        &self.public
    }

    /// The matching recipient.
    pub fn recipient(&self) -> AgeRecipient {
        AgeRecipient(self.secret.to_public())
    }

    /// The identity-file text: a comment with the public key, then the secret key.
    pub fn to_file_text(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "# secretsync age identity\n# public key: {}\n{}\n",
            self.public,
            self.secret.to_string().expose_secret()
        ))
    }

    /// Parses every `AGE-SECRET-KEY-…` line of an identity file; `#` lines are comments.
    pub fn parse_all(text: &str, origin: &str) -> Result<Vec<AgeIdentity>, KeyError> {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let secret = age::x25519::Identity::from_str(line).map_err(|_| {
                KeyError::new(
                    origin,
                    format!(
                        "line {} is not an age secret key (AGE-SECRET-KEY-…); an identity file \
                         holds one key per line and '#' comments",
                        i + 1
                    ),
                )
            })?;
            out.push(AgeIdentity::from_secret(secret));
        }
        if out.is_empty() {
            return Err(KeyError::new(origin, "holds no age secret key"));
        }
        Ok(out)
    }
}

#[async_trait]
impl Identity for AgeIdentity {
    fn public_id(&self) -> String {
        self.public.clone()
    }

    fn matches(&self, recipient_id: &str) -> bool {
        recipient_id == self.public
    }

    async fn unwrap(
        &self,
        recipient_id: &str,
        wrapped: &str,
        store_id: &str,
    ) -> Result<DataKey, KeyError> {
        let ct = secretsync_core::recipient::decode_wrapped(recipient_id, wrapped)?;
        let pt = Zeroizing::new(age::decrypt(&self.secret, &ct).map_err(|e| {
            KeyError::new(recipient_id, format!("cannot unwrap the data key: {e}"))
        })?);
        unwrap_payload(&pt, store_id).ok_or_else(|| {
            KeyError::new(
                recipient_id,
                "the wrapped data key belongs to another store (it was copied from elsewhere)",
            )
        })
    }
}

/// Where the user's identity file lives: `$XDG_CONFIG_HOME/secretsync/identity.txt` (or the
/// platform's config dir).
pub fn default_identity_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("secretsync").join("identity.txt"))
}

/// Where the identities come from, for messages.
#[derive(Debug, Clone)]
pub enum IdentitySource {
    /// The key itself, in the environment variable.
    Env,
    /// A file (named by the environment variable, or the default path).
    File(PathBuf),
}

impl std::fmt::Display for IdentitySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdentitySource::Env => write!(f, "${IDENTITY_ENV}"),
            IdentitySource::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Finds the user's age identities: `SECRETSYNC_AGE_IDENTITY` (a key or a file path), else the
/// default identity file. `Ok(None)` when there is none.
pub fn load_identities() -> Result<Option<(IdentitySource, Vec<AgeIdentity>)>, KeyError> {
    if let Ok(v) = std::env::var(IDENTITY_ENV) {
        let v = Zeroizing::new(v);
        return identities_from_env(&v).map(|(src, ids)| Some((src, ids)));
    }
    match default_identity_path() {
        Some(p) if p.exists() => {
            read_identity_file(&p).map(|ids| Some((IdentitySource::File(p), ids)))
        }
        _ => Ok(None),
    }
}

/// Reads `SECRETSYNC_AGE_IDENTITY`: the key itself, or a path to an identity file. Its value may
/// be a secret key, so no error ever repeats any of it.
fn identities_from_env(v: &str) -> Result<(IdentitySource, Vec<AgeIdentity>), KeyError> {
    let t = v.trim_start();
    if t.starts_with("AGE-SECRET-KEY-") || t.starts_with('#') {
        let ids = AgeIdentity::parse_all(v, &format!("${IDENTITY_ENV}"))?;
        return Ok((IdentitySource::Env, ids));
    }
    let looks_like_key = v.to_ascii_uppercase().contains("AGE-SECRET-KEY");
    let path = PathBuf::from(v);
    if looks_like_key || !path.is_file() {
        let why = if looks_like_key {
            "holds something like an age secret key, but not in the form AGE-SECRET-KEY-1… at the \
             start (quoted? lowercase? a NAME= prefix?)"
        } else {
            "is neither an age secret key (AGE-SECRET-KEY-1…) nor the path of a readable identity file"
        };
        return Err(KeyError::new(
            format!("${IDENTITY_ENV}"),
            format!("{why}; its value is not shown, since it may be a key. Set it to the key alone, or to the path of a file that holds it"),
        ));
    }
    read_identity_file(&path).map(|ids| (IdentitySource::File(path), ids))
}

fn read_identity_file(path: &Path) -> Result<Vec<AgeIdentity>, KeyError> {
    let origin = path.display().to_string();
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| KeyError::new(&origin, format!("cannot read identity file: {e}")))?,
    );
    AgeIdentity::parse_all(&text, &origin)
}

/// Creates a new identity file at `path` with mode 0600 (its folder 0700). Refuses to overwrite.
pub fn create_identity_file(path: &Path) -> Result<AgeIdentity, KeyError> {
    let origin = path.display().to_string();
    let err =
        |e: std::io::Error| KeyError::new(&origin, format!("cannot create identity file: {e}"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
    let id = AgeIdentity::generate();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(err)?;
    f.write_all(id.to_file_text().as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_identity_in_the_environment_is_never_echoed() {
        let id = AgeIdentity::generate();
        let key = id.to_file_text();
        let key_line = key
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .unwrap();
        let body = &key_line["AGE-SECRET-KEY-".len()..];
        for bad in [
            format!("\"{key_line}\""),
            key_line.to_lowercase(),
            format!("X={key_line}"),
            format!("{key_line}garbage"),
            body.to_string(),
        ] {
            let err = identities_from_env(&bad).unwrap_err().to_string();
            for piece in [&body[..12], &body[body.len() - 12..]] {
                assert!(
                    !err.to_uppercase().contains(&piece.to_uppercase()),
                    "the error repeats the key: {err}"
                );
            }
            assert!(err.contains("SECRETSYNC_AGE_IDENTITY"), "{err}");
        }
        let (src, ids) = identities_from_env(key_line).unwrap();
        assert!(matches!(src, IdentitySource::Env));
        assert_eq!(ids[0].public(), id.public());
    }

    #[tokio::test]
    async fn wrap_unwrap_is_bound_to_the_store_and_the_identity() {
        let id = AgeIdentity::generate();
        let key = crate::store::crypto::new_data_key();
        let wrapped = id.recipient().wrap(&key, "store-a").await.unwrap();
        let back = id.unwrap(id.public(), &wrapped, "store-a").await.unwrap();
        assert_eq!(back.expose(), key.expose());
        let moved = id
            .unwrap(id.public(), &wrapped, "store-b")
            .await
            .unwrap_err();
        assert!(moved.message.contains("another store"), "{moved}");
        let other = AgeIdentity::generate();
        assert!(other
            .unwrap(id.public(), &wrapped, "store-a")
            .await
            .is_err());
    }

    #[test]
    fn identity_file_text_parses_back() {
        let id = AgeIdentity::generate();
        let parsed = AgeIdentity::parse_all(&id.to_file_text(), "t").unwrap();
        assert_eq!(parsed[0].public(), id.public());
        assert!(format!("{:?}", parsed[0]).starts_with("AgeIdentity(age1"));
        assert!(AgeIdentity::parse_all("# nothing\n", "t").is_err());
        assert!(AgeIdentity::parse_all("garbage", "t").is_err());
    }
}
