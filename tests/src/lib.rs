//! Cohort's multi-process, fault and network tests live in this crate's `tests/` folder and its
//! discovery benchmark in `benches/`; this library holds what they share: hosts made of
//! network namespaces on a bridge, child processes whose output lines are followed, a Redis
//! server for the hosts to share, the timestamps `cohort-probe --stamp` prints, and for the
//! fault tests: app launchers whose JSON log records are followed ([`AppRun`]), signals and
//! process states, seeded randomness ([`Rng`]), free ports and temporary directories; and a plain
//! HTTP GET for the monitors of running apps ([`http`]).

pub mod http;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cohort_discovery::{Daemon, DaemonThread, MemoryBackend, RegistryConfig};
use cohort_groups::sim::SimRng;
use serde_json::Value;

/// The estimator split over two hosts (network namespaces on a bridge, one discovery daemon
/// each, sharing one Redis server): the Estimator on host `host-a`, the Aggregator on `host-b`.
pub const SPLIT_ESTIMATOR_DEPLOYMENT: &str = "app DistributedEstimator {
    on (host-a) Estimator;
    on (host-b) Aggregator(posArg = 12, optArg = \"fromDeployment\");
}
";

/// Skips test `test` that cannot run here, saying why on standard error (`SKIPPED test: why`),
/// unless the environment variable `require` is set: then it fails, as CI wants.
pub fn skip(test: &str, why: &str, require: &str) {
    let line = format!("SKIPPED {test}: {why}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    assert!(std::env::var_os(require).is_none(), "{require} is set: {why}");
}

/// The arguments of `APP run` for an app on this machine alone: `deployment`, discovery at
/// `daemon` (a daemon the launcher starts, which exits 1 s after it), ports on loopback, a JSON
/// log, no CURVE.
pub fn local_run_args<'a>(deployment: &'a str, daemon: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--deployment",
        deployment,
        "--daemon",
        daemon,
        "--daemon-idle",
        "1",
        "--interface",
        "lo",
        "--log-format",
        "json",
        "--insecure",
    ]
}

/// How long a helper waits for something to happen before giving up.
pub const WAIT: Duration = Duration::from_secs(10);

/// The wall-clock time (`CLOCK_REALTIME`) in nanoseconds since the Unix epoch: comparable
/// between the processes of one machine, whatever namespaces they run in.
pub fn unix_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// The timestamp that `cohort-probe --stamp` appends to each line (its last word).
pub fn stamp_of(line: &str) -> Option<u128> {
    line.rsplit(' ').next()?.parse().ok()
}

/// An in-process discovery daemon (memory backend) on a free port of 127.0.0.1, for host
/// `host`, asking its clients to heartbeat every `heartbeat` and dropping one silent for
/// `liveness`. It stops when the returned thread handle is dropped.
pub fn memory_daemon(host: &str, heartbeat: Duration, liveness: Duration) -> Result<DaemonThread, String> {
    let ctx = zmq::Context::new();
    let mut config = RegistryConfig::new(host);
    config.heartbeat_interval = heartbeat;
    config.liveness_timeout = liveness;
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let daemon = Daemon::bind(&ctx, "tcp://127.0.0.1:*", config, Box::new(MemoryBackend), log)
        .map_err(|e| format!("binding a discovery daemon on 127.0.0.1: {e}"))?;
    daemon.spawn(ctx).map_err(|e| format!("starting the discovery daemon's thread: {e}"))
}

/// Whether this process runs as root (and may create network namespaces).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `program` can be run (it is asked for `--version`).
pub fn installed(program: &str) -> bool {
    Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// Why network-namespace hosts cannot be made here, if they cannot: not root, or no `ip`.
pub fn netns_unavailable() -> Option<String> {
    if !is_root() {
        Some("not root, cannot create network namespaces".to_owned())
    } else if !installed("ip") {
        Some("ip not found (apt-get install -y iproute2)".to_owned())
    } else {
        None
    }
}

/// Runs `ip` with `args`; the error says what failed.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Hosts made of network namespaces: `<tag>a`, `<tag>b`, … with 10.<net>.0.1, .2, …, on a bridge
/// at 10.<net>.0.254 in the root namespace. Everything is deleted when dropped.
pub struct Hosts {
    tag: String,
    net: String,
    /// The hosts' letters, in order: `a`, `b`, ….
    names: Vec<String>,
}

impl Hosts {
    /// Creates the bridge and two namespaces, `a` and `b`, named after this process's id.
    pub fn create() -> Result<Hosts, String> {
        Hosts::create_n(2)
    }

    /// Creates the bridge and `n` namespaces (`a`, `b`, `c`, …; at most 26), named after this
    /// process's id.
    pub fn create_n(n: u8) -> Result<Hosts, String> {
        if !(1..=26).contains(&n) {
            return Err(format!("{n} hosts: between 1 and 26 namespaces can be made"));
        }
        let pid = std::process::id();
        let names = (0..n).map(|i| char::from(b'a' + i).to_string()).collect();
        let hosts = Hosts { tag: format!("ch{}", pid % 100_000), net: format!("10.{}", 100 + pid % 150), names };
        let (t, net) = (&hosts.tag, &hosts.net);
        ip(&["link", "add", &format!("{t}br"), "type", "bridge"])?;
        ip(&["addr", "add", &format!("{net}.0.254/24"), "dev", &format!("{t}br")])?;
        ip(&["link", "set", &format!("{t}br"), "up"])?;
        for (i, host) in hosts.names.iter().enumerate() {
            let ns = format!("{t}{host}");
            let (outer, inner) = (format!("{t}{host}o"), format!("{t}{host}i"));
            ip(&["netns", "add", &ns])?;
            ip(&["link", "add", &outer, "type", "veth", "peer", "name", &inner])?;
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["link", "set", &outer, "master", &format!("{t}br")])?;
            ip(&["link", "set", &outer, "up"])?;
            ip(&["netns", "exec", &ns, "ip", "addr", "add", &format!("{net}.0.{}/24", i + 1), "dev", &inner])?;
            ip(&["netns", "exec", &ns, "ip", "link", "set", &inner, "up"])?;
            ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"])?;
        }
        Ok(hosts)
    }

    /// The hosts' letters, in order (`"a"`, `"b"`, …).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The namespace of `host` (`"a"`, `"b"`, …).
    pub fn ns(&self, host: &str) -> String {
        format!("{}{host}", self.tag)
    }

    /// Starts the app launcher `program run` in `host`'s namespace, named `name`: discovery at
    /// `daemon`, its ports bound to the host's interface, JSON log, then the arguments `extra`,
    /// with the environment `env`.
    pub fn launcher(
        &self,
        host: &str,
        name: &str,
        program: &str,
        daemon: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> std::io::Result<AppRun> {
        let ns = self.ns(host);
        let interface = format!("{ns}i");
        let mut args = vec![
            "netns",
            "exec",
            &ns,
            program,
            "run",
            "--daemon",
            daemon,
            "--interface",
            &interface,
            "--log-format",
            "json",
        ];
        args.extend_from_slice(extra);
        AppRun::start(name, "ip", &args, env)
    }

    /// The address of `host` (`"a"` → `10.<net>.0.1`, …; `10.<net>.0.0`, nobody's, for a
    /// host it does not have).
    pub fn address(&self, host: &str) -> String {
        let index = self.names.iter().position(|h| h == host).map_or(0, |i| i + 1);
        format!("{}.0.{index}", self.net)
    }

    /// The first two octets of the hosts' addresses (`10.<net>`).
    pub fn net(&self) -> &str {
        &self.net
    }

    /// The bridge's address in the root namespace, which every host reaches.
    pub fn bridge_address(&self) -> String {
        format!("{}.0.254", self.net)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for host in &self.names {
            let _ = ip(&["netns", "del", &self.ns(host)]);
            let _ = ip(&["link", "del", &format!("{}{host}o", self.tag)]);
        }
        let _ = ip(&["link", "del", &format!("{}br", self.tag)]);
    }
}

/// A child process whose standard output lines arrive on a channel; killed when dropped.
pub struct Proc {
    child: Child,
    lines: Receiver<String>,
    name: String,
}

impl Proc {
    /// Starts `program` with `args`; its standard error is discarded.
    pub fn spawn(name: &str, program: &str, args: &[&str]) -> std::io::Result<Proc> {
        Proc::start(name, program, args, Stdio::inherit())
    }

    /// Starts `program` with `args` and `stdin` as its standard input; its standard output lines
    /// are followed, its standard error is discarded.
    fn start(name: &str, program: &str, args: &[&str], stdin: Stdio) -> std::io::Result<Proc> {
        let mut child =
            Command::new(program).args(args).stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| std::io::Error::other("no standard output"))?;
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Proc { child, lines, name: name.to_owned() })
    }

    /// Starts `program` with `args` in network namespace `ns` (`ip netns exec` runs it in its
    /// own place, so killing this process kills the program).
    pub fn in_ns(name: &str, ns: &str, program: &str, args: &[&str]) -> std::io::Result<Proc> {
        let mut all = vec!["netns", "exec", ns, program];
        all.extend_from_slice(args);
        Proc::spawn(name, "ip", &all)
    }

    /// The name given at the start, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next line starting with `prefix`, skipping others, within `within`.
    pub fn next_line(&self, prefix: &str, within: Duration) -> Result<String, String> {
        let give_up = Instant::now() + within;
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return Ok(line),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("{}: no line starting with {prefix:?} within {within:?}", self.name))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("{}: exited before a line starting with {prefix:?}", self.name))
                }
            }
        }
    }

    /// The next line starting with `prefix`; panics after [`WAIT`].
    pub fn expect(&self, prefix: &str) -> String {
        self.next_line(prefix, WAIT).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts `program` with `args`, like [`Proc::spawn`], with its standard input a pipe that
    /// stays open until [`Proc::end_input`] (or the drop).
    pub fn spawn_with_input(name: &str, program: &str, args: &[&str]) -> std::io::Result<Proc> {
        Proc::start(name, program, args, Stdio::piped())
    }

    /// Closes the process's standard input (if it is a pipe): it reads end of file.
    pub fn end_input(&mut self) {
        drop(self.child.stdin.take());
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap_or(i32::MAX)
    }

    /// Sends `sig` to the process.
    pub fn signal(&self, sig: i32) -> Result<(), String> {
        signal(self.pid(), sig)
    }

    /// The next line, whatever it is, within `within`; `None` when none came (or the process
    /// ended).
    pub fn next_any(&self, within: Duration) -> Option<String> {
        self.lines.recv_timeout(within).ok()
    }

    /// Waits up to `within` for the process to exit; its exit status if it did.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let give_up = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= give_up {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills the process (`SIGKILL`: it cannot say goodbye) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a Redis server answers `PING` at `addr` (`host:port`): with `PONG`, or, when it
/// requires a password, with `NOAUTH`.
pub fn redis_answers(addr: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut buf).is_ok()
        && (&buf == b"+PONG\r\n" || buf.starts_with(b"-NOAUTH"))
}

/// A `redis-server` on a free port of one address, without persistence; killed when dropped.
pub struct RedisServer {
    _proc: Proc,
    addr: String,
}

impl RedisServer {
    /// Starts a server listening on `bind` (an address of the root namespace) and waits until
    /// it answers. Protected mode is off: on a test bridge, clients come from other addresses.
    pub fn start(bind: &str) -> Result<RedisServer, String> {
        RedisServer::start_with(bind, &[])
    }

    /// Like [`RedisServer::start`], with more of `redis-server`'s options (`--requirepass PW`).
    pub fn start_with(bind: &str, extra: &[&str]) -> Result<RedisServer, String> {
        let mut why = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind((bind, 0))
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free port on {bind}: {e}"))?
                .port()
                .to_string();
            let mut args =
                vec!["--port", &port, "--bind", bind, "--protected-mode", "no", "--save", "", "--appendonly", "no"];
            args.extend_from_slice(extra);
            let mut proc =
                Proc::spawn("redis-server", "redis-server", &args).map_err(|e| format!("redis-server: {e}"))?;
            let addr = format!("{bind}:{port}");
            let give_up = Instant::now() + WAIT;
            loop {
                if redis_answers(&addr) {
                    return Ok(RedisServer { _proc: proc, addr });
                }
                if let Ok(Some(status)) = proc.child.try_wait() {
                    // The port was taken meanwhile: try another.
                    why = format!("redis-server on {addr} exited: {status}");
                    break;
                }
                if Instant::now() >= give_up {
                    return Err(format!("redis-server on {addr} did not answer within {WAIT:?}"));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Err(why)
    }

    /// The server's URL, `redis://<bind>:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }
}

/// Sends `sig` to process `pid`; the error says why it could not.
pub fn signal(pid: i32, sig: i32) -> Result<(), String> {
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(format!("kill({pid}, {sig}): {}", std::io::Error::last_os_error()))
    }
}

/// Whether process `pid` has ended: it no longer exists, or it is a zombie that nobody has
/// reaped yet (an orphan whose new parent does not reap, as in some containers).
pub fn exited(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the command, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; another process may take it afterwards).
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

/// A small deterministic random number generator (the simulator's SplitMix64) for fault
/// schedules: a failing run is replayed by giving the seed it printed.
#[derive(Debug, Clone)]
pub struct Rng(SimRng);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(SimRng::new(seed))
    }

    /// A generator seeded from the environment variable `var` if it holds a number, else from the
    /// clock; prints the seed and how to replay it on standard error.
    pub fn from_env(var: &str, test: &str) -> Rng {
        let seed = std::env::var(var)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| u64::try_from(unix_nanos() % u128::from(u64::MAX)).unwrap_or(1));
        let line = format!("{test}: seed {seed} (replay with {var}={seed})\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
        Rng::new(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.below(n)
    }

    /// A duration between `low` and `high`, to the millisecond.
    pub fn between(&mut self, low: Duration, high: Duration) -> Duration {
        let span = u64::try_from(high.saturating_sub(low).as_millis()).unwrap_or(u64::MAX);
        low + Duration::from_millis(self.below(span.saturating_add(1)))
    }

    /// One of `items` (`None` when there are none).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let n = u64::try_from(items.len()).ok()?;
        items.get(usize::try_from(self.below(n)).ok()?)
    }
}

/// A fresh directory under the system's temporary directory, removed with what it holds when
/// dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `<temp>/cohort-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> std::io::Result<TempDir> {
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("cohort-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The key directories of the hosts of a secured app, as docs/security.md has a user set them
/// up: the app's key file is made once (with a new keypair) in `<base>/keys-<first host>` and
/// copied, mode 0600 kept, to `<base>/keys-<host>` of every other host. Each host's discovery
/// daemon makes its own `daemon.key` in its directory. Returns the directories, in `hosts` order.
pub fn host_key_dirs(base: &Path, app: &str, hosts: &[&str]) -> Result<Vec<PathBuf>, String> {
    let dirs: Vec<PathBuf> = hosts.iter().map(|h| base.join(format!("keys-{h}"))).collect();
    let Some(first) = dirs.first() else { return Ok(dirs) };
    let made = first.join(format!("{app}.key"));
    let keys = cohort_ports::AppKeys::generate().map_err(|e| e.to_string())?;
    cohort_ports::KeyFile::for_app(app, keys)
        .and_then(|file| file.write(&made, false))
        .map_err(|e| format!("making {}: {e}", made.display()))?;
    for dir in &dirs[1..] {
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let copy = dir.join(format!("{app}.key"));
        // `std::fs::copy` keeps the permissions, as `scp -p` does.
        std::fs::copy(&made, &copy).map_err(|e| format!("copying the key file to {}: {e}", copy.display()))?;
    }
    Ok(dirs)
}

/// One JSON log record of an app, with when the test read it.
#[derive(Debug, Clone)]
pub struct Record {
    /// When it was read (the monotonic clock of the test).
    pub at: Instant,
    /// The record.
    pub value: Value,
}

impl Record {
    /// The record's message (`msg`).
    pub fn msg(&self) -> &str {
        self.value["msg"].as_str().unwrap_or_default()
    }

    /// A text field (empty when missing).
    pub fn text(&self, key: &str) -> &str {
        self.value[key].as_str().unwrap_or_default()
    }

    /// The actor that logged the record, or that a launcher record is about.
    pub fn actor(&self) -> &str {
        self.text("actor")
    }
}

/// A running app launcher (`APP run ... --log-format json`): its JSON log records, and those of
/// its actors (which share its standard error), arrive in order and are kept. Dropping it stops
/// the app as Ctrl-C would, and kills it if it has not stopped within its 5 s grace.
pub struct AppRun {
    name: String,
    child: Child,
    records: Receiver<Record>,
    seen: Vec<Record>,
    /// Each actor's current process, from the launcher's `actor started` / `actor restarted`.
    pids: BTreeMap<String, i32>,
}

impl AppRun {
    /// Starts `program` with `args` (which should include `--log-format json`) and the
    /// environment variables `env`; its standard output is discarded.
    pub fn start(name: &str, program: &str, args: &[&str], env: &[(&str, &str)]) -> std::io::Result<AppRun> {
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().ok_or_else(|| std::io::Error::other("no standard error"))?;
        let (tx, records) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    if tx.send(Record { at: Instant::now(), value }).is_err() {
                        break;
                    }
                }
            }
        });
        Ok(AppRun { name: name.to_owned(), child, records, seen: Vec::new(), pids: BTreeMap::new() })
    }

    /// The name given at the start, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The launcher's process id.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap_or(i32::MAX)
    }

    /// Every record read so far, in order.
    pub fn records(&self) -> &[Record] {
        &self.seen
    }

    /// Each actor's current process id, as the launcher last logged it.
    pub fn actor_pids(&self) -> &BTreeMap<String, i32> {
        &self.pids
    }

    /// Reads the next record, waiting until `until` at most; keeps it and returns its index.
    pub fn next(&mut self, until: Instant) -> Option<usize> {
        let left = until.saturating_duration_since(Instant::now());
        let record = self.records.recv_timeout(left).ok()?;
        if matches!(record.msg(), "actor started" | "actor restarted") {
            if let Some(pid) = record.value["pid"].as_i64().and_then(|p| i32::try_from(p).ok()) {
                self.pids.insert(record.actor().to_owned(), pid);
            }
        }
        self.seen.push(record);
        Some(self.seen.len() - 1)
    }

    /// Reads records until `found` returns something for one of them (records already read are
    /// not looked at again); returns that and when the record was read. Fails after `within`.
    pub fn wait<T>(
        &mut self,
        what: &str,
        within: Duration,
        found: impl FnMut(&Record) -> Option<T>,
    ) -> Result<(Instant, T), String> {
        self.wait_from(self.seen.len(), what, within, found)
    }

    /// Like [`AppRun::wait`], but looks first at the records already read from index `from` on
    /// (an index into [`AppRun::records`]).
    pub fn wait_from<T>(
        &mut self,
        from: usize,
        what: &str,
        within: Duration,
        mut found: impl FnMut(&Record) -> Option<T>,
    ) -> Result<(Instant, T), String> {
        for r in self.seen.get(from..).unwrap_or_default() {
            if let Some(t) = found(r) {
                return Ok((r.at, t));
            }
        }
        let give_up = Instant::now() + within;
        loop {
            let Some(i) = self.next(give_up) else {
                return Err(format!("{}: not {what} within {within:?}", self.name));
            };
            if let Some(t) = found(&self.seen[i]) {
                return Ok((self.seen[i].at, t));
            }
        }
    }

    /// Reads every record until `until`, handing each to `each`.
    pub fn watch(&mut self, until: Instant, mut each: impl FnMut(&Record)) {
        while let Some(i) = self.next(until) {
            each(&self.seen[i]);
        }
    }

    /// Reads the records waiting now, without waiting for more.
    pub fn drain(&mut self) {
        while self.next(Instant::now()).is_some() {}
    }

    /// Waits up to `within` for the launcher to exit by itself (it is not signalled); its exit
    /// status, if it did. Then reads the records written until its standard error closed (or
    /// 2 s passed).
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let give_up = Instant::now() + within;
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break Some(status);
            }
            if Instant::now() >= give_up {
                break None;
            }
            // Records are read meanwhile, so the pipe never fills.
            self.watch(Instant::now() + Duration::from_millis(20), |_| {});
        };
        self.watch(Instant::now() + Duration::from_secs(2), |_| {});
        status
    }

    /// Kills the launcher with SIGKILL (its actors are not signalled by the test) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the app as Ctrl-C would (SIGTERM to the launcher) and waits up to 6 s for it to
    /// exit; its exit status, if it did. Then reads the records it and its actors wrote until
    /// their standard error closed (or 2 s passed).
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let _ = signal(self.pid(), libc::SIGTERM);
        let give_up = Instant::now() + Duration::from_secs(6);
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break Some(status);
            }
            if Instant::now() >= give_up {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.watch(Instant::now() + Duration::from_secs(2), |_| {});
        status
    }

    /// Stops the app as Ctrl-C would (SIGTERM to the launcher), waiting up to 6 s, then kills it.
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = signal(self.pid(), libc::SIGTERM);
        let give_up = Instant::now() + Duration::from_secs(6);
        while Instant::now() < give_up {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }
}

impl Drop for AppRun {
    fn drop(&mut self) {
        self.stop();
    }
}
