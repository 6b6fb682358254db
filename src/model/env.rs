use super::InvalidInput;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The four kinds of environment. Every secret has at most one value per type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum EnvType {
    /// `production` (shorthand `prod`).
    Production,
    /// `development` (shorthand `dev`).
    Development,
    /// `preview` (shorthand `pr`).
    Preview,
    /// `local`: developers' machines.
    Local,
}

impl EnvType {
    /// All types, in display order.
    pub const ALL: [EnvType; 4] = [
        EnvType::Production,
        EnvType::Development,
        EnvType::Preview,
        EnvType::Local,
    ];

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvType::Production => "production",
            EnvType::Development => "development",
            EnvType::Preview => "preview",
            EnvType::Local => "local",
        }
    }

    /// Parses a type name, reporting `Ok(None)` for a word that is not one (so the caller can try
    /// it as an environment name).
    pub fn parse_opt(s: &str) -> Option<EnvType> {
        Some(match s {
            "production" | "prod" => EnvType::Production,
            "development" | "dev" => EnvType::Development,
            "preview" | "pr" => EnvType::Preview,
            "local" => EnvType::Local,
            _ => return None,
        })
    }

    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl FromStr for EnvType {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EnvType::parse_opt(s.trim()).ok_or_else(|| {
            if s.contains(',') {
                return InvalidInput(format!(
                    "{s:?} is a list: give one type here (production, development, preview or local)"
                ));
            }
            InvalidInput(format!(
                "unknown environment type {s:?}: expected production, development, preview or \
                 local (shorthands prod, dev, pr)"
            ))
        })
    }
}

impl TryFrom<String> for EnvType {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<EnvType> for String {
    fn from(t: EnvType) -> String {
        t.as_str().to_string()
    }
}

impl fmt::Display for EnvType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named environment (`prod-eu`, `staging`, `pr-123`): letters, digits, `-`, `_`, `.`,
/// starting with a letter or digit, at most 64 characters, and not a type name or shorthand.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnvName(String);

/// The longest id an instance of a template takes.
pub const INSTANCE_ID_MAX: usize = 40;

impl EnvName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of an environment template (`[environments.NAME]` whose prefix or backend
    /// holds `{id}`): a name as [`EnvName`] takes, or a type's shorthand (`pr`, `dev`, `prod`),
    /// which a template may take because it is never named alone.
    pub fn template(s: &str) -> Result<Self, InvalidInput> {
        match s {
            "pr" | "dev" | "prod" => Ok(Self(s.to_string())),
            _ => s.parse(),
        }
    }

    /// Instance `id` of template `template` (`pr:123`). The id is letters, digits and `-`, 1
    /// to 40 of them; anything else (`../x`, empty) is refused before any request is made.
    pub fn instance(template: &EnvName, id: &str) -> Result<Self, InvalidInput> {
        let ok = !id.is_empty()
            && id.len() <= INSTANCE_ID_MAX
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(InvalidInput(format!(
                "invalid id {id:?} for template {template}: an id is 1 to {INSTANCE_ID_MAX} letters, digits or '-' (e.g. --env {template}:123 for pull request 123)"
            )));
        }
        Ok(Self(format!("{template}:{id}")))
    }

    /// For an instance (`pr:123`): its template's name and its id.
    pub fn instance_parts(&self) -> Option<(&str, &str)> {
        self.0.split_once(':')
    }
}

impl FromStr for EnvName {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if EnvType::parse_opt(s).is_some() {
            return Err(InvalidInput(format!(
                "{s:?} is an environment type, so it is already an implicit environment; give \
                 a declared environment another name (e.g. {s}-eu)"
            )));
        }
        let mut chars = s.chars();
        let first_ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if first_ok && rest_ok && s.len() <= 64 {
            Ok(Self(s.to_string()))
        } else {
            Err(InvalidInput(format!(
                "invalid environment name {s:?}: use letters, digits, '-', '_' or '.', starting \
                 with a letter or digit, at most 64 characters (e.g. prod-eu)"
            )))
        }
    }
}

impl TryFrom<String> for EnvName {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<EnvName> for String {
    fn from(n: EnvName) -> String {
        n.0
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An environment a value is resolved for: either a type's implicit environment, or a declared
/// one (which has a type of its own and may carry overrides).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EnvRef {
    /// The implicit environment named after a type (`local`, `production`, …).
    Implicit(EnvType),
    /// A declared environment and its type.
    Declared(EnvName, EnvType),
}

impl EnvRef {
    /// The environment's type.
    pub fn env_type(&self) -> EnvType {
        match self {
            EnvRef::Implicit(t) | EnvRef::Declared(_, t) => *t,
        }
    }

    /// The environment's name.
    pub fn name(&self) -> &str {
        match self {
            EnvRef::Implicit(t) => t.as_str(),
            EnvRef::Declared(n, _) => n.as_str(),
        }
    }
}

impl fmt::Display for EnvRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvRef::Implicit(t) => write!(f, "{t}"),
            EnvRef::Declared(n, t) => write!(f, "{n} ({t})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_accept_shorthands() {
        assert_eq!("prod".parse::<EnvType>().unwrap(), EnvType::Production);
        assert_eq!("dev".parse::<EnvType>().unwrap(), EnvType::Development);
        assert_eq!("pr".parse::<EnvType>().unwrap(), EnvType::Preview);
        assert_eq!("local".parse::<EnvType>().unwrap(), EnvType::Local);
        let err = "prodution".parse::<EnvType>().unwrap_err();
        assert!(err.0.contains("expected production"), "{err}");
    }

    #[test]
    fn templates_may_take_a_shorthand_and_instances_take_a_checked_id() {
        let pr = EnvName::template("pr").unwrap();
        assert!(
            EnvName::template("preview").is_err(),
            "a full type name stays the type's"
        );
        assert!(EnvName::template("local").is_err());
        assert_eq!(EnvName::template("web-pr").unwrap().as_str(), "web-pr");
        let i = EnvName::instance(&pr, "123").unwrap();
        assert_eq!(i.as_str(), "pr:123");
        assert_eq!(i.instance_parts(), Some(("pr", "123")));
        assert_eq!(
            EnvName::instance(&pr, "Feature-X").unwrap().as_str(),
            "pr:Feature-X"
        );
        for bad in ["", "../x", "a/b", "a_b", "a.b", &"1".repeat(41), "x y", "é"] {
            let e = EnvName::instance(&pr, bad).unwrap_err().0;
            assert!(e.contains("1 to 40 letters, digits or '-'"), "{bad:?}: {e}");
        }
        assert_eq!("prod-eu".parse::<EnvName>().unwrap().instance_parts(), None);
    }

    #[test]
    fn env_names_cannot_shadow_types() {
        assert!("prod-eu".parse::<EnvName>().is_ok());
        assert!("pr-123".parse::<EnvName>().is_ok());
        assert!("prod".parse::<EnvName>().is_err());
        assert!("local".parse::<EnvName>().is_err());
        assert!("-x".parse::<EnvName>().is_err());
        assert!("a/b".parse::<EnvName>().is_err());
    }
}
