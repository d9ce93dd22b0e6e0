//! Quoting for the POSIX shell scripts run on the hosts.

/// `text` as one word of a POSIX shell command line: as it is when it holds only characters
/// the shell leaves alone, else in single quotes.
pub(crate) fn quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=@,:%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// Every word of `words`, quoted, joined by spaces.
pub(crate) fn quote_all<S: AsRef<str>>(words: &[S]) -> String {
    words.iter().map(|w| quote(w.as_ref())).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn plain_words_stay_and_others_are_single_quoted() {
        assert_eq!(quote("/opt/cohort/Microgrid"), "/opt/cohort/Microgrid");
        assert_eq!(quote("--metrics=127.0.0.1:9464"), "--metrics=127.0.0.1:9464");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's $HOME"), r"'it'\''s $HOME'");
    }

    #[test]
    fn the_shell_reads_back_what_was_quoted() {
        let words = ["a b", "it's", "$HOME", "`id`", "back\\slash", "new\nline", "*", ""];
        let script = format!("for w in {}; do printf '[%s]' \"$w\"; done", quote_all(&words));
        let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
        let expected: String = words.iter().map(|w| format!("[{w}]")).collect();
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    }
}
