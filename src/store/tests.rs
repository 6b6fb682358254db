use super::age_key::AgeIdentity;
use super::*;
use crate::model::EnvType::*;
use crate::model::{ScopeLayout, SecretName, Selector};
use secretsync_core::{Identity, Recipient, SecretValue};

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    ids: Vec<Box<dyn Identity>>,
}

fn envs() -> Vec<(String, crate::model::EnvType)> {
    vec![
        ("prod-eu".into(), Production),
        ("prod-us".into(), Production),
    ]
}

fn name(s: &str) -> SecretName {
    s.parse().unwrap()
}

fn sel(s: &str) -> Selector {
    s.parse().unwrap()
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.enc.toml");
    let id = AgeIdentity::generate();
    Store::create(&path, &ScopeLayout::default(), &[&id.recipient()])
        .await
        .unwrap();
    Fixture {
        _dir: dir,
        path,
        ids: vec![Box::new(id)],
    }
}

async fn set(f: &Fixture, n: &str, s: &str, v: &str) -> SetReport {
    let mut w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    let r = w.set(&name(n), &sel(s), v.into(), None).unwrap();
    w.commit().unwrap();
    r
}

async fn get(f: &Fixture, n: &str, scope: Target) -> Result<SecretValue> {
    Store::load(&f.path)?
        .unlock(&f.ids)
        .await?
        .get(&name(n), &scope)
}

fn text(v: SecretValue) -> String {
    v.as_str().unwrap().to_string()
}

#[tokio::test]
async fn values_round_trip_and_resolve_by_type_and_override() {
    let f = fixture().await;
    set(&f, "Token", "prod", "p-value").await;
    set(&f, "Token", "dev,preview,local", "d-value").await;
    set(&f, "Token", "env:prod-eu", "eu-value").await;
    let eu = EnvRef::Declared("prod-eu".parse().unwrap(), Production);
    let us = EnvRef::Declared("prod-us".parse().unwrap(), Production);
    assert_eq!(
        text(get(&f, "Token", Target::Env(eu)).await.unwrap()),
        "eu-value"
    );
    assert_eq!(
        text(get(&f, "Token", Target::Env(us)).await.unwrap()),
        "p-value"
    );
    assert_eq!(
        text(get(&f, "Token", Target::Type(Preview)).await.unwrap()),
        "d-value"
    );
    let raw = std::fs::read_to_string(&f.path).unwrap();
    assert!(!raw.contains("value\""), "plaintext in the file");
    assert!(!raw.contains("p-value") && !raw.contains("d-value"));
    assert!(
        raw.contains("[secrets.Token.values.\"development,preview,local\"]"),
        "{raw}"
    );
}

#[tokio::test]
async fn binary_and_64k_values_round_trip_and_larger_is_refused() {
    let f = fixture().await;
    let bin: Vec<u8> = (0..=255u8).cycle().take(MAX_VALUE_BYTES).collect();
    let mut w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    w.set(&name("Bin"), &sel("local"), bin.clone().into(), None)
        .unwrap();
    let err = w
        .set(
            &name("Big"),
            &sel("local"),
            vec![1u8; MAX_VALUE_BYTES + 1].into(),
            None,
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::TooLarge(..)), "{err}");
    let err = w
        .set(&name("Nil"), &sel("local"), Vec::new().into(), None)
        .unwrap_err();
    assert!(matches!(err, StoreError::Empty(..)), "{err}");
    w.commit().unwrap();
    assert_eq!(
        get(&f, "Bin", Target::Type(Local)).await.unwrap().expose(),
        &bin[..]
    );
}

#[tokio::test]
async fn setting_one_type_splits_it_off_and_reports_it() {
    let f = fixture().await;
    set(&f, "K", "dev,preview,local", "shared").await;
    let r = set(&f, "K", "local", "mine").await;
    assert_eq!(
        r.split,
        vec![(sel("development,preview,local"), sel("development,preview"))]
    );
    assert_eq!(
        text(get(&f, "K", Target::Type(Local)).await.unwrap()),
        "mine"
    );
    assert_eq!(
        text(get(&f, "K", Target::Type(Development)).await.unwrap()),
        "shared"
    );
    // Widening absorbs: both old values end up in the new value's history.
    let r = set(&f, "K", "dev,preview,local", "again").await;
    assert_eq!(r.absorbed.len(), 2);
    let u = Store::load(&f.path).unwrap().unlock(&f.ids).await.unwrap();
    let (_, h) = u.history(&name("K"), &Target::Type(Local)).unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(h[0].version, 3);
}

#[tokio::test]
async fn history_is_bounded_and_rollback_restores_as_new_version() {
    let f = fixture().await;
    for i in 1..=13 {
        set(&f, "K", "prod", &format!("v{i}")).await;
    }
    let mut w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    let (_, h) = w.history(&name("K"), &Target::Type(Production)).unwrap();
    assert_eq!(h.len(), HISTORY_LIMIT + 1);
    assert_eq!(h[0].version, 13);
    assert_eq!(h.last().unwrap().version, 3);
    let (_, from, to) = w
        .rollback(&name("K"), &Target::Type(Production), None)
        .unwrap();
    assert_eq!((from, to), (12, 14));
    assert_eq!(
        text(w.get(&name("K"), &Target::Type(Production)).unwrap()),
        "v12"
    );
    w.rollback(&name("K"), &Target::Type(Production), Some(5))
        .unwrap();
    assert_eq!(
        text(w.get(&name("K"), &Target::Type(Production)).unwrap()),
        "v5"
    );
    assert!(w
        .rollback(&name("K"), &Target::Type(Production), Some(1))
        .is_err());
    w.commit().unwrap();
}

#[tokio::test]
async fn delete_shrinks_types_removes_overrides_and_whole_secrets() {
    let f = fixture().await;
    set(&f, "K", "dev,preview", "d").await;
    set(&f, "K", "env:prod-eu", "eu").await;
    let mut w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    let r = w
        .delete(
            &name("K"),
            Some(&Selector::Types("preview".parse().unwrap())),
        )
        .unwrap();
    assert_eq!(
        r,
        vec![(sel("development,preview"), Some(sel("development")))]
    );
    assert_eq!(
        text(w.get(&name("K"), &Target::Type(Development)).unwrap()),
        "d"
    );
    assert!(w
        .delete(&name("K"), Some(&Selector::Types("local".parse().unwrap())))
        .is_err());
    w.delete(&name("K"), Some(&Selector::Env("prod-eu".parse().unwrap())))
        .unwrap();
    w.delete(&name("K"), None).unwrap();
    assert!(w.secret(&name("K")).is_none());
    w.commit().unwrap();
}

fn tamper(f: &Fixture, edit: impl FnOnce(String) -> String) {
    let raw = std::fs::read_to_string(&f.path).unwrap();
    std::fs::write(&f.path, edit(raw)).unwrap();
}

/// The ciphertext of `secret`'s value for `sel` in `scope`.
fn sealed_of(raw: &str, secret: &str, sel: &str, scope: &str) -> String {
    let v: toml::Value = toml::from_str(raw).unwrap();
    v["secrets"][secret]["values"][sel]["sealed"][scope]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_flipped_byte_is_refused() {
    let f = fixture().await;
    set(&f, "A", "prod", "aaaa").await;
    tamper(&f, |raw| {
        let s = sealed_of(&raw, "A", "production", "production");
        let mut b = s.clone().into_bytes();
        b[20] = if b[20] == b'A' { b'B' } else { b'A' };
        raw.replace(&s, std::str::from_utf8(&b).unwrap())
    });
    let err = get(&f, "A", Target::Type(Production)).await.unwrap_err();
    assert!(matches!(err, StoreError::Tampered { .. }), "{err}");
    assert!(
        err.to_string().contains("value of A for production"),
        "{err}"
    );
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_name_or_selector_is_refused() {
    let f = fixture().await;
    set(&f, "A", "prod", "aaaa").await;
    set(&f, "B", "prod", "bbbb").await;
    set(&f, "B", "local", "llll").await;
    tamper(&f, |raw| {
        let a = sealed_of(&raw, "A", "production", "production");
        let bl = sealed_of(&raw, "B", "local", "development");
        let bp = sealed_of(&raw, "B", "production", "production");
        // Another secret's ciphertext, and another scope's.
        raw.replace(&bp, &a).replace(&bl, &bp)
    });
    for (n, t) in [("B", Production), ("B", Local)] {
        let err = get(&f, n, Target::Type(t)).await.unwrap_err();
        assert!(matches!(err, StoreError::Tampered { .. }), "{err}");
    }
    assert_eq!(
        text(get(&f, "A", Target::Type(Production)).await.unwrap()),
        "aaaa"
    );
}

#[tokio::test]
async fn a_selector_renamed_by_hand_is_refused() {
    let f = fixture().await;
    set(&f, "A", "dev", "aaaa").await;
    let raw = std::fs::read_to_string(&f.path).unwrap();
    // Within its scope: the ciphertext is bound to the types it was sealed for.
    tamper(&f, |raw| {
        raw.replace("secrets.A.values.development", "secrets.A.values.local")
    });
    let err = get(&f, "A", Target::Type(Local)).await.unwrap_err();
    assert!(matches!(err, StoreError::Tampered { .. }), "{err}");
    // Into another scope: the file no longer adds up.
    std::fs::write(&f.path, &raw).unwrap();
    tamper(&f, |raw| {
        raw.replace(
            "secrets.A.values.development",
            "secrets.A.values.production",
        )
    });
    let err = Store::load(&f.path).unwrap_err().to_string();
    assert!(err.contains("edited by hand"), "{err}");
}

fn ids(id: AgeIdentity) -> Vec<Box<dyn Identity>> {
    vec![Box::new(id)]
}

fn recipient(id: &str) -> Box<dyn Recipient> {
    Box::new(id.parse::<age_key::AgeRecipient>().unwrap())
}

async fn get_as(f: &Fixture, who: &[Box<dyn Identity>], n: &str, t: Target) -> Result<SecretValue> {
    Store::load(&f.path)?.unlock(who).await?.get(&name(n), &t)
}

#[tokio::test]
async fn wrong_identity_and_removed_recipient_are_refused() {
    let f = fixture().await;
    set(&f, "A", "prod", "aaaa").await;
    set(&f, "A", "dev", "dddd").await;
    let stranger = ids(AgeIdentity::generate());
    let err = get_as(&f, &stranger, "A", Target::Type(Production))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ScopeLocked { .. }), "{err}");
    assert!(
        err.to_string().contains("key add") && err.to_string().contains("scope production"),
        "{err}"
    );

    // Bob is let into production only.
    let bob = AgeIdentity::generate();
    let bob_pub = bob.public().to_string();
    let bob_ids = ids(bob);
    let mut w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    w.add_recipient("production", recipient(&bob_pub).as_ref())
        .await
        .unwrap();
    w.commit().unwrap();
    let got = get_as(&f, &bob_ids, "A", Target::Type(Production))
        .await
        .unwrap();
    assert_eq!(text(got), "aaaa");
    let err = get_as(&f, &bob_ids, "A", Target::Type(Development))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ScopeLocked { .. }), "{err}");

    let mut w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    w.remove_recipient("production", &bob_pub).unwrap();
    w.commit().unwrap();
    let err = get_as(&f, &bob_ids, "A", Target::Type(Production))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ScopeLocked { .. }), "{err}");
    let mut w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    let me = w.recipients()[0].id.clone();
    assert!(
        w.remove_recipient("production", &me).is_err(),
        "the last recipient of a scope must stay"
    );
}

#[tokio::test]
async fn rotation_reseals_its_scope_only_and_keeps_the_fingerprint_key() {
    let f = fixture().await;
    set(&f, "A", "prod", "a1").await;
    set(&f, "A", "prod", "a2").await;
    set(&f, "D", "dev", "d").await;
    let before = std::fs::read_to_string(&f.path).unwrap();
    let mut w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    let fp = w.fingerprint_key("production").unwrap();
    let recips: Vec<Box<dyn Recipient>> = w.recipients().iter().map(|r| recipient(&r.id)).collect();
    // The current value and the one kept in history.
    assert_eq!(w.rotate("production", &recips, false).await.unwrap(), 2);
    w.commit().unwrap();
    let after = std::fs::read_to_string(&f.path).unwrap();
    assert_ne!(
        sealed_of(&before, "A", "production", "production"),
        sealed_of(&after, "A", "production", "production")
    );
    assert_eq!(
        sealed_of(&before, "D", "development", "development"),
        sealed_of(&after, "D", "development", "development")
    );
    let u = Store::load(&f.path).unwrap().unlock(&f.ids).await.unwrap();
    assert_eq!(u.fingerprint_key("production").unwrap(), fp);
    assert_eq!(
        text(u.get(&name("A"), &Target::Type(Production)).unwrap()),
        "a2"
    );
    let mut w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    w.rollback(&name("A"), &Target::Type(Production), None)
        .unwrap();
    assert_eq!(
        text(w.get(&name("A"), &Target::Type(Production)).unwrap()),
        "a1"
    );
}

/// A store with the owner in every scope and a developer in `development` only.
async fn two_people() -> (Fixture, Vec<Box<dyn Identity>>) {
    let f = fixture().await;
    let dev = AgeIdentity::generate();
    let mut w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    w.add_recipient("development", recipient(dev.public()).as_ref())
        .await
        .unwrap();
    w.commit().unwrap();
    (f, ids(dev))
}

async fn set_as(
    f: &Fixture,
    who: &[Box<dyn Identity>],
    n: &str,
    s: &str,
    v: &str,
) -> Result<SetReport> {
    let mut w = Store::open_for_write(&f.path, envs(), who).await?;
    let r = w.set(&name(n), &sel(s), v.into(), None)?;
    w.commit()?;
    Ok(r)
}

#[tokio::test]
async fn a_developer_can_set_production_values_but_never_read_them() {
    let (f, dev) = two_people().await;
    set_as(&f, &dev, "Key", "prod", "CANARY-prod")
        .await
        .unwrap();
    set_as(&f, &dev, "Key", "env:prod-eu", "CANARY-eu")
        .await
        .unwrap();
    set_as(&f, &dev, "Key", "dev,local", "dev-value")
        .await
        .unwrap();
    // The owner reads everything; the developer reads development's and nothing of production.
    let eu = EnvRef::Declared("prod-eu".parse().unwrap(), Production);
    assert_eq!(
        text(get(&f, "Key", Target::Type(Production)).await.unwrap()),
        "CANARY-prod"
    );
    assert_eq!(
        text(get(&f, "Key", Target::Env(eu.clone())).await.unwrap()),
        "CANARY-eu"
    );
    assert_eq!(
        text(get_as(&f, &dev, "Key", Target::Type(Local)).await.unwrap()),
        "dev-value"
    );
    for t in [Target::Type(Production), Target::Env(eu.clone())] {
        let err = get_as(&f, &dev, "Key", t).await.unwrap_err();
        assert!(
            matches!(err, StoreError::ScopeLocked { ref scope, .. } if scope == "production"),
            "{err}"
        );
        assert!(!format!("{err:?}").contains("CANARY"));
    }
    let u = Store::load(&f.path).unwrap().unlock(&dev).await.unwrap();
    assert!(u.resolve_all(&eu).is_err());
    assert!(u.fingerprint_keys("production").is_err());
    assert_eq!(u.opened(), vec!["development".to_string()]);
    // Fingerprint keys differ per scope.
    let owner = Store::load(&f.path).unwrap().unlock(&f.ids).await.unwrap();
    assert_ne!(
        owner.fingerprint_key("production").unwrap(),
        owner.fingerprint_key("development").unwrap()
    );
}

#[tokio::test]
async fn a_value_shared_across_scopes_splits_and_merges_without_being_opened() {
    let (f, dev) = two_people().await;
    set(&f, "S", "prod,dev,preview", "shared").await;
    // The developer gives development its own value: production keeps the shared one, moved
    // without being opened, and preview keeps it too (re-sealed in development's scope).
    let r = set_as(&f, &dev, "S", "dev", "mine").await.unwrap();
    assert_eq!(
        r.split,
        vec![(
            sel("production,development,preview"),
            sel("production,preview")
        )]
    );
    assert_eq!(
        text(get(&f, "S", Target::Type(Production)).await.unwrap()),
        "shared"
    );
    assert_eq!(
        text(get(&f, "S", Target::Type(Preview)).await.unwrap()),
        "shared"
    );
    assert_eq!(
        text(get(&f, "S", Target::Type(Development)).await.unwrap()),
        "mine"
    );
    // Sharing one value again across the scopes absorbs the others' histories.
    let r = set_as(&f, &dev, "S", "prod,dev,preview,local", "one")
        .await
        .unwrap();
    assert_eq!(r.absorbed.len(), 2);
    for t in [Production, Development, Preview, Local] {
        assert_eq!(text(get(&f, "S", Target::Type(t)).await.unwrap()), "one");
    }
    // Rolling production back restores the shared value for every type, by the owner.
    let mut w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    w.rollback(&name("S"), &Target::Type(Production), None)
        .unwrap();
    w.commit().unwrap();
    // A developer cannot move production's part where it must be re-sealed: a custom scope
    // holding two types is the case; with the default scopes every split above worked.
    let (_, h) = Store::load(&f.path)
        .unwrap()
        .unlock(&f.ids)
        .await
        .unwrap()
        .history(&name("S"), &Target::Type(Local))
        .unwrap();
    assert!(h.len() >= 3);
}

#[tokio::test]
async fn a_format_1_store_reads_as_before_and_upgrades_into_scopes() {
    use super::format::v1;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.enc.toml");
    let me = AgeIdentity::generate();
    let store_id = crypto::random_hex(16);
    let key = crypto::new_data_key();
    let fp = crypto::new_data_key();
    let seal = |aad: &[u8], pt: &[u8]| crypto::seal(&key, aad, pt).unwrap();
    let now = chrono::Utc::now();
    let value = |sel: &str, pt: &str| v1::ValueEntry {
        version: 1,
        updated: now,
        sealed: seal(&crypto::value_aad(&store_id, "K", sel, 1), pt.as_bytes()),
        history: vec![],
    };
    let file = v1::StoreFile {
        secretsync: v1::Header {
            format: 1,
            store_id: store_id.clone(),
            cipher: "xchacha20poly1305".into(),
            key_id: crypto::key_id(&key),
            fingerprint_key: seal(&crypto::fingerprint_key_aad(&store_id), fp.expose()),
            fingerprint_key_id: None,
            retired_fingerprint_keys: vec![],
        },
        recipients: [(
            me.public().to_string(),
            super::format::WrappedKey {
                added: now,
                wrapped: me.recipient().wrap(&key, &store_id).await.unwrap(),
            },
        )]
        .into(),
        secrets: [(
            "K".to_string(),
            v1::SecretEntry {
                description: None,
                deleted: None,
                values: [
                    ("production".to_string(), value("production", "p")),
                    (
                        "development,local".to_string(),
                        value("development,local", "d"),
                    ),
                    ("env:prod-eu".to_string(), value("env:prod-eu", "eu")),
                ]
                .into(),
            },
        )]
        .into(),
    };
    std::fs::write(&path, toml::to_string(&file).unwrap()).unwrap();
    let f = Fixture {
        _dir: dir,
        path: path.clone(),
        ids: ids(me),
    };
    // Read as before.
    assert_eq!(text(get(&f, "K", Target::Type(Local)).await.unwrap()), "d");
    let stranger = ids(AgeIdentity::generate());
    let err = Store::load(&path)
        .unwrap()
        .unlock(&stranger)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NoIdentity { .. }), "{err}");
    // Written only after an upgrade.
    let mut w = Store::open_for_write(&path, envs(), &f.ids).await.unwrap();
    assert!(w.set(&name("K"), &sel("prod"), "x".into(), None).is_err());
    let recipients = w
        .recipients()
        .into_iter()
        .map(|r| (r.id.clone(), recipient(&r.id)))
        .collect();
    let scopes = w
        .relayout(&ScopeLayout::default(), &recipients)
        .await
        .unwrap();
    assert_eq!(scopes, vec!["development", "production"]);
    // The old fingerprint key is retired into each scope, so the backends' secrets stay ours.
    let old_fp = SecretValue::new(fp.expose().to_vec());
    assert_eq!(
        w.fingerprint_keys("production").unwrap().1,
        vec![old_fp.clone()]
    );
    assert_eq!(w.fingerprint_keys("development").unwrap().1, vec![old_fp]);
    w.commit().unwrap();
    let raw = std::fs::read_to_string(&path).unwrap();
    assert!(
        raw.contains("format = 2") && raw.contains("[scopes.production"),
        "{raw}"
    );
    let eu = EnvRef::Declared("prod-eu".parse().unwrap(), Production);
    assert_eq!(text(get(&f, "K", Target::Env(eu)).await.unwrap()), "eu");
    assert_eq!(
        text(get(&f, "K", Target::Type(Production)).await.unwrap()),
        "p"
    );
    assert_eq!(
        text(get(&f, "K", Target::Type(Development)).await.unwrap()),
        "d"
    );
    set(&f, "K", "prod", "p2").await;
    assert_eq!(
        text(get(&f, "K", Target::Type(Production)).await.unwrap()),
        "p2"
    );
}

#[tokio::test]
async fn output_is_deterministic_and_sorted() {
    let f = fixture().await;
    set(&f, "Zed", "prod", "z").await;
    set(&f, "Alpha", "prod", "a").await;
    let raw = std::fs::read_to_string(&f.path).unwrap();
    assert!(raw.find("[secrets.Alpha").unwrap() < raw.find("[secrets.Zed").unwrap());
    // Loading and writing again without changes gives the same bytes.
    let w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    w.commit().unwrap();
    assert_eq!(raw, std::fs::read_to_string(&f.path).unwrap());
}

#[tokio::test]
async fn invalid_files_are_refused_with_the_reason() {
    let f = fixture().await;
    set(&f, "A", "dev", "x").await;
    tamper(&f, |raw| {
        raw.replace("secrets.A.values.development", "secrets.A.values.\"dev\"")
    });
    let err = Store::load(&f.path).unwrap_err().to_string();
    assert!(err.contains("should be written \"development\""), "{err}");
    tamper(&f, |raw| raw.replace("format = 2", "format = 9"));
    let err = Store::load(&f.path).unwrap_err().to_string();
    assert!(err.contains("upgrade secretsync"), "{err}");
}

#[tokio::test]
async fn fingerprint_key_rotation_retires_the_old_key_and_records_ids() {
    let f = fixture().await;
    set(&f, "A", "prod", "a1").await;
    let u = Store::load(&f.path).unwrap().unlock(&f.ids).await.unwrap();
    let (old, retired) = u.fingerprint_keys("production").unwrap();
    assert!(retired.is_empty());
    let text_before = std::fs::read_to_string(&f.path).unwrap();
    assert!(text_before.contains(&format!(
        "fingerprint_key_id = \"{}\"",
        crypto::fingerprint_key_id(&old)
    )));
    let mut w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    let recips: Vec<Box<dyn Recipient>> = w.recipients().iter().map(|r| recipient(&r.id)).collect();
    w.rotate("production", &recips, true).await.unwrap();
    w.commit().unwrap();
    let u = Store::load(&f.path).unwrap().unlock(&f.ids).await.unwrap();
    let (new, retired) = u.fingerprint_keys("production").unwrap();
    assert_ne!(new, old);
    assert_eq!(retired, vec![old]);
    // Both survive a second (data-key only) rotation.
    let mut w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    w.rotate("production", &recips, false).await.unwrap();
    w.commit().unwrap();
    let u = Store::load(&f.path).unwrap().unlock(&f.ids).await.unwrap();
    assert_eq!(u.fingerprint_keys("production").unwrap().0, new);
    assert_eq!(u.fingerprint_keys("production").unwrap().1.len(), 1);
}

#[tokio::test]
async fn an_edited_fingerprint_key_id_is_refused() {
    let f = fixture().await;
    let text = std::fs::read_to_string(&f.path).unwrap();
    let start = text.find("fingerprint_key_id = \"").unwrap() + "fingerprint_key_id = \"".len();
    let mut edited = text.clone();
    edited.replace_range(start..start + 16, "0000000000000000");
    std::fs::write(&f.path, edited).unwrap();
    let u = Store::load(&f.path).unwrap().unlock(&f.ids).await.unwrap();
    let err = u.fingerprint_keys("development").unwrap_err();
    assert!(matches!(err, StoreError::Tampered { .. }), "{err}");
}

#[tokio::test]
async fn a_store_id_that_is_not_an_id_is_refused_on_load() {
    // Regression: the store id was used raw in the cache path.
    let f = fixture().await;
    let text = std::fs::read_to_string(&f.path).unwrap();
    let id = Store::load(&f.path).unwrap().id().to_string();
    std::fs::write(&f.path, text.replace(&id, "../../../tmp/x")).unwrap();
    let err = Store::load(&f.path).unwrap_err().to_string();
    assert!(
        err.contains("store_id") && err.contains("32 lowercase hex"),
        "{err}"
    );
}

#[tokio::test]
async fn a_replaced_scope_public_key_is_caught_before_anything_is_sealed_for_it() {
    let (f, dev) = two_people().await;
    set(&f, "A", "prod", "before").await;
    // Someone who can write the file points production's public key at development's, whose
    // private key they hold, hoping to read what others set for production from then on.
    tamper(&f, |raw| {
        let v: toml::Value = toml::from_str(&raw).unwrap();
        let prod = v["scopes"]["production"]["public_key"].as_str().unwrap();
        let devk = v["scopes"]["development"]["public_key"].as_str().unwrap();
        raw.replace(prod, devk)
    });
    // Every production recipient notices at once, and seals nothing for the replaced key.
    let err = get(&f, "A", Target::Type(Production)).await.unwrap_err();
    assert!(matches!(err, StoreError::ScopeLocked { .. }), "{err}");
    assert!(err.to_string().contains("public key was replaced"), "{err}");
    let mut w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    let err = w
        .set(&name("A"), &sel("prod"), "after".into(), None)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not match the key its recipients hold"),
        "{err}"
    );
    drop(w);
    // A writer who cannot open production cannot tell; what they seal is readable by the
    // attacker until a production recipient runs any command (documented in the README).
    set_as(&f, &dev, "A", "prod", "exposed").await.unwrap();
}

#[tokio::test]
async fn format_1_stores_still_merge_as_format_1() {
    use super::format::v1;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secrets.enc.toml");
    let me = AgeIdentity::generate();
    let store_id = crypto::random_hex(16);
    let key = crypto::new_data_key();
    let now = chrono::Utc::now();
    let entry = |n: &str, v: &str| v1::SecretEntry {
        description: None,
        deleted: None,
        values: [(
            "production".to_string(),
            v1::ValueEntry {
                version: 1,
                updated: now,
                sealed: crypto::seal(
                    &key,
                    &crypto::value_aad(&store_id, n, "production", 1),
                    v.as_bytes(),
                )
                .unwrap(),
                history: vec![],
            },
        )]
        .into(),
    };
    let base = v1::StoreFile {
        secretsync: v1::Header {
            format: 1,
            store_id: store_id.clone(),
            cipher: "xchacha20poly1305".into(),
            key_id: crypto::key_id(&key),
            fingerprint_key: crypto::seal(&key, &crypto::fingerprint_key_aad(&store_id), b"f")
                .unwrap(),
            fingerprint_key_id: None,
            retired_fingerprint_keys: vec![],
        },
        recipients: [(
            me.public().to_string(),
            super::format::WrappedKey {
                added: now,
                wrapped: me.recipient().wrap(&key, &store_id).await.unwrap(),
            },
        )]
        .into(),
        secrets: [("K".to_string(), entry("K", "k"))].into(),
    };
    let mut ours = base.clone();
    ours.secrets.insert("A".into(), entry("A", "a"));
    let mut theirs = base.clone();
    theirs.secrets.insert("B".into(), entry("B", "b"));
    let render = |f: &v1::StoreFile| toml::to_string(f).unwrap();
    let merge::Merged::Clean(merged) =
        merge::merge3(&path, &render(&base), &render(&ours), &render(&theirs)).unwrap()
    else {
        panic!("conflict")
    };
    assert!(
        merged.contains("format = 1") && !merged.contains("[scopes"),
        "{merged}"
    );
    std::fs::write(&path, merged).unwrap();
    let f = Fixture {
        _dir: dir,
        path,
        ids: ids(me),
    };
    for (n, v) in [("K", "k"), ("A", "a"), ("B", "b")] {
        assert_eq!(text(get(&f, n, Target::Type(Production)).await.unwrap()), v);
    }
}

#[tokio::test]
async fn a_large_store_resolves_on_every_core_in_name_order_and_a_bad_value_still_fails() {
    // Above the size where values are opened on several threads.
    let f = fixture().await;
    let n = 2_500;
    let mut w = Store::open_for_write(&f.path, envs(), &f.ids)
        .await
        .unwrap();
    for i in 0..n {
        let s = format!("S{i:05}");
        w.set(
            &name(&s),
            &sel("prod"),
            format!("p{i}").as_str().into(),
            None,
        )
        .unwrap();
        if i % 7 == 0 {
            w.set(
                &name(&s),
                &sel("env:prod-eu"),
                format!("eu{i}").as_str().into(),
                None,
            )
            .unwrap();
        }
    }
    w.set(&name("DevOnly"), &sel("dev"), "d".into(), None)
        .unwrap();
    w.commit().unwrap();
    let eu = EnvRef::Declared("prod-eu".parse().unwrap(), Production);
    let u = Store::load(&f.path).unwrap().unlock(&f.ids).await.unwrap();
    let all = u.resolve_all(&eu).unwrap();
    assert_eq!(all.len(), n, "every prod value, not the dev-only one");
    for (i, (k, v)) in all.iter().enumerate() {
        assert_eq!(k.as_str(), format!("S{i:05}"));
        let want = if i % 7 == 0 {
            format!("eu{i}")
        } else {
            format!("p{i}")
        };
        assert_eq!(v.as_str(), Some(want.as_str()), "{k}");
    }
    // A flipped byte in a value near the end (the second thread's part) fails the whole read.
    let raw = std::fs::read_to_string(&f.path).unwrap();
    let ct = sealed_of(&raw, "S02400", "production", "production");
    let mut bad = ct.clone().into_bytes();
    bad[60] = if bad[60] == b'A' { b'B' } else { b'A' };
    std::fs::write(
        &f.path,
        raw.replace(&ct, std::str::from_utf8(&bad).unwrap()),
    )
    .unwrap();
    let u = Store::load(&f.path).unwrap().unlock(&f.ids).await.unwrap();
    assert!(matches!(
        u.resolve_all(&eu),
        Err(StoreError::Tampered { .. })
    ));
}
