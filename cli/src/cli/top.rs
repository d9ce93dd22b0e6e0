//! `cohort top`: a running app's actors, port rates, groups and warnings in the terminal, read
//! from the monitor its launcher serves (`APP run --metrics ADDR`) at `/api/view` as an
//! [`AppView`]; refreshed until Ctrl-C, or printed once, as text or JSON.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use cohort_monitor::{ActorState, AppView, GroupReport, PortCounters};

use super::{Failure, TopArgs};

/// Where `top` looks by default: the address the docs give `--metrics`.
pub(crate) const DEFAULT_URL: &str = "http://127.0.0.1:9464";

/// The shortest `--interval`, in seconds.
const MIN_INTERVAL_SECONDS: f64 = 0.1;

/// How long one read of the view may take, connecting included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest view read, in bytes.
const MAX_VIEW_BYTES: u64 = 64 * 1024 * 1024;

/// Warnings a frame shows at most: the latest ones.
const WARNINGS_SHOWN: usize = 5;

/// What to ask whoever cannot read the view.
const HINT: &str = "is the app running with --metrics ADDR? (`APP run --metrics 127.0.0.1:9464` serves it at \
                    http://127.0.0.1:9464; give that address with --url)";

/// Shows the app's view: refreshed every interval until Ctrl-C, or once with `--once`.
pub(crate) fn run(args: &TopArgs) -> Result<(), Failure> {
    let monitor = Monitor::new(&args.url);
    let view = match monitor.fetch() {
        Ok(view) => view,
        Err(e) => {
            eprintln!("cohort: error: {e}\nhint: {}", e.hint());
            return Err(Failure::Invalid);
        }
    };
    match (args.once, args.json) {
        (true, true) => {
            let mut text = serde_json::to_string_pretty(&view).context("cannot write JSON")?;
            text.push('\n');
            write_stdout(&text)
        }
        (true, false) => write_stdout(&render(&view, &monitor.url, None)),
        (false, _) => watch(&monitor, view, args.interval),
    }
}

/// Parses `--interval`: seconds, at least [`MIN_INTERVAL_SECONDS`].
pub(crate) fn parse_interval(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text.trim().parse().map_err(|_| format!("expected a number of seconds, found `{text}`"))?;
    // NaN is not at least anything.
    if seconds.is_nan() || seconds < MIN_INTERVAL_SECONDS {
        return Err(format!("expected at least {MIN_INTERVAL_SECONDS} s, found {text}"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text}: {e}"))
}

/// An app's monitor and the client that reads it.
struct Monitor {
    /// The URL of its view, `.../api/view`.
    url: String,
    agent: ureq::Agent,
}

/// Why the view could not be read.
#[derive(Debug)]
struct FetchError {
    /// The URL read.
    url: String,
    /// Why, for a person.
    reason: String,
    /// Whether the monitor answered 404: a discovery daemon's monitor serves `/metrics` only.
    not_found: bool,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read the app's view at {}: {}", self.url, self.reason)
    }
}

impl FetchError {
    /// What to check.
    fn hint(&self) -> &'static str {
        if self.not_found {
            "a discovery daemon's monitor (cohort disco --metrics) serves /metrics only; give --url the \
             address of an app run with --metrics ADDR"
        } else {
            HINT
        }
    }
}

impl Monitor {
    /// The monitor at `base` (`http://HOST:PORT`, or `HOST:PORT` as given to `--metrics`).
    fn new(base: &str) -> Monitor {
        let base = base.trim().trim_end_matches('/');
        let base = if base.contains("://") { base.to_owned() } else { format!("http://{base}") };
        let url = if base.ends_with("/api/view") { base } else { format!("{base}/api/view") };
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(FETCH_TIMEOUT))
            // Statuses are read here, to show what the server said.
            .http_status_as_error(false)
            .build();
        Monitor { url, agent: ureq::Agent::new_with_config(config) }
    }

    /// Reads the view now.
    fn fetch(&self) -> Result<AppView, FetchError> {
        let failed = |reason: String, not_found: bool| FetchError { url: self.url.clone(), reason, not_found };
        if self.url.starts_with("https://") {
            return Err(failed("https is not supported: the monitor serves plain http".to_owned(), false));
        }
        let mut response = self.agent.get(&self.url).call().map_err(|e| failed(client_error(e), false))?;
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_VIEW_BYTES)
            .read_to_vec()
            .map_err(|e| failed(format!("cannot read the answer: {}", client_error(e)), false))?;
        if !status.is_success() {
            let said = String::from_utf8_lossy(&body);
            let said = said.lines().next().unwrap_or("").trim();
            let reason = match said {
                "" => format!("the server answered {status}"),
                said => format!("the server answered {status}: {said}"),
            };
            return Err(failed(reason, status.as_u16() == 404));
        }
        serde_json::from_slice(&body).map_err(|e| failed(format!("the answer is not an app's view: {e}"), false))
    }
}

/// A client error, without ureq's prefix on I/O errors ("io: connection refused").
fn client_error(error: ureq::Error) -> String {
    match error {
        ureq::Error::Io(e) => e.to_string(),
        ureq::Error::HostNotFound => "host not found".to_owned(),
        ureq::Error::Timeout(_) => format!("no answer within {} s", FETCH_TIMEOUT.as_secs()),
        e => e.to_string(),
    }
}

/// Writes `text` to standard output.
fn write_stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).context("cannot write to standard output")?;
    Ok(())
}

/// Redraws the view every `interval` until Ctrl-C (or SIGTERM, SIGHUP). A failed read is shown
/// above the last view read, and tried again at the next interval.
fn watch(monitor: &Monitor, first: AppView, interval: Duration) -> Result<(), Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)).context("cannot install the signal handler")?;
    let mut screen = Screen { terminal: std::io::stdout().is_terminal() };
    screen.begin().context("cannot write to standard output")?;
    let mut view = first;
    let mut trouble: Option<FetchError> = None;
    let shown = loop {
        let mut frame = String::new();
        if let Some(e) = &trouble {
            frame.push_str(&format!(
                "{e}\nthe view below is the last one read; trying again every {}\n\n",
                seconds(interval)
            ));
        }
        frame.push_str(&render(&view, &monitor.url, Some(interval)));
        if let Err(e) = screen.show(&frame) {
            break Err(e);
        }
        let deadline = Instant::now() + interval;
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50).min(deadline.saturating_duration_since(Instant::now())));
        }
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        match monitor.fetch() {
            Ok(v) => (view, trouble) = (v, None),
            Err(e) => trouble = Some(e),
        }
    };
    let ended = screen.end();
    shown.and(ended).context("cannot write to standard output").map_err(Failure::from)
}

/// Standard output, redrawn in place when it is a terminal (ANSI escapes), else written frame
/// after frame.
struct Screen {
    terminal: bool,
}

impl Screen {
    /// Clears the terminal and hides its cursor.
    fn begin(&mut self) -> std::io::Result<()> {
        self.write(if self.terminal { "\x1b[2J\x1b[?25l" } else { "" })
    }

    /// Shows `frame` in place of the last one: from the top left, clearing the rest of each
    /// line and the lines below, so that nothing flickers.
    fn show(&mut self, frame: &str) -> std::io::Result<()> {
        if !self.terminal {
            return self.write(&format!("{frame}\n"));
        }
        let mut text = String::from("\x1b[H");
        for line in frame.lines() {
            text.push_str(line);
            text.push_str("\x1b[K\n");
        }
        text.push_str("\x1b[J");
        self.write(&text)
    }

    /// Shows the cursor again; the last frame stays.
    fn end(&mut self) -> std::io::Result<()> {
        self.write(if self.terminal { "\x1b[?25h" } else { "" })
    }

    fn write(&mut self, text: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|()| out.flush())
    }
}

/// One frame: a header, the actors with their ports, the groups and the latest warnings.
/// `interval` is the refresh interval while watching.
fn render(view: &AppView, url: &str, interval: Option<Duration>) -> String {
    let mut out = format!("{} on {} at {}   {url}", view.app, view.host, utc(view.at_ms));
    if let Some(interval) = interval {
        out.push_str(&format!("   every {}, Ctrl-C to stop", seconds(interval)));
    }
    out.push_str("\n\n");
    render_actors(view, &mut out);
    out.push('\n');
    render_groups(view, &mut out);
    out.push('\n');
    render_warnings(view, &mut out);
    out
}

/// Per actor a line, and under it a line per port of its instances; each kind of line has
/// columns of its own, aligned over the whole frame.
fn render_actors(view: &AppView, out: &mut String) {
    use Align::{Left, Right};
    let mut actors = Table::new(&[
        ("ACTOR", Left),
        ("STATE", Left),
        ("PID", Right),
        ("RESTARTS", Right),
        ("RSS", Right),
        ("CPU%", Right),
    ]);
    let mut ports = Table::new(&[
        ("INSTANCE", Left),
        ("PORT", Left),
        ("KIND", Left),
        ("SENT/s", Right),
        ("RECV/s", Right),
        ("BYTES OUT/s", Right),
        ("BYTES IN/s", Right),
        ("DROPS", Right),
    ]);
    // The port rows of each actor, as a range of `ports`' rows (row 0 is the header).
    let mut ports_of = Vec::new();
    for actor in &view.actors {
        actors.row(vec![
            actor.name.clone(),
            state(actor.state).to_owned(),
            actor.pid.map_or_else(|| "-".to_owned(), |pid| pid.to_string()),
            actor.restarts.to_string(),
            actor.process.map_or_else(|| "-".to_owned(), |p| bytes(p.rss_bytes as f64)),
            if actor.process.is_some() { format!("{:.1}", actor.cpu_rate * 100.0) } else { "-".to_owned() },
        ]);
        let first = ports.rows.len();
        for instance in &actor.instances {
            // A passivated instance (`cohort ctl APP passivate`) is marked.
            let name = if instance.passive { format!("{} (passive)", instance.name) } else { instance.name.clone() };
            for port in &instance.ports {
                ports.row(vec![
                    name.clone(),
                    port.name.clone(),
                    port.kind.keyword().to_owned(),
                    rate(port.rates.sent),
                    rate(port.rates.received),
                    bytes(port.rates.bytes_sent),
                    bytes(port.rates.bytes_received),
                    drops(&port.counters).to_string(),
                ]);
            }
        }
        ports_of.push(first..ports.rows.len());
    }
    if view.actors.is_empty() {
        out.push_str("no actors\n");
        return;
    }
    let actor_lines = actors.lines();
    let port_lines = ports.lines();
    out.push_str(&format!("{}\n  {}\n", actor_lines[0], port_lines[0]));
    for (actor_line, rows) in actor_lines[1..].iter().zip(ports_of) {
        out.push_str(&format!("{actor_line}\n"));
        for line in &port_lines[rows] {
            out.push_str(&format!("  {line}\n"));
        }
    }
}

/// One group instance, merged from what each of its members on this launcher's actors reports.
struct GroupLine<'a> {
    /// The group type.
    group_type: &'a str,
    /// The group instance.
    group: &'a str,
    /// Each member's report, with its actor.
    members: Vec<(&'a str, &'a GroupReport)>,
}

impl GroupLine<'_> {
    /// The leader: the member that holds the lease, else the one the member of the highest term
    /// knows of.
    fn leader(&self) -> Option<&str> {
        match self.members.iter().find(|(_, m)| m.is_leader) {
            Some((_, m)) => Some(&m.member),
            None => self.members.iter().max_by_key(|(_, m)| m.term).and_then(|(_, m)| m.leader.as_deref()),
        }
    }

    /// The highest term a member reports.
    fn term(&self) -> u64 {
        self.members.iter().map(|(_, m)| m.term).max().unwrap_or(0)
    }

    /// How many members the group has: as the leader sees it, else as the member of the highest
    /// term sees it.
    fn member_count(&self) -> usize {
        let leading = self.members.iter().find(|(_, m)| m.is_leader);
        leading.or_else(|| self.members.iter().max_by_key(|(_, m)| m.term)).map_or(0, |(_, m)| m.members.len())
    }

    /// `actor.instance` of the leader, when it is one of these members.
    fn led_by(&self) -> Option<String> {
        let leader = self.leader()?;
        let (actor, member) = self.members.iter().find(|(_, m)| m.member == leader)?;
        Some(format!("{actor}.{}", member.instance))
    }
}

/// The group instances the actors joined, each once, in the order they first appear.
fn group_lines(view: &AppView) -> Vec<GroupLine<'_>> {
    let mut lines: Vec<GroupLine<'_>> = Vec::new();
    for actor in &view.actors {
        for member in actor.groups.iter().map(|g| &g.member) {
            let found = lines.iter_mut().find(|l| l.group_type == member.group_type && l.group == member.group);
            match found {
                Some(line) => line.members.push((&actor.name, member)),
                None => lines.push(GroupLine {
                    group_type: &member.group_type,
                    group: &member.group,
                    members: vec![(&actor.name, member)],
                }),
            }
        }
    }
    lines
}

/// A line per group instance: leader, term, members and the actor that leads it.
fn render_groups(view: &AppView, out: &mut String) {
    use Align::{Left, Right};
    let groups = group_lines(view);
    if groups.is_empty() {
        out.push_str("no groups\n");
        return;
    }
    let mut table =
        Table::new(&[("GROUP", Left), ("LEADER", Left), ("TERM", Right), ("MEMBERS", Right), ("LED BY", Left)]);
    for group in &groups {
        table.row(vec![
            format!("{}/{}", group.group_type, group.group),
            group.leader().map_or_else(|| "none".to_owned(), short_id),
            group.term().to_string(),
            group.member_count().to_string(),
            group.led_by().unwrap_or_else(|| "-".to_owned()),
        ]);
    }
    for line in table.lines() {
        out.push_str(&format!("{line}\n"));
    }
}

/// The latest [`WARNINGS_SHOWN`] warnings, oldest first.
fn render_warnings(view: &AppView, out: &mut String) {
    use Align::Left;
    if view.warnings.is_empty() {
        out.push_str("no warnings\n");
        return;
    }
    let skip = view.warnings.len().saturating_sub(WARNINGS_SHOWN);
    let mut table = Table::new(&[("TIME", Left), ("LEVEL", Left), ("SOURCE", Left), ("WARNING", Left)]);
    for warning in &view.warnings[skip..] {
        let level = match warning.level {
            cohort_monitor::WarningLevel::Warning => "warning",
            cohort_monitor::WarningLevel::Error => "error",
            cohort_monitor::WarningLevel::Critical => "critical",
        };
        let time = utc(warning.at_ms);
        let time = time.get(11..19).unwrap_or(&time).to_owned();
        let text = warning.text.lines().collect::<Vec<_>>().join(" ");
        table.row(vec![time, level.to_owned(), warning.source.clone(), text]);
    }
    for line in table.lines() {
        out.push_str(&format!("{line}\n"));
    }
}

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// Rows of cells printed in columns as wide as their widest cell.
struct Table {
    align: Vec<Align>,
    /// The header, then the rows.
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    fn new(columns: &[(&str, Align)]) -> Table {
        Table {
            align: columns.iter().map(|(_, a)| *a).collect(),
            rows: vec![columns.iter().map(|(title, _)| (*title).to_owned()).collect()],
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The header and each row as a line, columns two spaces apart, without trailing spaces.
    fn lines(&self) -> Vec<String> {
        let mut widths = vec![0; self.align.len()];
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        self.rows
            .iter()
            .map(|row| {
                let cells = row.iter().zip(&widths).zip(&self.align).map(|((cell, &width), align)| match align {
                    Align::Left => format!("{cell:<width$}"),
                    Align::Right => format!("{cell:>width$}"),
                });
                cells.collect::<Vec<_>>().join("  ").trim_end().to_owned()
            })
            .collect()
    }
}

fn state(state: ActorState) -> &'static str {
    match state {
        ActorState::Starting => "starting",
        ActorState::Running => "running",
        ActorState::Restarting => "restarting",
        ActorState::Failed => "failed",
        ActorState::Stopped => "stopped",
    }
}

/// Frames a port dropped, for any reason (request outcomes are not drops).
fn drops(c: &PortCounters) -> u64 {
    c.dropped_malformed
        + c.dropped_foreign_version
        + c.dropped_wrong_type
        + c.dropped_undecodable
        + c.dropped_stale
        + c.dropped_unroutable
}

/// Messages per second: `0`, `2.5`, `1.2k`, `3.4M`.
fn rate(per_second: f64) -> String {
    match per_second {
        r if r <= 0.0 => "0".to_owned(),
        r if r < 1000.0 => format!("{r:.1}"),
        r if r < 1_000_000.0 => format!("{:.1}k", r / 1000.0),
        r => format!("{:.1}M", r / 1_000_000.0),
    }
}

/// A number of bytes: `0 B`, `512 B`, `1.5 KiB`, `7.2 MiB`, `1.0 GiB`.
fn bytes(n: f64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024.0 {
        return format!("{:.0} B", n.max(0.0));
    }
    let mut value = n / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// An interval as `1 s` or `0.5 s`.
fn seconds(interval: Duration) -> String {
    format!("{} s", interval.as_secs_f64())
}

/// A member id short enough for a column: its first 8 characters when it is longer than 12.
fn short_id(id: &str) -> String {
    if id.chars().count() > 12 {
        format!("{}…", id.chars().take(8).collect::<String>())
    } else {
        id.to_owned()
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` of milliseconds since the Unix epoch.
fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, time) = (secs / 86_400, secs % 86_400);
    // Days to a civil date, after Howard Hinnant's `civil_from_days`, for days on or after 1970.
    let z = days + 719_468;
    let (era, day_of_era) = (z / 146_097, z % 146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", time / 3600, time % 3600 / 60, time % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_are_civil_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_700_000_000_123), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(4_107_542_399_000), "2100-02-28 23:59:59 UTC");
    }

    #[test]
    fn numbers_read_at_a_glance() {
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(2.5), "2.5");
        assert_eq!(rate(1500.0), "1.5k");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(7.5 * 1024.0 * 1024.0), "7.5 MiB");
        assert_eq!(short_id("0123456789abcdef"), "01234567…");
    }

    #[test]
    fn interval_must_be_a_positive_number_of_seconds() {
        assert_eq!(parse_interval("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("NaN").is_err());
        assert!(parse_interval("soon").is_err());
    }

    #[test]
    fn a_bare_address_gets_the_view_path() {
        assert_eq!(Monitor::new("127.0.0.1:9464").url, "http://127.0.0.1:9464/api/view");
        assert_eq!(Monitor::new("http://h:1/").url, "http://h:1/api/view");
        assert_eq!(Monitor::new("http://h:1/api/view").url, "http://h:1/api/view");
    }

    #[test]
    fn columns_line_up() {
        let mut table = Table::new(&[("NAME", Align::Left), ("N", Align::Right)]);
        table.row(vec!["a".to_owned(), "100".to_owned()]);
        table.row(vec!["longer".to_owned(), "2".to_owned()]);
        assert_eq!(table.lines(), ["NAME      N", "a       100", "longer    2"]);
    }
}
