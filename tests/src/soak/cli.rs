//! The soak's command line, durations (`10m`, `20s`, `500ms`), wall-clock stamps of log records
//! and the seeded random numbers of the fault schedule.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context as _};

/// What `cohort-soak --help` prints.
pub(crate) const USAGE: &str = "\
cohort-soak: runs the estimator and microgrid example apps under random faults and checks them

usage: cohort-soak [--duration 10m] [--seed N] [--fault-every 20s] [--sample-every 5s]
                   [--estimator BIN] [--microgrid BIN] [--report FILE]
                   [--leader-bound 3s] [--flow-bound 5s] [--warmup 30s] [--logs DIR]

  --duration D       how long to run the apps (default 10m); then pending checks finish and both stop
  --seed N           seed of the fault schedule (default: from the clock; printed, to replay)
  --fault-every D    one fault (kill -9 or SIGSTOP/SIGCONT of a random actor) per D (default 20s; 0: none)
  --sample-every D   memory sample and progress line per D (default 5s)
  --estimator BIN    the estimator app's binary (default: next to this one, see below)
  --microgrid BIN    the microgrid app's binary (default: next to this one, see below)
  --report FILE      also write the report as JSON to FILE
  --leader-bound D   after a microgrid fault, one leader known to all five units within D (default 3s)
  --flow-bound D     after an estimator fault, new estimates at the aggregator within D (default 5s)
  --warmup D         memory samples of a process's first D are not judged (default 30s)
  --logs DIR         also keep every line the apps log, in DIR/estimator.log and DIR/microgrid.log

Durations: 250ms, 20s, 10m, 1h, or plain seconds. Without --estimator/--microgrid the soak looks
next to its own binary for cohort-estimator then estimator (cohort-microgrid then microgrid),
skipping one more than a minute older than the soak binary; failing those it runs the app
built into itself. Each app runs from a copy in a temporary folder (a rebuild cannot pull it away).
A kill's recovery is timed from the actor's restart (the launcher's backoff comes first).
Exit status: 0 without invariant violations, 1 with, 2 when the soak itself cannot run.";

/// The soak's settings.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// How long the apps run under faults.
    pub(crate) duration: Duration,
    /// The seed of the fault schedule.
    pub(crate) seed: u64,
    /// The time between faults; `None`: no faults.
    pub(crate) fault_every: Option<Duration>,
    /// The time between memory samples and progress lines.
    pub(crate) sample_every: Duration,
    /// The estimator app's binary, if given.
    pub(crate) estimator: Option<PathBuf>,
    /// The microgrid app's binary, if given.
    pub(crate) microgrid: Option<PathBuf>,
    /// Where to write the JSON report.
    pub(crate) report: Option<PathBuf>,
    /// After a microgrid fault: one leader known to all units within this.
    pub(crate) leader_bound: Duration,
    /// After an estimator fault: new estimates at the aggregator within this.
    pub(crate) flow_bound: Duration,
    /// The start of each process's memory series that is not judged.
    pub(crate) warmup: Duration,
    /// Where to keep the apps' logs, if anywhere.
    pub(crate) logs: Option<PathBuf>,
}

/// What the command line asks for.
#[derive(Debug)]
pub(crate) enum Command {
    /// Run the soak.
    Soak(Options),
    /// Print the usage.
    Help,
}

/// Parses the arguments (without the program name).
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Command> {
    let mut o = Options {
        duration: Duration::from_secs(600),
        seed: clock_seed(),
        fault_every: Some(Duration::from_secs(20)),
        sample_every: Duration::from_secs(5),
        estimator: None,
        microgrid: None,
        report: None,
        leader_bound: Duration::from_secs(3),
        flow_bound: Duration::from_secs(5),
        warmup: Duration::from_secs(30),
        logs: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Ok(Command::Help);
        }
        let mut value = || -> anyhow::Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => args.next().ok_or_else(|| anyhow!("{flag} needs a value")),
            }
        };
        match flag.as_str() {
            "--duration" => o.duration = duration(&value()?)?,
            "--seed" => {
                let v = value()?;
                o.seed = v.parse().with_context(|| format!("--seed {v:?} is not a whole number"))?;
            }
            "--fault-every" => {
                let d = duration(&value()?)?;
                o.fault_every = (!d.is_zero()).then_some(d);
            }
            "--sample-every" => o.sample_every = positive(&flag, duration(&value()?)?)?,
            "--estimator" => o.estimator = Some(PathBuf::from(value()?)),
            "--microgrid" => o.microgrid = Some(PathBuf::from(value()?)),
            "--report" => o.report = Some(PathBuf::from(value()?)),
            "--leader-bound" => o.leader_bound = positive(&flag, duration(&value()?)?)?,
            "--flow-bound" => o.flow_bound = positive(&flag, duration(&value()?)?)?,
            "--warmup" => o.warmup = duration(&value()?)?,
            "--logs" => o.logs = Some(PathBuf::from(value()?)),
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    Ok(Command::Soak(o))
}

fn positive(flag: &str, d: Duration) -> anyhow::Result<Duration> {
    if d.is_zero() {
        bail!("{flag} must be more than 0");
    }
    Ok(d)
}

/// A duration: a number followed by `ms`, `s`, `m` or `h`; a bare number is seconds.
pub(crate) fn duration(text: &str) -> anyhow::Result<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().with_context(|| format!("{text:?} is not a duration (e.g. 250ms, 20s, 10m)"))?;
    let scale = match unit {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => bail!("{text:?}: unknown unit {unit:?} (ms, s, m, h)"),
    };
    Duration::try_from_secs_f64(n * scale).with_context(|| format!("{text:?} is not a usable duration"))
}

/// A duration for people: `850ms`, `12.5s`, `4m05s`.
pub(crate) fn show(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    }
}

/// A seed from the clock, for runs that give none.
fn clock_seed() -> u64 {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    // The low 64 bits, mixed with the process id so two soaks started together differ.
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

/// Microseconds since the Unix epoch now.
pub(crate) fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The microseconds since the Unix epoch of an RFC 3339 UTC stamp as the logs write them
/// (`2026-11-22T06:05:11.05232984Z`); `None` if it is not one.
pub(crate) fn parse_ts(ts: &str) -> Option<u64> {
    let b = ts.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u64> { ts.get(from..to)?.parse().ok() };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let rest = ts.get(19..)?;
    let rest = rest.strip_suffix('Z')?;
    let micros = match rest.strip_prefix('.') {
        None if rest.is_empty() => 0,
        None => return None,
        Some(frac) => {
            if frac.is_empty() || !frac.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            // The first six digits, padded: microseconds.
            let six: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
            six.parse::<u64>().ok()?
        }
    };
    let days = days_from_civil(year, month, day)?;
    let secs = days.checked_mul(86_400)? + hour * 3600 + minute * 60 + second;
    secs.checked_mul(1_000_000)?.checked_add(micros)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// algorithm); `None` before 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let y = if month <= 2 { year.checked_sub(1)? } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::{duration, parse, parse_ts, show, Command};
    use cohort_tests::Rng;
    use std::time::Duration;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(duration("20s").unwrap(), Duration::from_secs(20));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(duration("1h").unwrap(), Duration::from_secs(3600));
        for bad in ["", "s", "10x", "-3s", "1e999s"] {
            assert!(duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(show(Duration::from_millis(850)), "850ms");
        assert_eq!(show(Duration::from_millis(12_500)), "12.5s");
        assert_eq!(show(Duration::from_secs(245)), "4m05s");
    }

    #[test]
    fn the_command_line_parses() {
        let args = ["--duration", "20s", "--seed=7", "--fault-every", "0", "--report", "r.json"];
        let Command::Soak(o) = parse(args.map(String::from)).unwrap() else { panic!() };
        assert_eq!((o.duration, o.seed, o.fault_every), (Duration::from_secs(20), 7, None));
        assert_eq!(o.report.unwrap().to_str(), Some("r.json"));
        assert!(matches!(parse(["--help".to_owned()]).unwrap(), Command::Help));
        assert!(parse(["--bogus".to_owned()]).is_err());
        assert!(parse(["--seed".to_owned()]).is_err());
        assert!(parse(["--sample-every".to_owned(), "0".to_owned()]).is_err());
    }

    #[test]
    fn log_stamps_are_unix_microseconds() {
        assert_eq!(parse_ts("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_ts("2026-11-22T06:05:11.05232984Z"), Some(1_795_327_511_052_329));
        assert_eq!(parse_ts("2000-03-01T00:00:00.5Z"), Some(951_868_800_500_000));
        for bad in ["", "2026-11-22 06:05:11Z", "2026-13-22T06:05:11Z", "2026-11-22T06:05:11.Z", "2026-11-22T06:05:11"]
        {
            assert_eq!(parse_ts(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_rng_replays_a_seed() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let xs: Vec<u64> = (0..100).map(|_| a.below(7)).collect();
        assert_eq!(xs, (0..100).map(|_| b.below(7)).collect::<Vec<_>>());
        assert!(xs.iter().all(|x| *x < 7));
        assert!((0..7).all(|v| xs.contains(&v)));
    }
}
