use super::{EnvName, EnvRef, EnvType, InvalidInput};
use std::fmt;
use std::str::FromStr;

/// A non-empty set of environment types, shown as `development,preview` in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TypeSet(u8);

impl TypeSet {
    /// The set of the given types (may be empty).
    pub fn of(types: impl IntoIterator<Item = EnvType>) -> Self {
        Self(types.into_iter().fold(0, |acc, t| acc | t.bit()))
    }

    /// True when `t` is in the set.
    pub fn contains(self, t: EnvType) -> bool {
        self.0 & t.bit() != 0
    }

    /// True when the set has no types.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The types in both sets.
    pub fn intersection(self, other: TypeSet) -> TypeSet {
        TypeSet(self.0 & other.0)
    }

    /// The types of `self` not in `other`.
    pub fn difference(self, other: TypeSet) -> TypeSet {
        TypeSet(self.0 & !other.0)
    }

    /// The types, in display order.
    pub fn iter(self) -> impl Iterator<Item = EnvType> {
        EnvType::ALL.into_iter().filter(move |t| self.contains(*t))
    }
}

impl fmt::Display for TypeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(EnvType::as_str).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for TypeSet {
    type Err = InvalidInput;
    /// Parses `dev,preview` (shorthands allowed); refuses an empty list.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let types = s
            .split(',')
            .map(|p| p.trim().parse::<EnvType>())
            .collect::<Result<Vec<_>, _>>()?;
        let set = TypeSet::of(types);
        if set.is_empty() {
            return Err(InvalidInput("no environment type given".into()));
        }
        Ok(set)
    }
}

/// What a stored value applies to: a set of types, or one declared environment (an override).
/// Written in the store as `development,preview` or `env:prod-eu`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Selector {
    /// A value shared by these types.
    Types(TypeSet),
    /// An override for one declared environment; beats its type's value.
    Env(EnvName),
}

impl Selector {
    /// True when this selector's value is the one `env` resolves to, ignoring precedence.
    pub fn covers(&self, env: &EnvRef) -> bool {
        match (self, env) {
            (Selector::Types(s), e) => s.contains(e.env_type()),
            (Selector::Env(n), EnvRef::Declared(m, _)) => n == m,
            (Selector::Env(_), EnvRef::Implicit(_)) => false,
        }
    }

    /// Which of `selectors` the environment `env` takes its value from: its own override if
    /// there is one, else the value whose types include its type.
    pub fn resolve<'a>(
        selectors: impl IntoIterator<Item = &'a Selector> + Clone,
        env: &EnvRef,
    ) -> Option<&'a Selector> {
        let is_override = |s: &&Selector| matches!(s, Selector::Env(_)) && s.covers(env);
        let is_type = |s: &&Selector| matches!(s, Selector::Types(_)) && s.covers(env);
        selectors
            .clone()
            .into_iter()
            .find(is_override)
            .or_else(|| selectors.into_iter().find(is_type))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Types(t) => write!(f, "{t}"),
            Selector::Env(n) => write!(f, "env:{n}"),
        }
    }
}

impl FromStr for Selector {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix("env:") {
            Some(name) => Ok(Selector::Env(name.parse()?)),
            None => Ok(Selector::Types(s.parse()?)),
        }
    }
}

/// How setting a value under `target` reshapes a secret's existing values so that every type
/// stays in at most one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetPlan {
    /// Existing values that keep only some of their types: `(old, remaining)`. These are the
    /// splits the user is told about.
    pub shrunk: Vec<(Selector, Selector)>,
    /// Existing values all of whose types move to the target (their history goes with them).
    pub absorbed: Vec<Selector>,
}

/// Plans `set` of a value for `target` given the secret's `existing` selectors.
pub fn plan_set(existing: &[Selector], target: &Selector) -> SetPlan {
    let mut plan = SetPlan {
        shrunk: Vec::new(),
        absorbed: Vec::new(),
    };
    let Selector::Types(new) = target else {
        return plan;
    };
    for sel in existing {
        let Selector::Types(old) = sel else { continue };
        if old == new || old.intersection(*new).is_empty() {
            continue;
        }
        let rest = old.difference(*new);
        if rest.is_empty() {
            plan.absorbed.push(sel.clone());
        } else {
            plan.shrunk.push((sel.clone(), Selector::Types(rest)));
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use EnvType::*;

    fn sel(s: &str) -> Selector {
        s.parse().unwrap()
    }

    #[test]
    fn selector_text_round_trips_in_display_order() {
        assert_eq!(
            sel("local,prod,dev").to_string(),
            "production,development,local"
        );
        assert_eq!(sel("env:prod-eu").to_string(), "env:prod-eu");
        assert!("".parse::<Selector>().is_err());
        assert!("env:prod".parse::<Selector>().is_err());
        assert!("staging".parse::<Selector>().is_err());
    }

    #[test]
    fn override_beats_type_and_types_resolve_implicit_envs() {
        let stored = [
            sel("production"),
            sel("development,preview"),
            sel("env:prod-eu"),
        ];
        let prod_eu = EnvRef::Declared("prod-eu".parse().unwrap(), Production);
        let prod_us = EnvRef::Declared("prod-us".parse().unwrap(), Production);
        let pr = EnvRef::Declared("pr-7".parse().unwrap(), Preview);
        assert_eq!(Selector::resolve(&stored, &prod_eu), Some(&stored[2]));
        assert_eq!(Selector::resolve(&stored, &prod_us), Some(&stored[0]));
        assert_eq!(Selector::resolve(&stored, &pr), Some(&stored[1]));
        assert_eq!(
            Selector::resolve(&stored, &EnvRef::Implicit(Development)),
            Some(&stored[1])
        );
        assert_eq!(Selector::resolve(&stored, &EnvRef::Implicit(Local)), None);
        // An override alone does not give its type a value.
        let only_override = [sel("env:prod-eu")];
        assert_eq!(
            Selector::resolve(&only_override, &EnvRef::Implicit(Production)),
            None
        );
    }

    #[test]
    fn setting_one_type_splits_it_off_a_shared_value() {
        let existing = [sel("development,preview,local"), sel("production")];
        let plan = plan_set(&existing, &sel("local"));
        assert_eq!(
            plan.shrunk,
            vec![(existing[0].clone(), sel("development,preview"))]
        );
        assert!(plan.absorbed.is_empty());
    }

    #[test]
    fn setting_a_wider_set_absorbs_and_shrinks() {
        let existing = [sel("development"), sel("preview,local"), sel("production")];
        let plan = plan_set(&existing, &sel("dev,preview"));
        assert_eq!(plan.absorbed, vec![sel("development")]);
        assert_eq!(plan.shrunk, vec![(sel("preview,local"), sel("local"))]);
    }

    #[test]
    fn same_selector_is_a_new_version_and_overrides_never_split() {
        let existing = [sel("production"), sel("env:prod-eu")];
        let p = plan_set(&existing, &sel("prod"));
        assert!(p.shrunk.is_empty() && p.absorbed.is_empty());
        let p = plan_set(&existing, &sel("env:prod-eu"));
        assert!(p.shrunk.is_empty() && p.absorbed.is_empty());
    }
}
