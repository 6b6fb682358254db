//! Values of backend URL options shared by the backends.

/// A comma-separated option value (`replicas=us-east-1,eu-central-1`) as a sorted set: items
/// trimmed, empty ones and repeats dropped. The caller checks each item and whether any is left.
pub fn comma_set(v: &str) -> Vec<String> {
    let mut items: Vec<String> = v
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(str::to_string)
        .collect();
    items.sort();
    items.dedup();
    items
}

#[cfg(test)]
mod tests {
    #[test]
    fn items_are_trimmed_sorted_and_unique() {
        assert_eq!(super::comma_set(" b,a,, b ,"), ["a", "b"]);
        assert!(super::comma_set(" , ").is_empty());
    }
}
