//! `cohort disco --registry redis` against a real `redis-server` that requires a password and
//! speaks TLS only, with a throwaway CA and server certificate made by `openssl` (issue 15):
//! with the right password and CA the daemon serves and shares what is registered; a wrong or
//! missing password, an untrusted certificate and a password in the URL stop it with exit
//! status 2 before anything is written to Redis; the password file must be private.
//!
//! Without `redis-server` or `openssl` on the PATH the tests that need them print `SKIPPED`
//! and pass, unless `COHORT_REQUIRE_REDIS` is set (as in CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cohort_discovery::{ClientConfig, DiscoveryClient};
use cohort_ports::{Endpoint, PortKind, Scope};

/// How long anything may take before a test gives up.
const WAIT: Duration = Duration::from_secs(10);
/// The password of the server's `default` user, which the tests' own checks log in with.
const ADMIN_PASSWORD: &str = "admin-Pa55";
/// The ACL user the daemon logs in as, its password and rights: the ones docs/discovery.md
/// gives for the default prefix `cohort/1`.
const USER: &str = "cohort";
const USER_PASSWORD: &str = "cohort-Pa55";
const USER_RIGHTS: &[&str] = &[
    "~cohort/1/*",
    "&__keyspace@0__:cohort/1/p/*",
    "+ping",
    "+get",
    "+mget",
    "+set",
    "+del",
    "+scan",
    "+psubscribe",
    "+punsubscribe",
    "+config|get",
    "+config|set",
];
/// Where `cohort disco` reads the password from, besides a file.
const PASSWORD_ENV: &str = "COHORT_REDIS_PASSWORD";

/// Whether `program` can be run (it is asked for its version with `arg`).
fn installed(program: &str, arg: &str) -> bool {
    Command::new(program).arg(arg).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// Why the tests needing a TLS Redis server cannot run here, if they cannot.
fn missing_tools() -> Option<&'static str> {
    if !installed("redis-server", "--version") {
        Some("redis-server not found (apt-get install -y redis-server)")
    } else if !installed("openssl", "version") {
        Some("openssl not found (apt-get install -y openssl)")
    } else {
        None
    }
}

/// A TLS Redis server with its certificates, or a visible skip (a failure with
/// `COHORT_REQUIRE_REDIS` set).
macro_rules! server_or_skip {
    ($test:expr) => {
        match missing_tools() {
            None => TlsRedis::start($test),
            Some(why) => {
                if std::env::var_os("COHORT_REQUIRE_REDIS").is_some() {
                    panic!("{}: {why} and COHORT_REQUIRE_REDIS is set", $test);
                }
                // Written past the test harness's capture, so that the skip is seen.
                let _ = writeln!(std::io::stderr(), "SKIPPED {}: {why}", $test);
                return;
            }
        }
    };
}

/// A directory of its own under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("cohort-redis-tls-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// Writes `text` to the file `name` with permissions `mode`; its path.
    fn write(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `openssl` with `args` in `dir`; panics with its output when it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

/// Makes, in `dir`: a CA (`ca.crt`), a server key and certificate for 127.0.0.1 signed by it
/// (`server.key`, `server.crt`), and a second CA that signed nothing (`other-ca.crt`).
fn make_certificates(dir: &Path) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let ca_ext = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"];
    for (name, subject) in [("ca", "/CN=Cohort test CA"), ("other-ca", "/CN=Another test CA")] {
        let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", subject, "-keyout", &key, "-out", &crt];
        args.extend(ec);
        args.extend(ca_ext);
        openssl(dir, &args);
    }
    let mut args = vec!["req", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr"];
    args.extend(ec);
    openssl(dir, &args);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ],
    );
}

/// A `redis-server` on a free port of 127.0.0.1 that speaks TLS only and requires a password
/// (the `default` user's is [`ADMIN_PASSWORD`]; the ACL user [`USER`] has [`USER_RIGHTS`]),
/// with its certificates in `dir`; killed when dropped, before its directory is removed.
struct TlsRedis {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl TlsRedis {
    fn start(test: &str) -> TlsRedis {
        let dir = TempDir::new(test);
        make_certificates(&dir.0);
        let log = dir.0.join("redis.log");
        let user_password = format!(">{USER_PASSWORD}");
        let mut user = vec![USER, "on", &user_password];
        user.extend(USER_RIGHTS);
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut child = Command::new("redis-server")
                .args(["--port", "0", "--tls-port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--tls-cert-file", "server.crt", "--tls-key-file", "server.key"])
                .args(["--tls-ca-cert-file", "ca.crt", "--tls-auth-clients", "no"])
                .args(["--requirepass", ADMIN_PASSWORD, "--save", "", "--appendonly", "no"])
                .arg("--logfile")
                .arg(&log)
                .arg("--user")
                .args(&user)
                .current_dir(&dir.0)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let give_up = Instant::now() + WAIT;
            loop {
                if admin_connection(&dir.0, port).is_some() {
                    return TlsRedis { child, port, dir };
                }
                if child.try_wait().unwrap().is_some() {
                    // The port was taken meanwhile (or the settings were refused: see the log).
                    break;
                }
                assert!(Instant::now() < give_up, "redis-server did not answer within {WAIT:?}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        panic!(
            "redis-server did not start on any of five free ports; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// The server's URL, without credentials.
    fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}/", self.port)
    }

    /// A file of the server's directory.
    fn file(&self, name: &str) -> String {
        self.dir.0.join(name).display().to_string()
    }

    /// A connection of the `default` user, trusting the test CA.
    fn admin(&self) -> redis::Connection {
        admin_connection(&self.dir.0, self.port).expect("the server stopped answering")
    }

    /// The keys of the server that match `pattern`.
    fn keys(&self, pattern: &str) -> Vec<String> {
        redis::cmd("KEYS").arg(pattern).query(&mut self.admin()).unwrap()
    }

    /// The server's `notify-keyspace-events` flags.
    fn notify_flags(&self) -> String {
        let pair: Vec<String> =
            redis::cmd("CONFIG").arg("GET").arg("notify-keyspace-events").query(&mut self.admin()).unwrap();
        pair.into_iter().nth(1).unwrap_or_default()
    }

    /// Checks that no daemon wrote anything: no key at all, notifications never turned on.
    fn assert_untouched(&self) {
        assert_eq!(self.keys("*"), Vec::<String>::new(), "a refused daemon wrote to Redis");
        assert_eq!(self.notify_flags(), "", "a refused daemon configured Redis");
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection to the server on `port` as its `default` user, trusting the CA in `dir`;
/// `None` when it does not answer.
fn admin_connection(dir: &Path, port: u16) -> Option<redis::Connection> {
    // The redis crate's TLS uses the process's rustls provider, as `cohort disco` does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = std::fs::read(dir.join("ca.crt")).unwrap();
    let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(ca) };
    // In a URL: fine for a test's throwaway password, which `cohort disco` would refuse.
    let url = format!("rediss://:{ADMIN_PASSWORD}@127.0.0.1:{port}/");
    let client = redis::Client::build_with_tls(url, certificates).unwrap();
    let mut conn = client.get_connection_with_timeout(Duration::from_millis(500)).ok()?;
    redis::cmd("PING").query::<String>(&mut conn).ok()?;
    Some(conn)
}

/// A `cohort disco --registry redis` process serving at a free port (without CURVE: the test's
/// client is plain), its log (JSON) on a pipe; killed when dropped.
struct Disco {
    child: Child,
    endpoint: String,
}

impl Disco {
    /// Starts the daemon with `url`, the arguments `extra` and the environment `env` (the
    /// test's own `COHORT_REDIS_PASSWORD` is never passed on).
    fn start(url: &str, extra: &[&str], env: &[(&str, &str)]) -> Disco {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let endpoint = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_cohort"))
            .args(["disco", "--insecure", "--endpoint", &endpoint, "--host", "tls-host", "--log-json"])
            .args(["--registry", "redis", "--redis-url", url])
            .args(extra)
            .env_remove(PASSWORD_ENV)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Disco { child, endpoint }
    }

    /// Waits for the daemon to exit; its exit code and standard error.
    fn exit(mut self) -> (Option<i32>, String) {
        let give_up = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < give_up, "cohort disco still runs after {WAIT:?}");
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err).unwrap();
        (status.code(), err)
    }
}

impl Drop for Disco {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a daemon that must refuse to start: exit status 2 without having served; its
/// standard error, which must not hold `secret`.
fn refused(url: &str, extra: &[&str], env: &[(&str, &str)], secret: &str) -> String {
    let (code, err) = Disco::start(url, extra, env).exit();
    assert_eq!(code, Some(2), "{err}");
    assert!(!err.contains("discovery daemon listening"), "it served before exiting: {err}");
    assert!(!err.contains(secret), "the password shows in the output: {err}");
    err
}

/// Polls `probe` until it gives a value, for at most [`WAIT`]; `what` is for the failure.
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let give_up = Instant::now() + WAIT;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < give_up, "no {what} within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn issue_15_the_right_password_and_ca_let_the_daemon_share_over_tls() {
    let server = server_or_skip!("issue_15_the_right_password_and_ca_let_the_daemon_share_over_tls");
    let password = server.dir.write("redis.password", &format!("{USER_PASSWORD}\n"), 0o600);
    let password = password.display().to_string();
    let ca = server.file("ca.crt");
    let extra = ["--redis-user", USER, "--redis-password-file", &password, "--redis-ca", &ca];
    let disco = Disco::start(&server.url(), &extra, &[]);

    let ctx = zmq::Context::new();
    let mut config = ClientConfig::new("Weather", "Station");
    config.daemon = disco.endpoint.clone();
    config.request_timeout = WAIT;
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let mut client = DiscoveryClient::connect(&ctx, config, log).unwrap();
    let endpoint = Endpoint::parse("tcp://10.0.0.7:4100").unwrap();
    client.provide("sensor.out", PortKind::Pub, "Reading", Scope::Global, &endpoint).unwrap();

    let key = wait_for("provider key in Redis", || server.keys("cohort/1/p/*").into_iter().next());
    assert!(key.starts_with("cohort/1/p/tls-host/Weather/"), "{key}");
    let value: String = redis::cmd("GET").arg(&key).query(&mut server.admin()).unwrap();
    assert!(value.contains("tcp://10.0.0.7:4100"), "{value}");
    // The ACL user may follow the notifications it turned on (docs/discovery.md's rights).
    let flags = server.notify_flags();
    assert!("Kg$xe".chars().all(|flag| flags.contains(flag)), "{flags}");
    wait_for("subscription of the daemon", || {
        let patterns: i64 = redis::cmd("PUBSUB").arg("NUMPAT").query(&mut server.admin()).unwrap();
        (patterns > 0).then_some(())
    });
    drop(client);
}

#[test]
fn issue_15_a_wrong_password_is_refused_before_anything_is_written() {
    let server = server_or_skip!("issue_15_a_wrong_password_is_refused_before_anything_is_written");
    let ca = server.file("ca.crt");
    let secret = "not-the-Pa55word";
    let err = refused(&server.url(), &["--redis-ca", &ca], &[(PASSWORD_ENV, secret)], secret);
    assert!(
        err.contains(&format!("Redis at {}: authentication failed: wrong password or user", server.url())),
        "{err}"
    );
    assert!(err.contains("the password came from COHORT_REDIS_PASSWORD"), "{err}");
    // The ACL user, with a password file holding another user's password.
    let file = server.dir.write("wrong.password", &format!("{ADMIN_PASSWORD}\n"), 0o600).display().to_string();
    let err = refused(
        &server.url(),
        &["--redis-ca", &ca, "--redis-user", USER, "--redis-password-file", &file],
        &[],
        ADMIN_PASSWORD,
    );
    assert!(err.contains("authentication failed: wrong password or user"), "{err}");
    assert!(err.contains(&format!("the user was \"{USER}\", the password came from the file {file}")), "{err}");
    server.assert_untouched();
}

#[test]
fn issue_15_a_missing_password_is_refused_before_anything_is_written() {
    let server = server_or_skip!("issue_15_a_missing_password_is_refused_before_anything_is_written");
    let err = refused(&server.url(), &["--redis-ca", &server.file("ca.crt")], &[(PASSWORD_ENV, "")], ADMIN_PASSWORD);
    assert!(err.contains(&format!("Redis at {}: the server requires a password", server.url())), "{err}");
    assert!(err.contains("--redis-password-file FILE or COHORT_REDIS_PASSWORD"), "{err}");
    server.assert_untouched();
}

#[test]
fn issue_15_an_untrusted_certificate_is_refused_before_anything_is_written() {
    let server = server_or_skip!("issue_15_an_untrusted_certificate_is_refused_before_anything_is_written");
    let env = [(PASSWORD_ENV, ADMIN_PASSWORD)];
    let other = server.file("other-ca.crt");
    let err = refused(&server.url(), &["--redis-ca", &other], &env, ADMIN_PASSWORD);
    let untrusted = format!("Redis at {}: the server's certificate is not trusted", server.url());
    assert!(err.contains(&untrusted) && err.contains(&format!("is {other} the CA that signed it?")), "{err}");
    // Without --redis-ca the system's roots are trusted, and the test CA is not among them.
    let err = refused(&server.url(), &[], &env, ADMIN_PASSWORD);
    assert!(err.contains(&untrusted) && err.contains("give its CA with --redis-ca FILE"), "{err}");
    // A certificate for 127.0.0.1 does not serve for localhost.
    let by_name = server.url().replace("127.0.0.1", "localhost");
    let err = refused(&by_name, &["--redis-ca", &server.file("ca.crt")], &env, ADMIN_PASSWORD);
    assert!(err.contains("the server's certificate is not valid for this host"), "{err}");
    server.assert_untouched();
}

#[test]
fn issue_15_a_password_in_the_url_is_refused() {
    let server = server_or_skip!("issue_15_a_password_in_the_url_is_refused");
    let url = format!("rediss://:{ADMIN_PASSWORD}@127.0.0.1:{}/", server.port);
    let err = refused(&url, &["--redis-ca", &server.file("ca.crt")], &[], ADMIN_PASSWORD);
    let masked = format!("rediss://:***@127.0.0.1:{}/", server.port);
    assert!(err.contains(&format!("the Redis URL {masked} contains a password")), "{err}");
    assert!(err.contains("--redis-password-file FILE or the COHORT_REDIS_PASSWORD environment variable"), "{err}");
    server.assert_untouched();
}

/// The password's sources are checked before any connection: no server is needed.
#[test]
fn issue_15_the_password_file_must_be_private_and_given_once() {
    let dir = TempDir::new("password-file");
    let file = dir.write("redis.password", "s3cret\n", 0o644);
    let path = file.display().to_string();
    // Nothing listens on port 9 of 127.0.0.1; nothing is tried either.
    let url = "rediss://127.0.0.1:9/";
    let err = refused(url, &["--redis-password-file", &path], &[], "s3cret");
    assert!(err.contains(&format!("the Redis password file {path} is open to other users (mode 0644)")), "{err}");
    assert!(err.contains(&format!("`chmod 600 {path}`")), "{err}");
    dir.write("redis.password", "s3cret\n", 0o600);
    let err = refused(url, &["--redis-password-file", &path], &[(PASSWORD_ENV, "s3cret")], "s3cret");
    assert!(err.contains("the Redis password is given twice"), "{err}");
    let err = refused(url, &["--redis-user", USER], &[], "s3cret");
    assert!(err.contains("--redis-user needs a password"), "{err}");
}
