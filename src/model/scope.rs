//! Scopes: who may open which values. Every environment type belongs to exactly one scope; a
//! value is sealed once for each scope its selector touches, under that scope's key.

use super::{EnvType, InvalidInput, Selector, TypeSet};
use std::collections::BTreeMap;
use std::fmt;

/// The scope `init` gives production values.
pub const PRODUCTION_SCOPE: &str = "production";
/// The scope `init` gives every other type.
pub const DEVELOPMENT_SCOPE: &str = "development";

/// Which types each scope holds: every type in exactly one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeLayout(BTreeMap<String, TypeSet>);

impl Default for ScopeLayout {
    /// `production` alone, and `development` for development, preview and local.
    fn default() -> Self {
        use EnvType::*;
        Self(BTreeMap::from([
            (PRODUCTION_SCOPE.to_string(), TypeSet::of([Production])),
            (
                DEVELOPMENT_SCOPE.to_string(),
                TypeSet::of([Development, Preview, Local]),
            ),
        ]))
    }
}

/// True for a scope name: lowercase letters, digits and `-`, starting with a letter, ≤ 32.
pub fn is_scope_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl ScopeLayout {
    /// Builds a layout, refusing bad names, empty scopes, a type in two scopes or in none.
    /// Errors name the scope or type and say how to fix it.
    pub fn new(scopes: BTreeMap<String, TypeSet>) -> Result<Self, InvalidInput> {
        let mut owner: BTreeMap<EnvType, &str> = BTreeMap::new();
        for (name, types) in &scopes {
            if !is_scope_name(name) {
                return Err(InvalidInput(format!(
                    "scope name {name:?}: use lowercase letters, digits and '-', starting with a letter"
                )));
            }
            if types.is_empty() {
                return Err(InvalidInput(format!(
                    "scope {name} has no environment types: give it at least one, or remove it"
                )));
            }
            for t in types.iter() {
                if let Some(other) = owner.insert(t, name) {
                    return Err(InvalidInput(format!(
                        "type {t} is in scopes {other} and {name}: every type belongs to exactly one scope, remove it from one"
                    )));
                }
            }
        }
        if let Some(t) = EnvType::ALL.into_iter().find(|t| !owner.contains_key(t)) {
            return Err(InvalidInput(format!(
                "type {t} is in no scope: every type belongs to exactly one scope, add it to one (e.g. development = [\"development\", \"preview\", \"local\"])"
            )));
        }
        Ok(Self(scopes))
    }

    /// One scope holding every type (how a format-1 store is read).
    pub fn single(name: &str) -> Self {
        Self(BTreeMap::from([(
            name.to_string(),
            TypeSet::of(EnvType::ALL),
        )]))
    }

    /// The scope names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Each scope and its types.
    pub fn iter(&self) -> impl Iterator<Item = (&str, TypeSet)> {
        self.0.iter().map(|(n, t)| (n.as_str(), *t))
    }

    /// The types of scope `name`, if it exists.
    pub fn types(&self, name: &str) -> Option<TypeSet> {
        self.0.get(name).copied()
    }

    /// The scope holding type `t`.
    pub fn scope_of(&self, t: EnvType) -> &str {
        self.0
            .iter()
            .find(|(_, s)| s.contains(t))
            .map(|(n, _)| n.as_str())
            .expect("a layout covers every type")
    }

    /// The scopes a set of types touches, with the part of the set in each.
    pub fn split(&self, types: TypeSet) -> Vec<(&str, TypeSet)> {
        self.split_iter(types).collect()
    }

    /// [`Self::split`] without collecting it.
    pub fn split_iter(&self, types: TypeSet) -> impl Iterator<Item = (&str, TypeSet)> {
        self.0
            .iter()
            .map(move |(n, s)| (n.as_str(), s.intersection(types)))
            .filter(|(_, t)| !t.is_empty())
    }

    /// The scopes a selector's value is sealed for, with the part of the selector each binds:
    /// for types, the types in the scope; for an override, the override itself (in the scope of
    /// its environment's type, `env_type`).
    pub fn parts(&self, sel: &Selector, env_type: Option<EnvType>) -> Vec<(String, String)> {
        match sel {
            Selector::Types(t) => self
                .split(*t)
                .into_iter()
                .map(|(n, part)| (n.to_string(), part.to_string()))
                .collect(),
            Selector::Env(_) => env_type
                .map(|t| vec![(self.scope_of(t).to_string(), sel.to_string())])
                .unwrap_or_default(),
        }
    }
}

impl fmt::Display for ScopeLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(n, t)| format!("{n} ({t})")).collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EnvType::*;

    fn layout(pairs: &[(&str, &[EnvType])]) -> Result<ScopeLayout, InvalidInput> {
        ScopeLayout::new(
            pairs
                .iter()
                .map(|(n, t)| (n.to_string(), TypeSet::of(t.iter().copied())))
                .collect(),
        )
    }

    #[test]
    fn default_layout_splits_production_from_the_rest() {
        let l = ScopeLayout::default();
        assert_eq!(l.scope_of(Production), "production");
        assert_eq!(l.scope_of(Local), "development");
        let both: Selector = "prod,dev,local".parse().unwrap();
        assert_eq!(
            l.parts(&both, None),
            vec![
                ("development".into(), "development,local".into()),
                ("production".into(), "production".into())
            ]
        );
        let ov: Selector = "env:prod-eu".parse().unwrap();
        assert_eq!(
            l.parts(&ov, Some(Production)),
            vec![("production".into(), "env:prod-eu".into())]
        );
    }

    #[test]
    fn overlaps_gaps_and_bad_names_are_refused() {
        let e = layout(&[
            ("a", &[Production, Local]),
            ("b", &[Local, Development, Preview]),
        ]);
        assert!(e.unwrap_err().0.contains("type local is in scopes a and b"));
        let e = layout(&[("a", &[Production]), ("b", &[Development, Local])]);
        assert!(e.unwrap_err().0.contains("type preview is in no scope"));
        let e = layout(&[("Prod", &[Production, Development, Preview, Local])]);
        assert!(e.unwrap_err().0.contains("scope name \"Prod\""));
        assert!(layout(&[
            ("production", &[Production]),
            ("preview", &[Preview]),
            ("development", &[Development, Local])
        ])
        .is_ok());
    }
}
