//! The Prometheus metrics of an app ([`encode_app`]), and a small builder of metric families
//! ([`MetricSet`]) that the discovery daemon's `/metrics` uses too.
//!
//! # The format served
//!
//! The text is the Prometheus text exposition format, version 0.0.4: the content type the
//! [`crate::server`] declares, and what `promtool check metrics` accepts. `prometheus-client`
//! writes it, through a [`Collector`] that encodes the families of one scrape, with two
//! differences from what that crate writes by itself, which is OpenMetrics text:
//!
//! - A counter's `# HELP` and `# TYPE` lines name it with its `_total` suffix, as its samples
//!   do. OpenMetrics names the family without the suffix; a 0.0.4 parser (Prometheus's, and
//!   promtool's linter) then sees a family without samples and samples without help or type,
//!   and `promtool check metrics` fails with `cohort_…_total no help text`.
//! - There is no `# EOF` line ([`encode_registry`] rather than `text::encode`): it ends an
//!   OpenMetrics text, and is a mere comment in 0.0.4 (promtool accepts it, and ignores it).
//!
//! Label values are escaped here (`\`, `"` and line breaks): prometheus-client 0.24 writes them
//! as given.
//!
//! # The app's metrics
//!
//! Every series has the labels `app` and `host` (the actor's host), and `actor`:
//!
//! - `cohort_actor_up`, `cohort_actor_restarts_total`, `cohort_actor_start_time_seconds`,
//!   `cohort_actor_resident_memory_bytes`, `cohort_actor_cpu_seconds_total`,
//!   `cohort_actor_threads`, `cohort_actor_limits_total` by `kind` (`cpu`, `mem`, `space`,
//!   `net`);
//! - per port (`instance`, `port`, `kind`): `cohort_port_messages_total` and
//!   `cohort_port_bytes_total` by `direction`, `cohort_port_dropped_total` by `reason` (without
//!   `kind`), and on request ports (`req`, `clt`, `qry`) `cohort_requests_total` by `outcome`;
//! - per handler (`instance`, `port`): `cohort_handler_calls_total`, `…_errors_total`,
//!   `…_panics_total`, `…_deadline_misses_total` and the histogram
//!   `cohort_handler_duration_seconds`;
//! - per group member (`instance`, `group_type`, `group`): `cohort_group_leader`,
//!   `cohort_group_has_leader`, `cohort_group_term`, `cohort_group_members`,
//!   `cohort_group_elections_total`, `cohort_group_votes_total` by `outcome`,
//!   `cohort_group_messages_total` and `cohort_group_bytes_total` by `direction`, and
//!   `cohort_group_refused_total`.
//!
//! `docs/operations.md` has the table of every metric, which a test keeps in step with this.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use cohort_model::ast::PortKind;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode_registry;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelValue, EncodeMetric, LabelValueEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::report::{GroupReport, HandlerReport, Histogram, PortCounters};
use crate::view::{ActorState, ActorView, AppView, InstanceView, PortView};

/// The kind of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A value that only grows (it starts again from 0 when its process restarts); its name
    /// ends in `_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Counts of observations in buckets, with their sum.
    Histogram,
}

impl MetricKind {
    fn metric_type(self) -> MetricType {
        match self {
            MetricKind::Counter => MetricType::Counter,
            MetricKind::Gauge => MetricType::Gauge,
            MetricKind::Histogram => MetricType::Histogram,
        }
    }
}

/// The value of a counter or gauge sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A count.
    Integer(u64),
    /// A measure.
    Float(f64),
}

impl From<u64> for Number {
    fn from(n: u64) -> Number {
        Number::Integer(n)
    }
}

impl From<u32> for Number {
    fn from(n: u32) -> Number {
        Number::Integer(u64::from(n))
    }
}

impl From<usize> for Number {
    fn from(n: usize) -> Number {
        Number::Integer(u64::try_from(n).unwrap_or(u64::MAX))
    }
}

impl From<f64> for Number {
    fn from(x: f64) -> Number {
        Number::Float(x)
    }
}

impl From<bool> for Number {
    /// 1 for true, 0 for false.
    fn from(b: bool) -> Number {
        Number::Integer(u64::from(b))
    }
}

/// A label value, escaped as the text format wants it.
#[derive(Debug, Clone)]
struct LabelValue(String);

impl EncodeLabelValue for LabelValue {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                '\n' => encoder.write_str("\\n")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}

type Labels = Vec<(&'static str, LabelValue)>;

#[derive(Debug, Clone)]
enum Value {
    Number(Number),
    /// Per-bucket (not cumulative) counts by upper bound, the last bound `f64::MAX` (`+Inf`),
    /// as `encode_histogram` wants them.
    Histogram {
        sum: f64,
        count: u64,
        buckets: Vec<(f64, u64)>,
    },
}

#[derive(Debug, Clone)]
struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricKind,
    samples: Vec<(Labels, Value)>,
}

impl Family {
    /// The name prometheus-client is given: a counter's without `_total`, which it appends to
    /// the samples.
    fn descriptor_name(&self) -> &'static str {
        match self.kind {
            MetricKind::Counter => self.name.strip_suffix("_total").unwrap_or(self.name),
            MetricKind::Gauge | MetricKind::Histogram => self.name,
        }
    }
}

/// The metric families of one scrape, each with its samples, in the order the families were
/// first added; encoded with [`MetricSet::encode`].
///
/// ```
/// use cohort_monitor::prometheus::MetricSet;
///
/// let mut metrics = MetricSet::new();
/// metrics.counter("cohort_discovery_pushes_total", "Updates pushed to consumers.", &[("host", "node-1")], 3u64);
/// let text = metrics.encode();
/// assert!(text.starts_with("# HELP cohort_discovery_pushes_total Updates pushed to consumers.\n"));
/// assert!(text.contains("\ncohort_discovery_pushes_total{host=\"node-1\"} 3\n"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct MetricSet {
    families: Vec<Family>,
}

impl MetricSet {
    /// An empty set.
    pub fn new() -> MetricSet {
        MetricSet::default()
    }

    fn family(&mut self, name: &'static str, help: &'static str, kind: MetricKind) -> &mut Family {
        debug_assert!(is_metric_name(name), "not a metric name: {name}");
        debug_assert!(kind != MetricKind::Counter || name.ends_with("_total"), "a counter without _total: {name}");
        let at = match self.families.iter().position(|f| f.name == name) {
            Some(at) => at,
            None => {
                self.families.push(Family { name, help, kind, samples: Vec::new() });
                self.families.len() - 1
            }
        };
        let family = &mut self.families[at];
        debug_assert!(family.kind == kind, "{name} is a {:?}, not a {kind:?}", family.kind);
        family
    }

    fn add(
        &mut self,
        name: &'static str,
        help: &'static str,
        kind: MetricKind,
        labels: &[(&'static str, &str)],
        value: Value,
    ) {
        let labels: Labels = labels.iter().map(|(k, v)| (*k, LabelValue((*v).to_owned()))).collect();
        let family = self.family(name, help, kind);
        debug_assert!(
            family.samples.is_empty() || !labels.is_empty() && !family.samples[0].0.is_empty(),
            "{name}: a series without labels must be its family's only one"
        );
        family.samples.push((labels, value));
    }

    /// Adds a sample of counter `name` (which ends in `_total`) with `help` (the family's first
    /// help counts) and `labels`.
    pub fn counter(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        value: impl Into<Number>,
    ) {
        self.add(name, help, MetricKind::Counter, labels, Value::Number(value.into()));
    }

    /// Adds a sample of gauge `name`; see [`MetricSet::counter`].
    pub fn gauge(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        value: impl Into<Number>,
    ) {
        self.add(name, help, MetricKind::Gauge, labels, Value::Number(value.into()));
    }

    /// Adds a sample of histogram `name` (buckets [`crate::LATENCY_BOUNDS_SECONDS`]); see
    /// [`MetricSet::counter`].
    pub fn histogram(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        histogram: &Histogram,
    ) {
        // prometheus-client adds the buckets up itself and names `f64::MAX` `+Inf`.
        let mut before = 0;
        let mut buckets = Vec::new();
        for (bound, cumulative) in histogram.cumulative() {
            let bound = if bound.is_infinite() { f64::MAX } else { bound };
            buckets.push((bound, cumulative - before));
            before = cumulative;
        }
        let value = Value::Histogram { sum: histogram.sum_seconds, count: before, buckets };
        self.add(name, help, MetricKind::Histogram, labels, value);
    }

    /// The names of the families, with their kinds, in order.
    pub fn families(&self) -> Vec<(&'static str, MetricKind)> {
        self.families.iter().map(|f| (f.name, f.kind)).collect()
    }

    /// The families in the Prometheus text format 0.0.4 (see the [module docs](self)). A family
    /// without samples is left out.
    pub fn encode(self) -> String {
        let counters: BTreeSet<&'static str> =
            self.families.iter().filter(|f| f.kind == MetricKind::Counter).map(Family::descriptor_name).collect();
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Families(self.families)));
        let mut text = String::new();
        if encode_registry(&mut text, &registry).is_err() {
            // Not expected: a String takes every write, and every value here is one that
            // prometheus-client encodes. Keep the whole lines written.
            text.truncate(text.rfind('\n').map_or(0, |i| i + 1));
        }
        name_counters_with_total(&text, &counters)
    }
}

/// Whether `name` is a valid metric name.
fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `text` with the `# HELP` and `# TYPE` lines of the `counters` (named without `_total`)
/// naming them with `_total`, as their samples.
fn name_counters_with_total(text: &str, counters: &BTreeSet<&str>) -> String {
    let mut out = String::with_capacity(text.len() + 16 * counters.len());
    for line in text.split_inclusive('\n') {
        let renamed = ["# HELP ", "# TYPE "].into_iter().find_map(|prefix| {
            let (name, rest) = line.strip_prefix(prefix)?.split_once(' ')?;
            counters.contains(name).then(|| format!("{prefix}{name}_total {rest}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
    }
    out
}

/// The families of one scrape, for prometheus-client.
#[derive(Debug)]
struct Families(Vec<Family>);

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        for family in self.0.iter().filter(|f| !f.samples.is_empty()) {
            let mut metric =
                encoder.encode_descriptor(family.descriptor_name(), family.help, None, family.kind.metric_type())?;
            for (labels, value) in &family.samples {
                if labels.is_empty() {
                    // A series without labels is its family's only one (else `{}` would be
                    // written).
                    encode_value(family.kind, value, metric)?;
                    break;
                }
                encode_value(family.kind, value, metric.encode_family(labels)?)?;
            }
        }
        Ok(())
    }
}

fn encode_value(kind: MetricKind, value: &Value, sample: MetricEncoder<'_>) -> std::fmt::Result {
    match (kind, value) {
        (MetricKind::Counter, Value::Number(Number::Integer(n))) => ConstCounter::new(*n).encode(sample),
        (MetricKind::Counter, Value::Number(Number::Float(x))) => ConstCounter::new(*x).encode(sample),
        (_, Value::Number(Number::Integer(n))) => ConstGauge::new(i64::try_from(*n).unwrap_or(i64::MAX)).encode(sample),
        (_, Value::Number(Number::Float(x))) => ConstGauge::new(*x).encode(sample),
        (_, Value::Histogram { sum, count, buckets }) => {
            ConstHistogram { sum: *sum, count: *count, buckets }.encode(sample)
        }
    }
}

/// A histogram's values at one moment.
#[derive(Debug)]
struct ConstHistogram<'a> {
    sum: f64,
    count: u64,
    buckets: &'a [(f64, u64)],
}

impl EncodeMetric for ConstHistogram<'_> {
    fn encode(&self, mut encoder: MetricEncoder) -> std::fmt::Result {
        encoder.encode_histogram::<NoLabelSet>(self.sum, self.count, self.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// The `/metrics` text of an app: its actors, ports, handlers and groups, as the launcher last
/// saw them (see the [module docs](self)).
///
/// Only the actors of the view's own host are encoded: a view may also show the actors of the
/// app's launchers on other hosts, and those serve their own metrics, so a Prometheus that
/// scrapes every launcher sees each actor once.
pub fn encode_app(view: &AppView) -> String {
    app_metrics(view).encode()
}

/// The metric families of an app, before encoding (see [`encode_app`]).
pub fn app_metrics(view: &AppView) -> MetricSet {
    let mut set = MetricSet::new();
    let local: Vec<&ActorView> = view.actors.iter().filter(|a| a.host == view.host).collect();
    // Family by family, so that the text reads actors, then ports, handlers and groups.
    for actor in &local {
        add_actor(&mut set, &view.app, actor);
    }
    for actor in &local {
        for instance in &actor.instances {
            for port in &instance.ports {
                add_port(&mut set, &Where::new(&view.app, actor, instance), port);
            }
        }
    }
    for actor in &local {
        for instance in &actor.instances {
            for handler in &instance.handlers {
                add_handler(&mut set, &Where::new(&view.app, actor, instance), handler);
            }
        }
    }
    for actor in &local {
        for group in &actor.groups {
            add_group(&mut set, &view.app, actor, &group.member);
        }
    }
    set
}

/// An instance of an actor of an app.
struct Where<'a> {
    app: &'a str,
    host: &'a str,
    actor: &'a str,
    instance: &'a str,
}

impl<'a> Where<'a> {
    fn new(app: &'a str, actor: &'a ActorView, instance: &'a InstanceView) -> Where<'a> {
        Where { app, host: &actor.host, actor: &actor.name, instance: &instance.name }
    }
}

fn add_actor(set: &mut MetricSet, app: &str, actor: &ActorView) {
    let labels = [("app", app), ("host", actor.host.as_str()), ("actor", actor.name.as_str())];
    set.gauge(
        "cohort_actor_up",
        "Whether the actor's process runs and reports (1) or not (0: starting, restarting, failed or stopped).",
        &labels,
        actor.state == ActorState::Running,
    );
    set.counter("cohort_actor_restarts_total", "Times the launcher restarted the actor.", &labels, actor.restarts);
    if let Some(started_ms) = actor.started_ms {
        set.gauge(
            "cohort_actor_start_time_seconds",
            "When the actor's current process started, in seconds since the Unix epoch.",
            &labels,
            started_ms as f64 / 1000.0,
        );
    }
    if let Some(process) = &actor.process {
        set.gauge(
            "cohort_actor_resident_memory_bytes",
            "Resident memory of the actor's process, in bytes.",
            &labels,
            process.rss_bytes,
        );
        set.counter(
            "cohort_actor_cpu_seconds_total",
            "CPU time, user and system, the actor's process used, in seconds.",
            &labels,
            process.cpu_seconds,
        );
        set.gauge("cohort_actor_threads", "Threads of the actor's process.", &labels, process.threads);
        for (kind, count) in process.limits.by_kind() {
            set.counter(
                "cohort_actor_limits_total",
                "Times the actor's process told its components it was over a part of its budget (on_limit), by kind.",
                &with(&labels, &[("kind", kind)]),
                count,
            );
        }
    }
}

fn add_port(set: &mut MetricSet, at: &Where<'_>, port: &PortView) {
    let kind = port.kind.keyword();
    let base = [
        ("app", at.app),
        ("host", at.host),
        ("actor", at.actor),
        ("instance", at.instance),
        ("port", port.name.as_str()),
    ];
    let c: &PortCounters = &port.counters;
    for (direction, messages, bytes) in [("sent", c.sent, c.bytes_sent), ("received", c.received, c.bytes_received)] {
        let labels = with(&base, &[("kind", kind), ("direction", direction)]);
        set.counter(
            "cohort_port_messages_total",
            "Messages a port sent or received (a request port receives its replies).",
            &labels,
            messages,
        );
        set.counter(
            "cohort_port_bytes_total",
            "Bytes of the messages a port sent or received (Cohort's frames: header and payload).",
            &labels,
            bytes,
        );
    }
    for (reason, n) in [
        ("malformed", c.dropped_malformed),
        ("foreign_version", c.dropped_foreign_version),
        ("wrong_type", c.dropped_wrong_type),
        ("undecodable", c.dropped_undecodable),
        ("stale", c.dropped_stale),
        ("unroutable", c.dropped_unroutable),
    ] {
        set.counter(
            "cohort_port_dropped_total",
            "Frames a port dropped, by reason: malformed, foreign_version, wrong_type, undecodable, stale \
             (a reply to a request that had ended) or unroutable (a reply to a requester that is gone).",
            &with(&base, &[("reason", reason)]),
            n,
        );
    }
    if matches!(port.kind, PortKind::Req | PortKind::Clt | PortKind::Qry) {
        for (outcome, n) in [("reply", c.received), ("timed_out", c.timed_out), ("provider_gone", c.provider_gone)] {
            set.counter(
                "cohort_requests_total",
                "Requests of a request port (req, clt, qry) that ended, by outcome: reply, timed_out or provider_gone.",
                &with(&base, &[("kind", kind), ("outcome", outcome)]),
                n,
            );
        }
    }
}

fn add_handler(set: &mut MetricSet, at: &Where<'_>, handler: &HandlerReport) {
    let labels =
        [("app", at.app), ("host", at.host), ("actor", at.actor), ("instance", at.instance), ("port", &handler.port)];
    set.counter("cohort_handler_calls_total", "Calls of a port's or timer's handler.", &labels, handler.calls);
    set.counter("cohort_handler_errors_total", "Handler calls that returned an error.", &labels, handler.errors);
    set.counter("cohort_handler_panics_total", "Handler calls that panicked.", &labels, handler.panics);
    set.counter(
        "cohort_handler_deadline_misses_total",
        "Handler calls that took longer than the port's deadline (`within`).",
        &labels,
        handler.deadline_misses,
    );
    set.histogram(
        "cohort_handler_duration_seconds",
        "How long handler calls took, in seconds.",
        &labels,
        &handler.latency,
    );
}

fn add_group(set: &mut MetricSet, app: &str, actor: &ActorView, group: &GroupReport) {
    let labels = [
        ("app", app),
        ("host", actor.host.as_str()),
        ("actor", actor.name.as_str()),
        ("instance", group.instance.as_str()),
        ("group_type", group.group_type.as_str()),
        ("group", group.group.as_str()),
    ];
    set.gauge(
        "cohort_group_leader",
        "Whether this member leads its group now, holding the leader's lease (1) or not (0).",
        &labels,
        group.is_leader,
    );
    set.gauge(
        "cohort_group_has_leader",
        "Whether this member knows a leader of its group (1) or not (0).",
        &labels,
        group.leader.is_some(),
    );
    set.gauge("cohort_group_term", "The member's election term.", &labels, group.term);
    set.gauge(
        "cohort_group_members",
        "Members of the group this member knows of, itself included.",
        &labels,
        group.members.len(),
    );
    set.counter("cohort_group_elections_total", "Leaders elected that this member saw.", &labels, group.elections);
    let v = group.votes;
    for (outcome, n) in [("passed", v.passed), ("failed", v.failed), ("timed_out", v.timed_out), ("lost", v.lost)] {
        set.counter(
            "cohort_group_votes_total",
            "Votes this member saw end, by outcome: passed, failed, timed_out or lost (the leader went away).",
            &with(&labels, &[("outcome", outcome)]),
            n,
        );
    }
    let t = group.traffic;
    for (direction, messages, bytes) in [("sent", t.sent, t.bytes_sent), ("received", t.received, t.bytes_received)] {
        let labels = with(&labels, &[("direction", direction)]);
        set.counter(
            "cohort_group_messages_total",
            "Messages a group member's sockets sent or received: group messages, heartbeats, elections and votes.",
            &labels,
            messages,
        );
        set.counter("cohort_group_bytes_total", "Bytes a group member's sockets sent or received.", &labels, bytes);
    }
    set.counter(
        "cohort_group_refused_total",
        "Frames a group member's sockets refused: malformed, of another version or of another type.",
        &labels,
        group.refused,
    );
}

/// `base` followed by `more`.
fn with<'a>(base: &[(&'static str, &'a str)], more: &[(&'static str, &'a str)]) -> Vec<(&'static str, &'a str)> {
    base.iter().chain(more).copied().collect()
}
