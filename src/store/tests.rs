use super::age_key::AgeIdentity;
use super::*;
use crate::model::EnvType::*;
use crate::model::{SecretName, Selector};
use secretsync_core::{Identity, Recipient, SecretValue};

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    ids: Vec<Box<dyn Identity>>,
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
    Store::create(&path, &[&id.recipient()]).await.unwrap();
    Fixture {
        _dir: dir,
        path,
        ids: vec![Box::new(id)],
    }
}

async fn set(f: &Fixture, n: &str, s: &str, v: &str) -> SetReport {
    let mut w = Store::open_for_write(&f.path, &f.ids).await.unwrap();
    let r = w.set(&name(n), &sel(s), v.into(), None).unwrap();
    w.commit().unwrap();
    r
}

async fn get(f: &Fixture, n: &str, scope: Scope) -> Result<SecretValue> {
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
        text(get(&f, "Token", Scope::Env(eu)).await.unwrap()),
        "eu-value"
    );
    assert_eq!(
        text(get(&f, "Token", Scope::Env(us)).await.unwrap()),
        "p-value"
    );
    assert_eq!(
        text(get(&f, "Token", Scope::Type(Preview)).await.unwrap()),
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
    let mut w = Store::open_for_write(&f.path, &f.ids).await.unwrap();
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
        get(&f, "Bin", Scope::Type(Local)).await.unwrap().expose(),
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
        text(get(&f, "K", Scope::Type(Local)).await.unwrap()),
        "mine"
    );
    assert_eq!(
        text(get(&f, "K", Scope::Type(Development)).await.unwrap()),
        "shared"
    );
    // Widening absorbs: both old values end up in the new value's history.
    let r = set(&f, "K", "dev,preview,local", "again").await;
    assert_eq!(r.absorbed.len(), 2);
    let u = Store::load(&f.path).unwrap().unlock(&f.ids).await.unwrap();
    let (_, h) = u.history(&name("K"), &Scope::Type(Local)).unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(h[0].version, 3);
}

#[tokio::test]
async fn history_is_bounded_and_rollback_restores_as_new_version() {
    let f = fixture().await;
    for i in 1..=13 {
        set(&f, "K", "prod", &format!("v{i}")).await;
    }
    let mut w = Store::open_for_write(&f.path, &f.ids).await.unwrap();
    let (_, h) = w.history(&name("K"), &Scope::Type(Production)).unwrap();
    assert_eq!(h.len(), HISTORY_LIMIT + 1);
    assert_eq!(h[0].version, 13);
    assert_eq!(h.last().unwrap().version, 3);
    let (_, from, to) = w
        .rollback(&name("K"), &Scope::Type(Production), None)
        .unwrap();
    assert_eq!((from, to), (12, 14));
    assert_eq!(
        text(w.get(&name("K"), &Scope::Type(Production)).unwrap()),
        "v12"
    );
    w.rollback(&name("K"), &Scope::Type(Production), Some(5))
        .unwrap();
    assert_eq!(
        text(w.get(&name("K"), &Scope::Type(Production)).unwrap()),
        "v5"
    );
    assert!(w
        .rollback(&name("K"), &Scope::Type(Production), Some(1))
        .is_err());
    w.commit().unwrap();
}

#[tokio::test]
async fn delete_shrinks_types_removes_overrides_and_whole_secrets() {
    let f = fixture().await;
    set(&f, "K", "dev,preview", "d").await;
    set(&f, "K", "env:prod-eu", "eu").await;
    let mut w = Store::open_for_write(&f.path, &f.ids).await.unwrap();
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
        text(w.get(&name("K"), &Scope::Type(Development)).unwrap()),
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

fn sealed_of(raw: &str, after: &str) -> String {
    let at = raw.find(after).unwrap();
    let line = raw[at..]
        .lines()
        .find(|l| l.starts_with("sealed = "))
        .unwrap();
    line.trim_start_matches("sealed = ")
        .trim_matches('"')
        .to_string()
}

#[tokio::test]
async fn a_flipped_byte_is_refused() {
    let f = fixture().await;
    set(&f, "A", "prod", "aaaa").await;
    tamper(&f, |raw| {
        let s = sealed_of(&raw, "[secrets.A");
        let mut b = s.clone().into_bytes();
        b[20] = if b[20] == b'A' { b'B' } else { b'A' };
        raw.replace(&s, std::str::from_utf8(&b).unwrap())
    });
    let err = get(&f, "A", Scope::Type(Production)).await.unwrap_err();
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
        let a = sealed_of(&raw, "[secrets.A");
        let bl = sealed_of(&raw, "[secrets.B.values.local]");
        let bp = sealed_of(&raw, "[secrets.B.values.production]");
        raw.replace(&bp, &a).replace(&bl, &bp)
    });
    for (n, t) in [("B", Production), ("B", Local)] {
        let err = get(&f, n, Scope::Type(t)).await.unwrap_err();
        assert!(matches!(err, StoreError::Tampered { .. }), "{err}");
    }
    assert_eq!(
        text(get(&f, "A", Scope::Type(Production)).await.unwrap()),
        "aaaa"
    );
}

#[tokio::test]
async fn a_selector_renamed_by_hand_is_refused() {
    let f = fixture().await;
    set(&f, "A", "prod", "aaaa").await;
    tamper(&f, |raw| {
        raw.replace("[secrets.A.values.production]", "[secrets.A.values.local]")
    });
    let err = get(&f, "A", Scope::Type(Local)).await.unwrap_err();
    assert!(matches!(err, StoreError::Tampered { .. }), "{err}");
}

#[tokio::test]
async fn wrong_identity_and_removed_recipient_are_refused() {
    let f = fixture().await;
    set(&f, "A", "prod", "aaaa").await;
    let stranger: Vec<Box<dyn Identity>> = vec![Box::new(AgeIdentity::generate())];
    let err = Store::load(&f.path)
        .unwrap()
        .unlock(&stranger)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NoIdentity { .. }), "{err}");
    assert!(err.to_string().contains("key add"), "{err}");

    let bob = AgeIdentity::generate();
    let bob_pub = bob.public().to_string();
    let bob_ids: Vec<Box<dyn Identity>> = vec![Box::new(bob)];
    let mut w = Store::open_for_write(&f.path, &f.ids).await.unwrap();
    w.add_recipient(&bob_pub.parse::<age_key::AgeRecipient>().unwrap())
        .await
        .unwrap();
    w.commit().unwrap();
    assert_eq!(
        text(
            get(
                &Fixture {
                    _dir: tempfile::tempdir().unwrap(),
                    path: f.path.clone(),
                    ids: bob_ids
                },
                "A",
                Scope::Type(Production)
            )
            .await
            .unwrap()
        ),
        "aaaa"
    );

    let mut w = Store::open_for_write(&f.path, &f.ids).await.unwrap();
    w.remove_recipient(&bob_pub).unwrap();
    w.commit().unwrap();
    let bob_again: Vec<Box<dyn Identity>> = vec![];
    let err = Store::load(&f.path)
        .unwrap()
        .unlock(&bob_again)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NoIdentity { .. }));
    let mut w = Store::open_for_write(&f.path, &f.ids).await.unwrap();
    let me = w.recipients()[0].0.clone();
    assert!(
        w.remove_recipient(&me).is_err(),
        "the last recipient must stay"
    );
}

#[tokio::test]
async fn rotation_reseals_everything_and_keeps_the_fingerprint_key() {
    let f = fixture().await;
    set(&f, "A", "prod", "a1").await;
    set(&f, "A", "prod", "a2").await;
    let before = std::fs::read_to_string(&f.path).unwrap();
    let mut w = Store::open_for_write(&f.path, &f.ids).await.unwrap();
    let fp = w.fingerprint_key().unwrap();
    let recips: Vec<Box<dyn Recipient>> = w
        .recipients()
        .iter()
        .map(|(id, _)| Box::new(id.parse::<age_key::AgeRecipient>().unwrap()) as Box<dyn Recipient>)
        .collect();
    assert_eq!(w.rotate(&recips, false).await.unwrap(), 1);
    w.commit().unwrap();
    let after = std::fs::read_to_string(&f.path).unwrap();
    assert_ne!(
        sealed_of(&before, "[secrets.A"),
        sealed_of(&after, "[secrets.A")
    );
    let u = Store::load(&f.path).unwrap().unlock(&f.ids).await.unwrap();
    assert_eq!(u.fingerprint_key().unwrap(), fp);
    assert_eq!(
        text(u.get(&name("A"), &Scope::Type(Production)).unwrap()),
        "a2"
    );
    let mut w = Store::open_for_write(&f.path, &f.ids).await.unwrap();
    w.rollback(&name("A"), &Scope::Type(Production), None)
        .unwrap();
    assert_eq!(
        text(w.get(&name("A"), &Scope::Type(Production)).unwrap()),
        "a1"
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
    let w = Store::open_for_write(&f.path, &f.ids).await.unwrap();
    w.commit().unwrap();
    assert_eq!(raw, std::fs::read_to_string(&f.path).unwrap());
}

#[tokio::test]
async fn invalid_files_are_refused_with_the_reason() {
    let f = fixture().await;
    set(&f, "A", "dev", "x").await;
    tamper(&f, |raw| {
        raw.replace(
            "[secrets.A.values.development]",
            "[secrets.A.values.\"dev\"]",
        )
    });
    let err = Store::load(&f.path).unwrap_err().to_string();
    assert!(err.contains("should be written \"development\""), "{err}");
    tamper(&f, |raw| raw.replace("format = 1", "format = 9"));
    let err = Store::load(&f.path).unwrap_err().to_string();
    assert!(err.contains("upgrade secretsync"), "{err}");
}

#[tokio::test]
async fn fingerprint_key_rotation_retires_the_old_key_and_records_ids() {
    let f = fixture().await;
    set(&f, "A", "prod", "a1").await;
    let u = Store::load(&f.path).unwrap().unlock(&f.ids).await.unwrap();
    let (old, retired) = u.fingerprint_keys().unwrap();
    assert!(retired.is_empty());
    let text_before = std::fs::read_to_string(&f.path).unwrap();
    assert!(text_before.contains(&format!(
        "fingerprint_key_id = \"{}\"",
        crypto::fingerprint_key_id(&old)
    )));
    let mut w = Store::open_for_write(&f.path, &f.ids).await.unwrap();
    let recips: Vec<Box<dyn Recipient>> = w
        .recipients()
        .iter()
        .map(|(id, _)| Box::new(id.parse::<age_key::AgeRecipient>().unwrap()) as Box<dyn Recipient>)
        .collect();
    w.rotate(&recips, true).await.unwrap();
    w.commit().unwrap();
    let u = Store::load(&f.path).unwrap().unlock(&f.ids).await.unwrap();
    let (new, retired) = u.fingerprint_keys().unwrap();
    assert_ne!(new, old);
    assert_eq!(retired, vec![old]);
    // Both survive a second (data-key only) rotation.
    let mut w = Store::open_for_write(&f.path, &f.ids).await.unwrap();
    w.rotate(&recips, false).await.unwrap();
    w.commit().unwrap();
    let u = Store::load(&f.path).unwrap().unlock(&f.ids).await.unwrap();
    assert_eq!(u.fingerprint_keys().unwrap().0, new);
    assert_eq!(u.fingerprint_keys().unwrap().1.len(), 1);
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
    let err = u.fingerprint_keys().unwrap_err();
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
