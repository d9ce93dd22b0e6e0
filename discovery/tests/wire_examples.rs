#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The wire examples of `docs/discovery.md`, checked against the code (issue 14).
//!
//! The docs show each message as a ```` ```cbor-diag ```` block (CBOR diagnostic notation,
//! RFC 8949 §8), sometimes followed by a ```` ```cbor-hex ```` block with the same bytes. The line
//! before each diagnostic block ends with the Rust type in backticks and parentheses, as in
//! "(`ClientFrame`):". These tests read the docs, turn every block into bytes, and check that:
//!
//! - the bytes decode, with the daemon's and client's own decoders, to the value listed here;
//! - the code encodes that value to exactly those bytes (same keys, order and integer widths);
//! - the hex, where given, is those bytes;
//! - a registry fed the requests shown answers with the replies and pushes shown.
//!
//! So an example that drifts from the code, or code that drifts from the examples, fails here.

use std::fmt::Debug;
use std::time::Duration;

use cohort_discovery::protocol::{
    decode_client, decode_daemon, encode, ActorListing, ClientFrame, ClientRequest, DaemonFrame, DaemonMessage,
    ErrorCode, ErrorReply, Listing, ReplyBody, WireScope, PROTOCOL_VERSION,
};
use cohort_discovery::{Effect, Reach, Registry, RegistryConfig, Service};
use serde::Serialize;

const DOC: &str = include_str!("../../docs/discovery.md");

// ---------------------------------------------------------------------------------------------
// The examples, as Rust values, in the order the docs show them
// ---------------------------------------------------------------------------------------------

const HOST: &str = "node-1";
const APP: &str = "DistributedEstimator";
const ESTIMATOR: &[u8] = b"estimator's routing id";
const TOOL: &[u8] = b"cohort ls's routing id";
const SENSOR_READY: &str = "ipc:///run/user/1000/cohort/DistributedEstimator/4242-3f9c2a7b1e04.sock";
const SENSOR_REQUEST: &str = "ipc:///run/user/1000/cohort/DistributedEstimator/4242-8d0e5b61c2a9.sock";
const REMOTE_ESTIMATE: &str = "tcp://10.0.0.2:40321";

fn request(id: u64, request: ClientRequest) -> ClientFrame {
    ClientFrame { version: PROTOCOL_VERSION, id, request }
}

fn reply(id: u64, result: Result<ReplyBody, ErrorReply>) -> DaemonFrame {
    DaemonFrame { version: PROTOCOL_VERSION, message: DaemonMessage::Reply { id, result } }
}

fn service(kind: &str, messages: &str, reach: Reach) -> Service {
    Service { app: APP.into(), kind: kind.into(), messages: messages.into(), reach }
}

fn hello() -> ClientFrame {
    request(1, ClientRequest::Hello { app: APP.into(), actor: "Estimator".into(), pid: 4242 })
}

fn welcome() -> DaemonFrame {
    reply(1, Ok(ReplyBody::Welcome { heartbeat_ms: 500, timeout_ms: 2000 }))
}

fn provide_sensor_ready() -> ClientFrame {
    request(
        2,
        ClientRequest::Provide {
            port: "sensor.ready".into(),
            kind: "pub".into(),
            messages: "SensorReady".into(),
            scope: WireScope::Local,
            endpoint: SENSOR_READY.into(),
        },
    )
}

fn lookup_filter_ready() -> ClientFrame {
    request(
        3,
        ClientRequest::Lookup {
            port: "filter.ready".into(),
            kind: "sub".into(),
            messages: "SensorReady".into(),
            scope: WireScope::Local,
        },
    )
}

fn endpoints_of_filter_ready() -> DaemonFrame {
    reply(3, Ok(ReplyBody::Endpoints(vec![SENSOR_READY.into()])))
}

fn heartbeat() -> ClientFrame {
    request(4, ClientRequest::Heartbeat)
}

fn done_to_heartbeat() -> DaemonFrame {
    reply(4, Ok(ReplyBody::Done))
}

fn update_of_filter_query() -> DaemonFrame {
    DaemonFrame {
        version: PROTOCOL_VERSION,
        message: DaemonMessage::Update {
            port: "filter.query".into(),
            added: vec![SENSOR_REQUEST.into()],
            removed: vec![],
        },
    }
}

fn unknown_client_to_heartbeat() -> DaemonFrame {
    let message = "unknown client: send Hello (protocol version 1) first".into();
    reply(4, Err(ErrorReply { code: ErrorCode::UnknownClient, message }))
}

fn listing() -> DaemonFrame {
    let here = || Reach::Host(HOST.into());
    let estimator = ActorListing {
        app: APP.into(),
        actor: "Estimator".into(),
        pid: 4242,
        provides: vec![
            ("sensor.ready".into(), service("pub", "SensorReady", here()), SENSOR_READY.into()),
            ("sensor.request".into(), service("rep", "SensorQuery#SensorValue", here()), SENSOR_REQUEST.into()),
        ],
        lookups: vec![
            ("filter.query".into(), service("rep", "SensorQuery#SensorValue", here())),
            ("filter.ready".into(), service("pub", "SensorReady", here())),
        ],
    };
    let remote = vec![(service("pub", "Estimate", Reach::Global), REMOTE_ESTIMATE.into())];
    reply(1, Ok(ReplyBody::Listing(Listing { actors: vec![estimator], remote })))
}

fn reaches() -> Vec<Reach> {
    vec![Reach::Global, Reach::Host(HOST.into()), Reach::Actor(HOST.into(), "Estimator".into())]
}

/// One example's value, of one of the types the docs show.
#[derive(Debug)]
enum Expected {
    Client(ClientFrame),
    Daemon(DaemonFrame),
    Reaches(Vec<Reach>),
}

/// The examples in the order of the docs.
fn expected() -> Vec<Expected> {
    use Expected::{Client, Daemon, Reaches};
    vec![
        Client(hello()),
        Daemon(welcome()),
        Client(lookup_filter_ready()),
        Daemon(endpoints_of_filter_ready()),
        Client(heartbeat()),
        Daemon(done_to_heartbeat()),
        Daemon(update_of_filter_query()),
        Daemon(unknown_client_to_heartbeat()),
        Daemon(listing()),
        Reaches(reaches()),
    ]
}

impl Expected {
    /// The type named before the example in the docs.
    fn type_name(&self) -> &'static str {
        match self {
            Expected::Client(_) => "ClientFrame",
            Expected::Daemon(_) => "DaemonFrame",
            Expected::Reaches(_) => "Vec<Reach>",
        }
    }

    /// Whether `bytes` decode, with the codec the daemon and client use, to this value and are
    /// exactly what the code encodes it to.
    fn check(&self, bytes: &[u8]) -> Result<(), String> {
        match self {
            Expected::Client(frame) => same(frame, decode_client(bytes).map_err(|e| e.to_string()), bytes),
            Expected::Daemon(frame) => same(frame, decode_daemon(bytes).map_err(|e| e.to_string()), bytes),
            Expected::Reaches(reaches) => {
                same(reaches, minicbor_serde::from_slice(bytes).map_err(|e| e.to_string()), bytes)
            }
        }
    }
}

fn same<T: Debug + PartialEq + Serialize>(
    expected: &T,
    decoded: Result<T, String>,
    bytes: &[u8],
) -> Result<(), String> {
    let decoded = decoded.map_err(|e| format!("the example does not decode: {e}"))?;
    if decoded != *expected {
        return Err(format!("the example decodes to\n{decoded:#?}\nbut the test expects\n{expected:#?}"));
    }
    let encoded = encode(expected);
    if encoded != bytes {
        return Err(format!("the code encodes it as\n  {}\nthe docs as\n  {}", hex(&encoded), hex(bytes)));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn issue_14_docs_wire_examples_decode_to_the_protocol_types() {
    let examples = doc_examples(DOC);
    let expected = expected();
    let found: Vec<&str> = examples.iter().map(|e| e.type_name.as_str()).collect();
    let wanted: Vec<&str> = expected.iter().map(Expected::type_name).collect();
    assert_eq!(found, wanted, "docs/discovery.md has other cbor-diag examples than this test knows");
    for (example, value) in examples.iter().zip(&expected) {
        let at = format!("docs/discovery.md:{}", example.line);
        let bytes = diag_to_cbor(&example.diag).unwrap_or_else(|e| panic!("{at}: not diagnostic notation: {e}"));
        if let Err(e) = value.check(&bytes) {
            panic!("{at}: {e}");
        }
        if let Some(given) = &example.hex {
            let given: String = given.chars().filter(|c| !c.is_whitespace()).collect();
            assert_eq!(given, hex(&bytes), "{at}: the cbor-hex block is not the example's bytes");
        }
    }
}

#[test]
fn issue_14_docs_wire_examples_are_what_the_registry_answers() {
    let mut daemon = Registry::new(RegistryConfig::new(HOST));
    assert_eq!(answers(&mut daemon, ESTIMATOR, &hello()), [welcome()]);
    assert_eq!(answers(&mut daemon, ESTIMATOR, &provide_sensor_ready()), [reply(2, Ok(ReplyBody::Done))]);
    assert_eq!(answers(&mut daemon, ESTIMATOR, &lookup_filter_ready()), [endpoints_of_filter_ready()]);
    assert_eq!(answers(&mut daemon, ESTIMATOR, &heartbeat()), [done_to_heartbeat()]);

    let lookup_filter_query = ClientRequest::Lookup {
        port: "filter.query".into(),
        kind: "req".into(),
        messages: "SensorQuery#SensorValue".into(),
        scope: WireScope::Local,
    };
    assert_eq!(
        answers(&mut daemon, ESTIMATOR, &request(5, lookup_filter_query)),
        [reply(5, Ok(ReplyBody::Endpoints(vec![])))]
    );
    let provide_sensor_request = ClientRequest::Provide {
        port: "sensor.request".into(),
        kind: "rep".into(),
        messages: "SensorQuery#SensorValue".into(),
        scope: WireScope::Local,
        endpoint: SENSOR_REQUEST.into(),
    };
    assert_eq!(
        answers(&mut daemon, ESTIMATOR, &request(6, provide_sensor_request)),
        [update_of_filter_query(), reply(6, Ok(ReplyBody::Done))],
        "the push comes before the reply to the provide"
    );

    // Another host's Estimator shares its global estimate port; nobody here looks it up.
    assert_eq!(daemon.on_remote_added(service("pub", "Estimate", Reach::Global), REMOTE_ESTIMATE.into()), []);
    // `cohort ls` asks on a connection of its own, with request id 1.
    assert_eq!(answers(&mut daemon, TOOL, &request(1, ClientRequest::List)), [listing()]);

    let mut restarted = Registry::new(RegistryConfig::new(HOST));
    assert_eq!(answers(&mut restarted, ESTIMATOR, &heartbeat()), [unknown_client_to_heartbeat()]);
}

/// The docs say the daemon takes a map's keys in any order and skips keys it does not know.
#[test]
fn issue_14_the_daemon_takes_keys_in_any_order_and_skips_unknown_ones() {
    let text = r#"{"request": "Heartbeat", "trace": ["any", 1], "id": 4, "version": 1}"#;
    assert_eq!(decode_client(&diag_to_cbor(text).unwrap()), Ok(heartbeat()));
}

#[test]
fn diagnostic_notation_gives_the_bytes_of_rfc_8949_appendix_a() {
    let cases = [
        ("0", "00"),
        ("23", "17"),
        ("24", "1818"),
        ("1000", "1903e8"),
        ("1000000", "1a000f4240"),
        ("18446744073709551615", "1bffffffffffffffff"),
        ("-1", "20"),
        ("-1000", "3903e7"),
        ("-18446744073709551616", "3bffffffffffffffff"),
        ("false", "f4"),
        ("true", "f5"),
        ("null", "f6"),
        ("h''", "40"),
        ("h'01020304'", "4401020304"),
        (r#""""#, "60"),
        (r#""a""#, "6161"),
        (r#""\"\\""#, "62225c"),
        (r#""\u00fc""#, "62c3bc"),
        (r#""水""#, "63e6b0b4"),
        ("[]", "80"),
        ("[1, [2, 3], [4, 5]]", "8301820203820405"),
        ("{}", "a0"),
        (r#"{"a": 1, "b": [2, 3]}"#, "a26161016162820203"),
    ];
    for (text, bytes) in cases {
        assert_eq!(diag_to_cbor(text).map(|b| hex(&b)), Ok(bytes.to_owned()), "{text}");
    }
    for bad in ["", "[1,", "{1}", "\"open", "h'0'", "1 2", "01", "-0x1", "nul"] {
        assert!(diag_to_cbor(bad).is_err(), "{bad:?} should be refused");
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// What the daemon sends for `frame` from `client`: the registry's replies and pushes, framed as
/// the daemon frames them (shares with other hosts are not sent to clients).
fn answers(registry: &mut Registry, client: &[u8], frame: &ClientFrame) -> Vec<DaemonFrame> {
    let effects = registry.on_frame(Duration::ZERO, client, &encode(frame));
    effects
        .into_iter()
        .filter_map(|effect| {
            let message = match effect {
                Effect::Reply { to, id, result } if to == client => DaemonMessage::Reply { id, result },
                Effect::Push { to, port, added, removed } if to == client => {
                    DaemonMessage::Update { port, added, removed }
                }
                Effect::Reply { .. } | Effect::Push { .. } => panic!("an effect for another client: {effect:?}"),
                Effect::Share(..) | Effect::Unshare(..) => return None,
            };
            Some(DaemonFrame { version: PROTOCOL_VERSION, message })
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A ```` ```cbor-diag ```` block of the docs, with the ```` ```cbor-hex ```` block after it.
#[derive(Debug)]
struct DocExample {
    /// The 1-based line of the block's opening fence.
    line: usize,
    /// The type in "(`Type`):" at the end of the line before the block.
    type_name: String,
    diag: String,
    hex: Option<String>,
}

fn doc_examples(doc: &str) -> Vec<DocExample> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut examples: Vec<DocExample> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let tag = lines[i].trim().strip_prefix("```").map(str::trim);
        if !matches!(tag, Some("cbor-diag" | "cbor-hex")) {
            i += 1;
            continue;
        }
        let line = i + 1;
        let end = (i + 1..lines.len())
            .find(|&j| lines[j].trim() == "```")
            .unwrap_or_else(|| panic!("docs/discovery.md:{line}: the block is not closed"));
        let body = lines[i + 1..end].join("\n");
        if tag == Some("cbor-diag") {
            let label = lines[..i].iter().rev().find(|l| !l.trim().is_empty()).copied().unwrap_or("");
            let type_name = label
                .trim_end()
                .strip_suffix("`):")
                .and_then(|l| l.rsplit_once("(`"))
                .map(|(_, t)| t.to_owned())
                .unwrap_or_else(|| {
                    panic!("docs/discovery.md:{line}: expected the line before to end with \"(`Type`):\"")
                });
            examples.push(DocExample { line, type_name, diag: body, hex: None });
        } else {
            match examples.last_mut() {
                Some(example) if example.hex.is_none() => example.hex = Some(body),
                _ => panic!("docs/discovery.md:{line}: a cbor-hex block must follow its cbor-diag block"),
            }
        }
        i = end + 1;
    }
    examples
}

/// The CBOR bytes of `text` in diagnostic notation (RFC 8949 §8), for the subset the docs use and
/// a little more: maps, arrays, text strings, integers, byte strings `h'..'`, `true`, `false`
/// and `null`. Lengths are definite and integers take their shortest form, as minicbor writes them.
fn diag_to_cbor(text: &str) -> Result<Vec<u8>, String> {
    let mut parser = Diag { text: text.as_bytes(), at: 0, out: Vec::new() };
    parser.value()?;
    parser.skip_space();
    match parser.text.get(parser.at) {
        None => Ok(parser.out),
        Some(_) => Err(parser.error("expected the end after one value")),
    }
}

struct Diag<'a> {
    text: &'a [u8],
    at: usize,
    out: Vec<u8>,
}

impl Diag<'_> {
    fn error(&self, what: &str) -> String {
        format!("at byte {}: {what}", self.at)
    }

    fn skip_space(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        let found = self.text[self.at..].starts_with(token.as_bytes());
        if found {
            self.at += token.len();
        }
        found
    }

    /// A CBOR head: major type and argument, in the shortest form.
    fn head(&mut self, major: u8, n: u64) {
        let major = major << 5;
        match n {
            0..=23 => self.out.push(major | n as u8),
            24..=0xff => self.out.extend([major | 24, n as u8]),
            0x100..=0xffff => {
                self.out.push(major | 25);
                self.out.extend((n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                self.out.push(major | 26);
                self.out.extend((n as u32).to_be_bytes());
            }
            _ => {
                self.out.push(major | 27);
                self.out.extend(n.to_be_bytes());
            }
        }
    }

    fn value(&mut self) -> Result<(), String> {
        self.skip_space();
        match self.text.get(self.at) {
            Some(b'{') => self.items(b'}', 5),
            Some(b'[') => self.items(b']', 4),
            Some(b'"') => {
                let text = self.text_string()?;
                self.head(3, text.len() as u64);
                self.out.extend(text.as_bytes());
                Ok(())
            }
            Some(b'h') if self.text[self.at..].starts_with(b"h'") => self.byte_string(),
            Some(b'-' | b'0'..=b'9') => self.integer(),
            _ => {
                let simple = [("false", 0xf4), ("true", 0xf5), ("null", 0xf6)].into_iter().find(|(w, _)| self.eat(w));
                let (_, byte) = simple.ok_or_else(|| self.error("expected a value"))?;
                self.out.push(byte);
                Ok(())
            }
        }
    }

    /// A map (`major` 5, entries `key: value`) or an array (`major` 4), up to `close`.
    fn items(&mut self, close: u8, major: u8) -> Result<(), String> {
        self.at += 1;
        let outer = std::mem::take(&mut self.out);
        let mut count = 0;
        let close = char::from(close).to_string();
        if !self.eat(&close) {
            loop {
                self.value()?;
                if major == 5 && !self.eat(":") {
                    return Err(self.error("expected ':' after a map key"));
                }
                if major == 5 {
                    self.value()?;
                }
                count += 1;
                if self.eat(&close) {
                    break;
                }
                if !self.eat(",") {
                    return Err(self.error(&format!("expected ',' or '{close}'")));
                }
            }
        }
        let body = std::mem::replace(&mut self.out, outer);
        self.head(major, count);
        self.out.extend(body);
        Ok(())
    }

    /// A JSON-style string: `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t` and `\uXXXX` escapes.
    fn text_string(&mut self) -> Result<String, String> {
        self.at += 1;
        let mut text = String::new();
        loop {
            let rest = std::str::from_utf8(&self.text[self.at..]).map_err(|e| e.to_string())?;
            let Some(c) = rest.chars().next() else {
                return Err(self.error("the string is not closed"));
            };
            self.at += c.len_utf8();
            match c {
                '"' => return Ok(text),
                '\\' => {
                    let escaped = match self.text.get(self.at) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            let digits =
                                self.text.get(self.at + 1..self.at + 5).and_then(|d| std::str::from_utf8(d).ok());
                            let code = digits.and_then(|d| u32::from_str_radix(d, 16).ok()).and_then(char::from_u32);
                            self.at += 4;
                            code.ok_or_else(|| self.error("expected \\u and four hex digits of a character"))?
                        }
                        _ => return Err(self.error("unknown escape")),
                    };
                    self.at += 1;
                    text.push(escaped);
                }
                c => text.push(c),
            }
        }
    }

    fn byte_string(&mut self) -> Result<(), String> {
        self.at += 2;
        let end = self.text[self.at..]
            .iter()
            .position(|&b| b == b'\'')
            .ok_or_else(|| self.error("the byte string is not closed"))?;
        let digits: Vec<u8> =
            self.text[self.at..self.at + end].iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
        let bytes = std::str::from_utf8(&digits)
            .ok()
            .filter(|d| d.len() % 2 == 0)
            .and_then(|d| {
                (0..d.len()).step_by(2).map(|i| u8::from_str_radix(&d[i..i + 2], 16).ok()).collect::<Option<Vec<u8>>>()
            })
            .ok_or_else(|| self.error("expected pairs of hex digits"))?;
        self.at += end + 1;
        self.head(2, bytes.len() as u64);
        self.out.extend(bytes);
        Ok(())
    }

    fn integer(&mut self) -> Result<(), String> {
        let negative = self.text[self.at] == b'-';
        let start = if negative { self.at + 1 } else { self.at };
        let len = self.text[start..].iter().take_while(|b| b.is_ascii_digit()).count();
        let digits = std::str::from_utf8(&self.text[start..start + len]).map_err(|e| e.to_string())?;
        if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
            return Err(self.error("expected a decimal integer without leading zeros"));
        }
        let n: u128 = digits.parse().map_err(|_| self.error("the integer is too large"))?;
        let (major, argument) = if negative { (1, n.checked_sub(1)) } else { (0, Some(n)) };
        let argument = argument.and_then(|a| u64::try_from(a).ok()).ok_or_else(|| self.error("out of CBOR's range"))?;
        self.at = start + len;
        self.head(major, argument);
        Ok(())
    }
}
