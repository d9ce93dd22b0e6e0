#![allow(clippy::unwrap_used, clippy::expect_used)]
//! No input may panic the parser or the checker, and every diagnostic names a real line and
//! column of the file it is about.
//!
//! Four kinds of input are generated: arbitrary text (any characters, control characters,
//! unterminated comments and strings, deep nesting), token soup over the RIAPS languages,
//! model-shaped text with random names and extreme numbers, and mutations of the real models of
//! the RIAPS corpus. Every input is compiled both as a `.riaps` model and as a `.depl`
//! deployment, then the deployment checks and the JSON writer run on whatever came out; see
//! [`check_text`] for the properties asserted.
//!
//! Runs are reproducible: the seed is fixed unless `PROPTEST_RNG_SEED` is set, and
//! `PROPTEST_CASES` replaces the case counts below for a longer soak. Failures are not persisted
//! to `proptest-regressions/`; a real bug found this way gets a unit test beside the code.

use cohort_model::ast::App;
use cohort_model::deployment::Deployment;
use cohort_model::{
    check_deployment_against, compile_app_model, compile_deployment, json, parse_app_model, parse_deployment,
    render_all, Diagnostic, Severity, SourceFile, Span,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{RngSeed, TestCaseError};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The name diagnostics are rendered with. No rendered snippet or help line starts with it.
const NAME: &str = "input.model";

/// The seed used when `PROPTEST_RNG_SEED` is not set.
const SEED: u64 = 0x00c0_4047_0001;

/// A proptest configuration with `cases` cases, a fixed seed and no failure files; the
/// `PROPTEST_CASES` and `PROPTEST_RNG_SEED` environment variables override both.
fn config(cases: u32) -> ProptestConfig {
    let defaults = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() { defaults.cases } else { cases },
        rng_seed: match defaults.rng_seed {
            RngSeed::Random => RngSeed::Fixed(SEED),
            fixed => fixed,
        },
        failure_persistence: None,
        ..defaults
    }
}

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

/// Compiles `text` as an app model and as a deployment, runs the JSON writer and the deployment
/// check on every result (the checked ones and the partial trees of the parsers), and asserts:
///
/// - nothing panics (a panic fails the case);
/// - a compile yields a value exactly when it reports no error;
/// - every span and note span lies within the text, on character boundaries, start <= end;
/// - messages, notes and help are each one line, free of control characters;
/// - each rendered diagnostic starts with `NAME:LINE:COL: error: ` or `warning: `, where LINE
///   and COL are the 1-based position of the span's start;
/// - `render_all` is the rendered diagnostics in file order.
///
/// Returns the compiled results for further checks against other files.
fn check_text(text: &str) -> Result<(Option<cohort_model::ast::Model>, Option<Deployment>), TestCaseError> {
    let source = SourceFile::new(NAME, text);

    let app = compile_app_model(text);
    prop_assert_eq!(app.value.is_some(), !app.has_errors(), "app model: value present iff no error");
    check_diagnostics(&app.diagnostics, &source, &source)?;
    if let Some(model) = &app.value {
        for a in &model.apps {
            json::app_json(a);
        }
    }

    let deployment = compile_deployment(text);
    prop_assert_eq!(deployment.value.is_some(), !deployment.has_errors(), "deployment: value present iff no error");
    check_diagnostics(&deployment.diagnostics, &source, &source)?;
    if let Some(d) = &deployment.value {
        json::deployment_json(d);
    }

    // The parsers return partial trees alongside their errors; the JSON writer and the
    // cross-check must cope with those too. Both parsers accept the same `app Name {` header, so
    // one text often yields both trees.
    let (partial_model, _) = parse_app_model(text);
    let (partial_deployment, _) = parse_deployment(text);
    for a in &partial_model.apps {
        json::app_json(a);
    }
    if let Some(d) = &partial_deployment {
        json::deployment_json(d);
        for a in &partial_model.apps {
            check_diagnostics(&check_deployment_against(d, a), &source, &source)?;
        }
    }
    Ok((app.value, deployment.value))
}

/// Checks a deployment against an app model from another file: diagnostic spans point into the
/// deployment, and any note into the app model.
fn check_cross(deployment: &Deployment, deployment_text: &str, app: &App, app_text: &str) -> Result<(), TestCaseError> {
    let deployment_source = SourceFile::new(NAME, deployment_text);
    let app_source = SourceFile::new(NAME, app_text);
    check_diagnostics(&check_deployment_against(deployment, app), &deployment_source, &app_source)
}

/// Checks the spans and rendering of diagnostics whose spans are in `source` and whose notes
/// are in `notes_source` (the same file except for cross-file checks).
fn check_diagnostics(
    diagnostics: &[Diagnostic],
    source: &SourceFile,
    notes_source: &SourceFile,
) -> Result<(), TestCaseError> {
    for d in diagnostics {
        check_span(d.span, &source.text, d)?;
        for (span, _) in &d.notes {
            check_span(*span, &notes_source.text, d)?;
        }
        for text in std::iter::once(&d.message).chain(d.notes.iter().map(|(_, n)| n)).chain(&d.help) {
            prop_assert!(!text.contains(breaks_line), "not one line: {:?} in {:?}", text, d);
        }
        let rendered = d.render(source);
        let header = rendered.split('\n').next().unwrap_or_default();
        let (line, column, severity) = parse_header(header).ok_or_else(|| {
            TestCaseError::fail(format!("header is not `{NAME}:LINE:COL: error|warning: `: {header:?}"))
        })?;
        prop_assert_eq!((line, column), position(&source.text, d.span.start), "position of {:?}", d);
        prop_assert!(line <= source.text.matches('\n').count() + 1);
        prop_assert_eq!(severity, d.severity);
    }
    // `render_all` prints each diagnostic in file order (ties in the order found).
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by_key(|d| d.span.start);
    let expected: String = sorted.iter().map(|d| d.render(source)).collect();
    prop_assert_eq!(render_all(diagnostics, source), expected);
    Ok(())
}

/// Characters that would break a diagnostic's header line (or mess up a terminal).
fn breaks_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

fn check_span(span: Span, text: &str, d: &Diagnostic) -> Result<(), TestCaseError> {
    prop_assert!(
        span.start <= span.end && span.end <= text.len(),
        "span {:?} outside 0..{} in {:?}",
        span,
        text.len(),
        d
    );
    prop_assert!(
        text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
        "span {:?} splits a character in {:?}",
        span,
        d
    );
    Ok(())
}

/// Parses `NAME:LINE:COL: error: ` or `NAME:LINE:COL: warning: ` (LINE, COL >= 1).
fn parse_header(header: &str) -> Option<(usize, usize, Severity)> {
    let rest = header.strip_prefix(NAME)?.strip_prefix(':')?;
    let (line, rest) = rest.split_once(':')?;
    let (column, rest) = rest.split_once(':')?;
    let severity = if rest.starts_with(" error: ") {
        Severity::Error
    } else if rest.starts_with(" warning: ") {
        Severity::Warning
    } else {
        return None;
    };
    let number = |s: &str| s.bytes().all(|b| b.is_ascii_digit()).then(|| s.parse::<usize>().ok()).flatten();
    let (line, column) = (number(line)?, number(column)?);
    (line >= 1 && column >= 1).then_some((line, column, severity))
}

/// The 1-based line and column (in characters) of a byte offset on a character boundary.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

// ---------------------------------------------------------------------------------------------
// (a) Arbitrary text
// ---------------------------------------------------------------------------------------------

/// Pieces that are rare in random text but likely to trip a hand-written scanner.
const TRICKY: &[&str] = &[
    "\0",
    "/*",
    "*/",
    "//",
    "/",
    "\"",
    "'",
    "\\",
    "\\\"",
    "\\'",
    "\n",
    "\r",
    "\r\n",
    "\t",
    " ",
    "{",
    "}",
    "(",
    ")",
    ";",
    "-",
    ".",
    "e",
    "1",
    "ç",
    "é",
    "🦀",
    "\u{301}",
    "\u{feff}",
    "\u{85}",
    "\u{2028}",
    "\u{a0}",
    "٣",
    "Ⅻ",
    "\u{10ffff}",
    "\u{fffd}",
    "app",
    "app A {",
];

fn arbitrary_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => any::<char>().prop_map(String::from),
        4 => prop::sample::select(TRICKY).prop_map(String::from),
        1 => (prop::sample::select(&["{", "(", "/*", "\"", "app A {"][..]), 1..3000usize)
            .prop_map(|(s, n)| s.repeat(n)),
    ];
    prop_oneof![
        3 => prop::collection::vec(piece, 0..64).prop_map(|pieces| pieces.concat()),
        1 => prop::collection::vec(any::<u8>(), 0..256).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        1 => any::<String>(),
    ]
}

// ---------------------------------------------------------------------------------------------
// (b) Token soup and model-shaped text
// ---------------------------------------------------------------------------------------------

/// Every keyword of both languages (languages, group parameters and booleans included).
const KEYWORDS: &str = "app message group with leader consensus using timed library component device in \
     scheduler priority rr pub sub clt srv req rep qry ans timer inside default within sec msec min actor \
     real-time local internal uses cpu max over mem space net rate ceil burst kbps mbps k kb mb gb host \
     network any dns on all c++ cpp C++ Python python py true True false False heartbeat electionMin \
     electionMax peerTimeout consensusTimeout";

const PUNCTUATION: &[&str] = &["{", "}", "(", ")", ";", ",", ":", "=", "%", "-", ".", "+", "/*", "*/", "//"];

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "+7",
    "-1",
    "1e999",
    "-1e999",
    "1e-999",
    "1E3",
    "2.4e06",
    "99999999999999999999",
    "-99999999999999999999",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "1.5",
    ".5",
    "-.5",
    "7.",
    "1e",
    "1e+",
    "1.5.",
    "0x10",
    "1_000",
    "١٢",
];

const NAMES: &[&str] = &["A", "B", "M", "N", "C", "D", "x", "y", "_", "ñame", "名前", "Ωmega", "x٣", "ǅx", "a\u{301}"];

const HOSTS: &[&str] = &["192.168.1.1", "10.0.0.1", "a-b.c", "localhost", "all", "any", "dns", "-", ".", "1.2.3.4.5"];

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(NUMBERS).prop_map(String::from),
        1 => any::<i64>().prop_map(|i| i.to_string()),
        1 => any::<u128>().prop_map(|i| i.to_string()),
        1 => any::<f64>().prop_map(|f| format!("{f:?}")),
        1 => any::<f64>().prop_map(|f| format!("{f:e}")),
        1 => (0..100_000i64).prop_map(|i| i.to_string()),
    ]
}

fn string_literal() -> impl Strategy<Value = String> {
    let body = prop::collection::vec(
        prop::sample::select(&["a", "b", " ", "\\\"", "\\'", "\\", "\\n", "'", "\"", "é", "\n", "//", "/*"][..]),
        0..8,
    );
    (prop::sample::select(&["\"", "'"][..]), body, any::<bool>()).prop_map(|(quote, body, closed)| {
        let body = body.concat();
        if closed {
            format!("{quote}{body}{quote}")
        } else {
            format!("{quote}{body}")
        }
    })
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(NAMES).prop_map(String::from),
        1 => "[A-Za-z_][A-Za-z0-9_]{0,10}",
        1 => "\\PC{1,6}",
    ]
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(KEYWORDS.split_whitespace().collect::<Vec<_>>()).prop_map(String::from),
        4 => prop::sample::select(PUNCTUATION).prop_map(String::from),
        2 => number(),
        1 => string_literal(),
        2 => name(),
        1 => prop::sample::select(HOSTS).prop_map(String::from),
    ]
}

fn separator() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        8 => Just(" "),
        2 => Just(""),
        2 => Just("\n"),
        1 => Just("\t"),
        1 => Just("\r\n"),
        1 => Just(" // comment\n"),
        1 => Just(" /* comment */ "),
    ]
}

/// Prefixes that get the soup past the header, into app bodies, components, actors and
/// deployments.
const PREFIXES: &[&str] = &[
    "",
    "app A {",
    "app A { message M; ",
    "app A { message M; component C {",
    "app A { message M; component C { pub p : M; } actor X {",
    "app A { message M; component C(a = 1) { pub p : M; } actor X { uses {",
    "app A { message M; component C { pub p : M; } actor X { { c : C(",
    "app A { host all { network ",
    "app A { on (",
    "app A { on all X(",
];

fn token_soup() -> impl Strategy<Value = String> {
    (
        prop::sample::select(PREFIXES),
        prop::collection::vec((token(), separator()), 0..64),
        prop::sample::select(&["", "}", "} }", "}}}", ";"][..]),
    )
        .prop_map(|(prefix, tokens, suffix)| {
            let mut text = prefix.to_string();
            for (token, separator) in tokens {
                text.push_str(&token);
                text.push_str(separator);
            }
            text.push_str(suffix);
            text
        })
}

/// One slot of a model-shaped text: how many times it occurs (from `min` to `max`) and the
/// statements that may fill it, with holes: `$P` a fresh name, `$I` a number, `$L` a literal,
/// `$T` a time unit, `$S` a size unit, `$R` a rate unit, `$H` a host.
struct Slot {
    min: usize,
    max: usize,
    choices: &'static [&'static str],
}

const fn slot(min: usize, max: usize, choices: &'static [&'static str]) -> Slot {
    Slot { min, max, choices }
}

/// An app model, slot by slot. Every choice is valid on its own (given ordinary numbers and
/// literals), so many generated models pass all checks; the rest fail a check, not the parser.
const APP_SLOTS: &[Slot] = &[
    slot(1, 1, &["app A {"]),
    slot(1, 1, &["message M; message N;", "message M;message N;"]),
    slot(0, 1, &[
        "group $P using M;",
        "group $P with leader using N timed;",
        "group $P with consensus using M heartbeat = 100, electionMin = 200, electionMax = 300, peerTimeout = 400, consensusTimeout = 250;",
        "group $P with leader using M timed heartbeat = $I, electionMin = $I, electionMax = $I, peerTimeout = $I, consensusTimeout = $I;",
    ]),
    slot(0, 2, &["library \"lib/x\";", "library $P;", "library \"two\nlines\";"]),
    slot(1, 1, &[
        "component C(a = $L, b)",
        "component C(a = $L, b) in py",
        "component C(a = $L, b) in c++ scheduler priority;",
        "component C(a = $L, b) scheduler rr;",
    ]),
    slot(1, 1, &["{"]),
    slot(0, 4, &[
        "pub $P : M;",
        "sub $P : M timed within $I $T;",
        "timer $P $I $T;",
        "timer $P within $I $T;",
        "timer $P;",
        "srv $P : (M, N) timed within $I;",
        "clt $P : (M, N);",
        "req $P : (N, M) timed;",
        "rep $P : (N, M);",
        "qry $P : (M, M) within $I;",
        "ans $P : (M, M);",
        "inside $P default;",
        "inside $P;",
    ]),
    slot(1, 1, &["}"]),
    slot(0, 1, &["device D(a = $L) { pub $P : M; sub $P : M; }"]),
    slot(1, 1, &["actor X(v)", "real-time actor X(v, w = $L)", "actor X(v = $L)"]),
    slot(1, 1, &["{"]),
    slot(0, 1, &["local M, N;", "internal M, N;", "local M; internal N;"]),
    slot(0, 1, &[
        "uses { cpu $I %; }",
        "uses { cpu max $I % over $I $T; mem $I $S; space $I $S; net rate $I $R ceil $I $R burst $I k; }",
        "uses { mem $I $S; net rate $I $R; }",
    ]),
    slot(0, 1, &["scheduler rr;", "scheduler priority $I;"]),
    slot(1, 1, &["{"]),
    slot(1, 3, &["$P : C(b = $L);", "$P : C(b = v, a = $L);"]),
    slot(1, 1, &["} } }"]),
];

/// A deployment of the app above, slot by slot.
const DEPLOYMENT_SLOTS: &[Slot] = &[
    slot(1, 1, &["app A {", "app A {", "app B {"]),
    slot(0, 1, &["host all { network any; }", "host $H { network dns, $H; }"]),
    slot(1, 3, &["on all X(v = $L);", "on ($H) X(v = $L);", "on ($H, $H) X(v = $L, w = $L), X(v = $I);"]),
    slot(1, 1, &["}"]),
];

/// Values for the holes of one text, used in turn.
#[derive(Debug, Clone)]
struct Holes {
    picks: Vec<Index>,
    numbers: Vec<String>,
    literals: Vec<String>,
}

fn holes() -> impl Strategy<Value = Holes> {
    let ordinary_number = (0..5000i64).prop_map(|i| i.to_string());
    let ordinary_literal = prop::sample::select(&["\"text\"", "'x'", "1", "2.5", "-3", "true", "False", "\"\""][..]);
    (
        prop::collection::vec(any::<Index>(), 64),
        prop::collection::vec(prop_oneof![4 => ordinary_number, 1 => number()], 16),
        prop::collection::vec(
            prop_oneof![8 => ordinary_literal.prop_map(String::from), 1 => string_literal(), 1 => number()],
            8,
        ),
    )
        .prop_map(|(picks, numbers, literals)| Holes { picks, numbers, literals })
}

/// Fills the slots with choices and the holes with values, taking both from `holes` in turn.
fn fill(slots: &[Slot], holes: &Holes, separator: &str) -> String {
    let mut next = 0;
    let mut pick = |n: usize| {
        next += 1;
        holes.picks[next % holes.picks.len()].index(n)
    };
    let mut statements = Vec::new();
    for slot in slots {
        let count = slot.min + pick(slot.max - slot.min + 1);
        for _ in 0..count {
            statements.push(slot.choices[pick(slot.choices.len())]);
        }
    }
    let mut out = String::new();
    for (i, statement) in statements.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        let mut parts = statement.split('$');
        out.push_str(parts.next().unwrap_or_default());
        for part in parts {
            let (kind, rest) = part.split_at(1);
            let n = pick(usize::MAX);
            let value = match kind {
                "P" => format!("p{}", out.len()),
                "I" => holes.numbers[n % holes.numbers.len()].clone(),
                "L" => holes.literals[n % holes.literals.len()].clone(),
                "T" => ["", "sec", "msec", "min"][n % 4].to_string(),
                "S" => ["", "mb", "gb"][n % 3].to_string(),
                "R" => ["kbps", "mbps"][n % 2].to_string(),
                _ => HOSTS[n % HOSTS.len()].to_string(),
            };
            out.push_str(&value);
            out.push_str(rest);
        }
    }
    out
}

/// An app model and a deployment for it, built from [`APP_SLOTS`] and [`DEPLOYMENT_SLOTS`].
fn model_shaped() -> impl Strategy<Value = (String, String)> {
    (holes(), separator(), holes(), separator())
        .prop_map(|(h1, s1, h2, s2)| (fill(APP_SLOTS, &h1, s1), fill(DEPLOYMENT_SLOTS, &h2, s2)))
}

// ---------------------------------------------------------------------------------------------
// (c) Mutations of the RIAPS corpus
// ---------------------------------------------------------------------------------------------

/// One file of the corpus, with what it compiles to when it is valid.
struct CorpusFile {
    /// The path under the corpus directory, shown when a case fails.
    name: String,
    text: String,
    model: Option<cohort_model::ast::Model>,
    deployment: Option<Deployment>,
}

fn corpus_dir() -> PathBuf {
    match std::env::var_os("COHORT_RIAPS_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/compat/riaps"),
    }
}

/// Every `.riaps` and `.depl` file of the corpus, read and compiled once.
fn corpus() -> &'static [CorpusFile] {
    static CORPUS: OnceLock<Vec<CorpusFile>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let root = corpus_dir();
        assert!(root.is_dir(), "the RIAPS corpus is not at {} (set COHORT_RIAPS_CORPUS)", root.display());
        let mut files = Vec::new();
        collect_models(&root, &mut files);
        files.sort();
        assert!(files.len() >= 250, "only {} corpus files found under {}", files.len(), root.display());
        files
            .into_iter()
            .map(|path| {
                let text = std::fs::read_to_string(&path).unwrap();
                let (model, deployment) = if path.extension().is_some_and(|e| e == "depl") {
                    (None, compile_deployment(&text).value)
                } else {
                    (compile_app_model(&text).value, None)
                };
                let name = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
                CorpusFile { name, text, model, deployment }
            })
            .collect()
    })
}

fn collect_models(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_models(&path, out);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("riaps" | "depl")) {
            out.push(path);
        }
    }
}

/// An edit of a model file's bytes. Positions are fractions of the current length; the edited
/// bytes are read back as UTF-8, lossily, as a fuzzer's input would be.
#[derive(Debug, Clone)]
enum Mutation {
    /// Removes up to `len` bytes at `at`.
    Delete { at: Index, len: usize },
    /// Copies up to `len` bytes at `from` to `to`.
    Duplicate { from: Index, len: usize, to: Index },
    /// Inserts a token (with a space on either side, or not) at a character boundary.
    Insert { at: Index, token: String, spaced: bool },
    /// Swaps two lines.
    SwapLines { a: Index, b: Index },
    /// Cuts the file at `at`.
    Truncate { at: Index },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 1..48usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        2 => (any::<Index>(), 1..96usize, any::<Index>()).prop_map(|(from, len, to)| Mutation::Duplicate { from, len, to }),
        4 => (any::<Index>(), token(), any::<bool>()).prop_map(|(at, token, spaced)| Mutation::Insert { at, token, spaced }),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        1 => any::<Index>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

impl Mutation {
    fn apply(&self, text: &str) -> String {
        let mut bytes = text.as_bytes().to_vec();
        let len = bytes.len();
        match self {
            Self::Delete { at, len: n } => {
                let start = at.index(len + 1);
                bytes.drain(start..(start + n).min(len));
            }
            Self::Duplicate { from, len: n, to } => {
                let start = from.index(len + 1);
                let copy = bytes[start..(start + n).min(len)].to_vec();
                let to = to.index(len + 1);
                bytes.splice(to..to, copy);
            }
            Self::Insert { at, token, spaced } => {
                let mut at = at.index(len + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                let token = if *spaced { format!(" {token} ") } else { token.clone() };
                bytes.splice(at..at, token.into_bytes());
            }
            Self::SwapLines { a, b } => {
                let mut lines: Vec<&str> = text.split('\n').collect();
                let (a, b) = (a.index(lines.len()), b.index(lines.len()));
                lines.swap(a, b);
                return lines.join("\n");
            }
            Self::Truncate { at } => bytes.truncate(at.index(len + 1)),
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// A corpus file's name, and its text with one to four mutations applied in turn.
fn mutated_corpus_file() -> impl Strategy<Value = (&'static str, String)> {
    (any::<Index>(), prop::collection::vec(mutation(), 1..5)).prop_map(|(file, mutations)| {
        let file = file.get(corpus());
        (file.name.as_str(), mutations.iter().fold(file.text.clone(), |text, m| m.apply(&text)))
    })
}

/// Checks a mutated file against the corpus files of the other language for the same app:
/// a mutated deployment against every valid app model, a mutated model against every valid
/// deployment of its apps.
fn check_against_corpus(
    text: &str,
    model: Option<&cohort_model::ast::Model>,
    deployment: Option<&Deployment>,
) -> Result<(), TestCaseError> {
    for other in corpus() {
        if let (Some(deployment), Some(other_model)) = (deployment, &other.model) {
            for app in other_model.apps.iter().filter(|a| a.name.name == deployment.app.name) {
                check_cross(deployment, text, app, &other.text)?;
            }
        }
        if let (Some(model), Some(other_deployment)) = (model, &other.deployment) {
            for app in model.apps.iter().filter(|a| a.name.name == other_deployment.app.name) {
                check_cross(other_deployment, &other.text, app, text)?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(1000))]

    /// Any text at all, down to lone comment openers, NULs and thousands of open braces.
    #[test]
    fn arbitrary_text_never_panics_and_every_diagnostic_has_a_position(text in arbitrary_text()) {
        check_text(&text)?;
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// Keywords, punctuation, extreme numbers, strings with escapes and unicode names, in any
    /// order, after a header that gets them into an app, a component, an actor or a deployment.
    #[test]
    fn token_soup_never_panics_and_every_diagnostic_has_a_position(text in token_soup()) {
        check_text(&text)?;
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// Statements of both languages with random names and extreme values, so the semantic
    /// checks, the JSON writer and the deployment check see well-formed but odd trees.
    #[test]
    fn model_shaped_text_never_panics_and_every_diagnostic_has_a_position((model, deployment) in model_shaped()) {
        let (model_value, _) = check_text(&model)?;
        let (_, deployment_value) = check_text(&deployment)?;
        if let (Some(m), Some(d)) = (model_value, deployment_value) {
            for app in &m.apps {
                check_cross(&d, &deployment, app, &model)?;
            }
        }
    }
}

proptest! {
    #![proptest_config(config(2000))]

    /// Real models with bytes deleted or duplicated, tokens inserted, lines swapped or the end
    /// cut off; valid results are also checked against the corpus files of the other language.
    #[test]
    fn mutated_corpus_models_never_panic_and_every_diagnostic_has_a_position(
        // The file's name is there for the report of a failing case.
        (_file, text) in mutated_corpus_file()
    ) {
        let (model, deployment) = check_text(&text)?;
        check_against_corpus(&text, model.as_ref(), deployment.as_ref())?;
    }
}

/// The model-shaped generator does produce valid models and deployments (otherwise its test
/// would only exercise the parser's error paths).
#[test]
fn model_shaped_text_includes_valid_models_and_deployments() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::new(config(0));
    let (mut models, mut deployments) = (0, 0);
    for _ in 0..200 {
        let (model, deployment) = model_shaped().new_tree(&mut runner).unwrap().current();
        models += usize::from(compile_app_model(&model).value.is_some());
        deployments += usize::from(compile_deployment(&deployment).value.is_some());
    }
    assert!(models >= 20 && deployments >= 20, "{models} valid models and {deployments} valid deployments in 200");
}
