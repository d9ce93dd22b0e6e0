//! Cohort's multi-process, fault and network tests live in this crate's `tests/` folder and its
//! discovery benchmark in `benches/`; this library holds what they share: hosts made of
//! network namespaces on a bridge, child processes whose output lines are followed, a Redis
//! server for the hosts to share, and the timestamps `cohort-probe --stamp` prints.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// Two hosts: namespaces `<tag>a`, `<tag>b` with 10.<net>.0.1 and .2, on a bridge at
/// 10.<net>.0.254 in the root namespace. Everything is deleted when dropped.
pub struct Hosts {
    tag: String,
    net: String,
}

impl Hosts {
    /// Creates the bridge and both namespaces, named after this process's id.
    pub fn create() -> Result<Hosts, String> {
        let pid = std::process::id();
        let hosts = Hosts { tag: format!("ch{}", pid % 100_000), net: format!("10.{}", 100 + pid % 150) };
        let (t, net) = (&hosts.tag, &hosts.net);
        ip(&["link", "add", &format!("{t}br"), "type", "bridge"])?;
        ip(&["addr", "add", &format!("{net}.0.254/24"), "dev", &format!("{t}br")])?;
        ip(&["link", "set", &format!("{t}br"), "up"])?;
        for (i, host) in ["a", "b"].iter().enumerate() {
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

    /// The namespace of `host` (`"a"` or `"b"`).
    pub fn ns(&self, host: &str) -> String {
        format!("{}{host}", self.tag)
    }

    /// The first two octets of the hosts' addresses (`10.<net>`).
    pub fn net(&self) -> &str {
        &self.net
    }

    /// The bridge's address in the root namespace, which both hosts reach.
    pub fn bridge_address(&self) -> String {
        format!("{}.0.254", self.net)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for host in ["a", "b"] {
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
        let mut child = Command::new(program).args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
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

/// Whether a Redis server answers `PING` at `addr` (`host:port`).
pub fn redis_answers(addr: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
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
        let mut why = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind((bind, 0))
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free port on {bind}: {e}"))?
                .port()
                .to_string();
            let args = ["--port", &port, "--bind", bind, "--protected-mode", "no", "--save", "", "--appendonly", "no"];
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
