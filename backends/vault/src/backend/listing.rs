//! Listing: `LIST` returns one folder's names and is not paginated, so a page is one folder and
//! the page token the folders still to read.

use super::VaultBackend;
use reqwest::Method;
use secretsync_core::error::Result;
use secretsync_core::*;
use serde_json::Value;

impl VaultBackend {
    /// Every name under `prefix`, sorted (LIST walks folders).
    /// One folder's names under `prefix` (sorted) and its subfolders that can hold some: one
    /// `LIST` request.
    async fn folder(&self, prefix: &str, dir: &str) -> Result<(Vec<String>, Vec<String>)> {
        let v = self
            .call(
                Method::GET,
                &[&self.opts.mount, "metadata"],
                Some(dir),
                None,
                Op::List,
                prefix,
            )
            .await?;
        let (mut names, mut dirs) = (Vec::new(), Vec::new());
        for key in v["data"]["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let full = format!("{dir}{key}");
            if full.ends_with('/') {
                if full.starts_with(prefix) || prefix.starts_with(&full) {
                    dirs.push(full);
                }
            } else if full.starts_with(prefix) {
                names.push(full);
            }
        }
        names.sort();
        Ok((names, dirs))
    }

    /// One page of names under `prefix` (see the module docs).
    pub(super) async fn list_page(
        &self,
        prefix: &str,
        page: Option<String>,
    ) -> Result<Page<SecretMeta>> {
        // A page is one folder (one LIST, which Vault does not paginate); the token holds the
        // folders still to read, so no folder is listed twice.
        let mut dirs: Vec<String> = match &page {
            None => vec![prefix.rfind('/').map_or("", |i| &prefix[..=i]).to_string()],
            Some(t) => serde_json::from_str(t).map_err(|_| {
                BackendError::new(
                    ErrorKind::InvalidInput,
                    Op::List,
                    "not a page token of this backend",
                )
                .name(prefix)
            })?,
        };
        let Some(dir) = dirs.pop() else {
            return Ok(Page::default());
        };
        let (chunk, subdirs) = self.folder(prefix, &dir).await?;
        dirs.extend(subdirs);
        let next =
            (!dirs.is_empty()).then(|| serde_json::to_string(&dirs).expect("strings serialize"));
        // Names only: LIST gives nothing else. `list_all` reads each one's metadata through
        // the layers (`labels_in_list: false`), so those reads are counted and rate limited.
        Ok(Page {
            items: chunk
                .into_iter()
                .map(|name| SecretMeta {
                    name,
                    labels: Labels::new(),
                    version: None,
                    updated: None,
                    placement_drift: None,
                })
                .collect(),
            next,
        })
    }
}
