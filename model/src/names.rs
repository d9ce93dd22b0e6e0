//! Helpers for checks about names: duplicates and "did you mean" suggestions.

use crate::ast::Ident;
use crate::diagnostic::Diagnostic;
use std::collections::HashMap;

/// Reports every name that is declared again, pointing at its first declaration.
pub(crate) fn report_duplicates<'a>(
    names: impl IntoIterator<Item = &'a Ident>,
    what: &str,
    scope: &str,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut first: HashMap<&str, &Ident> = HashMap::new();
    for name in names {
        match first.get(name.name.as_str()) {
            Some(earlier) => diagnostics.push(
                Diagnostic::error(name.span, format!("{what} `{}` is declared twice{scope}", name.name))
                    .with_note(earlier.span, "first declared here"),
            ),
            None => {
                first.insert(&name.name, name);
            }
        }
    }
}

/// The candidate closest to `name`, when it is close enough to be a likely typo.
pub(crate) fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Adds "did you mean" help to an unknown-name error when a close candidate exists.
pub(crate) fn with_suggestion<'a>(
    diagnostic: Diagnostic,
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Diagnostic {
    match closest(name, candidates) {
        Some(best) => diagnostic.with_help(format!("did you mean `{best}`?")),
        None => diagnostic,
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(closest("SensorRedy", ["SensorReady", "Estimate"]), Some("SensorReady"));
        assert_eq!(closest("Foo", ["SensorReady", "Estimate"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
