//! The names a written Rust file uses for items of other modules: the short name, imported with
//! `use`, when nothing else in the file has it; else the full path. A model may name a message
//! `Tick` or `Result`, or a component like its own module, and the file must still compile.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The names one file gives out, and its `use` lines.
#[derive(Debug, Default)]
pub(crate) struct Imports {
    /// Each short name taken in the file (without `r#`), with the full path it stands for (its
    /// own items stand for themselves).
    taken: HashMap<String, String>,
    /// The imported names, by the module they come from.
    uses: BTreeMap<String, BTreeSet<String>>,
}

/// `name` without a leading `r#`: what two names collide on.
fn bare(name: &str) -> &str {
    name.strip_prefix("r#").unwrap_or(name)
}

impl Imports {
    /// A file that declares items named `own` itself.
    pub(crate) fn new(own: &[&str]) -> Self {
        let taken = own.iter().map(|n| (bare(n).to_owned(), format!("self::{}", bare(n)))).collect();
        Imports { taken, uses: BTreeMap::new() }
    }

    /// How the file names item `name` of module `parent` (`cohort_runtime::typed`,
    /// `crate::messages`): `name`, imported, or the full path when `name` is taken. An external
    /// crate's path is written from the root (`::cohort_runtime::Tick`), which nothing shadows.
    pub(crate) fn item(&mut self, parent: &str, name: &str) -> String {
        let full = format!("{parent}::{name}");
        match self.taken.get(bare(name)) {
            Some(path) if *path == full => name.to_owned(),
            Some(_) if parent.starts_with("crate") => full,
            Some(_) => format!("::{full}"),
            None => {
                self.taken.insert(bare(name).to_owned(), full);
                self.uses.entry(parent.to_owned()).or_default().insert(name.to_owned());
                name.to_owned()
            }
        }
    }

    /// How the file names a prelude item (`Result`, `Ok`) or an external crate (`slog`): `name`,
    /// unless the file has something else of that name, then `full` (`::core::result::Result`,
    /// `::slog`).
    pub(crate) fn prelude(&mut self, name: &str, full: &str) -> String {
        match self.taken.get(name) {
            Some(path) if path == full => name.to_owned(),
            Some(_) => full.to_owned(),
            None => {
                self.taken.insert(name.to_owned(), full.to_owned());
                name.to_owned()
            }
        }
    }

    /// The `use` lines, as rustfmt orders them: external crates, a blank line, then the crate's
    /// own modules; a blank line after them when there are any.
    pub(crate) fn render(&self) -> String {
        let line = |parent: &str, names: &BTreeSet<String>| {
            let mut names: Vec<&String> = names.iter().collect();
            // rustfmt's order: `self`, then lower case names, then upper case ones.
            names.sort_by_key(|n| (n.as_str() != "self", bare(n).starts_with(char::is_uppercase), bare(n).to_owned()));
            match names.as_slice() {
                [one] => format!("use {parent}::{one};"),
                many => {
                    let list: Vec<&str> = many.iter().map(|n| n.as_str()).collect();
                    format!("use {parent}::{{{}}};", list.join(", "))
                }
            }
        };
        let (own, external): (Vec<_>, Vec<_>) = self.uses.iter().partition(|(parent, _)| parent.starts_with("crate"));
        let mut out = String::new();
        for group in [external, own] {
            let mut lines: Vec<String> = group.into_iter().map(|(parent, names)| line(parent, names)).collect();
            if lines.is_empty() {
                continue;
            }
            lines.sort();
            for l in lines {
                out.push_str(&l);
                out.push('\n');
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_names_are_imported_and_taken_ones_are_written_in_full() {
        let mut imports = Imports::new(&["Sensor"]);
        assert_eq!(imports.item("crate::model", "sensor"), "sensor");
        assert_eq!(imports.item("cohort_runtime", "Tick"), "Tick");
        assert_eq!(imports.item("cohort_runtime", "Tick"), "Tick");
        // A message named like the component, or like a runtime item already imported.
        assert_eq!(imports.item("crate::messages", "Sensor"), "crate::messages::Sensor");
        assert_eq!(imports.item("crate::messages", "Tick"), "crate::messages::Tick");
        assert_eq!(imports.item("crate::messages", "Level"), "Level");
        // A prelude name taken by an import, and an import taken by a prelude name.
        assert_eq!(imports.item("crate::messages", "Ok"), "Ok");
        assert_eq!(imports.prelude("Ok", "::core::result::Result::Ok"), "::core::result::Result::Ok");
        assert_eq!(imports.prelude("Result", "::core::result::Result"), "Result");
        assert_eq!(imports.item("crate::messages", "Result"), "crate::messages::Result");
        assert_eq!(imports.item("cohort_runtime::typed", "Result"), "::cohort_runtime::typed::Result");
        assert_eq!(
            imports.render(),
            "use cohort_runtime::Tick;\n\nuse crate::messages::{Level, Ok};\nuse crate::model::sensor;\n\n"
        );
    }

    #[test]
    fn raw_names_collide_on_their_bare_name() {
        let mut imports = Imports::new(&["r#type"]);
        assert_eq!(imports.item("crate::messages", "r#type"), "crate::messages::r#type");
        assert_eq!(imports.item("crate::model", "r#match"), "r#match");
        assert_eq!(imports.item("crate::messages", "r#match"), "crate::messages::r#match");
    }

    #[test]
    fn use_lines_are_in_rustfmt_order() {
        let mut imports = Imports::new(&[]);
        for name in ["Tick", "HandlerResult", "Received"] {
            imports.item("cohort_runtime", name);
        }
        imports.item("cohort_runtime::typed", "Context");
        imports.item("crate::model", "sensor");
        imports.item("crate::model", "groups");
        assert_eq!(
            imports.render(),
            "use cohort_runtime::typed::Context;\nuse cohort_runtime::{HandlerResult, Received, Tick};\n\n\
             use crate::model::{groups, sensor};\n\n"
        );
    }
}
