//! Which paths are non-deterministic, and what to use instead.
//!
//! A path is matched after the body's own `use` items have been applied to
//! it (see `scope.rs`). Since the macro never sees the module's `use` lines,
//! most rules also match by suffix: `SystemTime::now` is flagged whatever
//! module `SystemTime` came from.

/// A kind of non-deterministic code, with the sanctioned alternative.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Rule {
    WallClock,
    Random,
    Timer,
    Spawn,
    Io,
    Env,
    HashMap,
    HashSet,
}

impl Rule {
    /// What is wrong with the code.
    pub(super) fn problem(self) -> &'static str {
        match self {
            Rule::WallClock => "reads the wall clock, which differs when the workflow replays",
            Rule::Random => "is random, so it differs when the workflow replays",
            Rule::Timer => "uses a real timer, which is neither durable nor replayed",
            Rule::Spawn => "runs work outside the workflow's deterministic executor",
            Rule::Io => "does I/O, which runs again on every replay and may see different data",
            Rule::Env => {
                "reads the process environment, which may differ when the workflow replays"
            }
            Rule::HashMap | Rule::HashSet => {
                "iterates in a random order that differs between processes, so replay may diverge"
            }
        }
    }

    /// The fix.
    pub(super) fn fix(self) -> &'static str {
        match self {
            Rule::WallClock => "use `ctx.now()`",
            Rule::Random => "use `ctx.random_u64()` or `ctx.uuid()`",
            Rule::Timer => "use `ctx.sleep(..)`",
            Rule::Spawn => "run the work in an activity, or use `join_all` for concurrency",
            Rule::Io => "do I/O in an activity",
            Rule::Env => "pass configuration in the workflow input",
            Rule::HashMap => "use `BTreeMap` or `IndexMap`",
            Rule::HashSet => "use `BTreeSet` or `IndexSet`",
        }
    }
}

/// A rule matched by a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Hit {
    pub(super) rule: Rule,
    /// How many leading segments of the path make up the offending part:
    /// `HashMap::new` is flagged on `HashMap` alone (`end == 1`).
    pub(super) end: usize,
}

/// `std::net` items that are plain values and do no I/O.
const NET_VALUES: &[&str] = &[
    "IpAddr",
    "Ipv4Addr",
    "Ipv6Addr",
    "SocketAddr",
    "SocketAddrV4",
    "SocketAddrV6",
    "AddrParseError",
    "Shutdown",
];

/// Functions of `tokio::time` reached through `time::…`.
const TIMER_FNS: &[&str] = &[
    "sleep",
    "sleep_until",
    "interval",
    "interval_at",
    "timeout",
    "timeout_at",
];

/// Functions of `std::env` reached through `env::…`.
pub(super) const ENV_ITEMS: &[&str] = &[
    "var",
    "vars",
    "var_os",
    "vars_os",
    "args",
    "args_os",
    "current_dir",
    "set_current_dir",
    "current_exe",
    "temp_dir",
    "home_dir",
    "set_var",
    "remove_var",
];

/// Items of `std::process` reached through `process::…`. A bare `Command`
/// is not flagged: too many programs have a `Command` type of their own.
const PROCESS_ITEMS: &[&str] = &["Command", "exit", "abort", "id", "Child", "Stdio"];

/// Socket types, flagged wherever they come from.
const SOCKETS: &[&str] = &[
    "TcpStream",
    "TcpListener",
    "UdpSocket",
    "UnixStream",
    "UnixListener",
    "UnixDatagram",
];

/// Constructors of `uuid::Uuid` that draw random bits or read the clock.
const UUID_RANDOM: &[&str] = &["new_v4", "new_v7", "now_v1", "now_v6", "now_v7"];

/// Returns the rule a (resolved) path breaks, if any.
pub(super) fn classify(path: &[&str]) -> Option<Hit> {
    let n = path.len();
    let whole = |rule| Some(Hit { rule, end: n });
    let starts = |prefix: &[&str]| path.starts_with(prefix);
    // `a::b` anywhere in the path, `b` one of `bs`: flagged up to `b`.
    let pair = |a: &str, bs: &[&str]| {
        path.windows(2)
            .position(|w| w[0] == a && bs.contains(&w[1]))
            .map(|i| i + 2)
    };
    let segment = |names: &[&str]| path.iter().position(|s| names.contains(s)).map(|i| i + 1);
    let hit = |rule, end: Option<usize>| end.map(|end| Hit { rule, end });

    if is_exempt(path) {
        return None;
    }

    // Wall clock.
    let clock = pair("SystemTime", &["now"])
        .or_else(|| pair("Instant", &["now"]))
        .or_else(|| pair("Utc", &["now", "today"]))
        .or_else(|| pair("Local", &["now", "today"]))
        .or_else(|| pair("OffsetDateTime", &["now_utc", "now_local"]));
    if clock.is_some() {
        return hit(Rule::WallClock, clock);
    }

    // Randomness.
    if n >= 2 && matches!(path[0], "rand" | "fastrand" | "getrandom") {
        return whole(Rule::Random);
    }
    let random =
        segment(&["thread_rng", "getrandom", "RandomState"]).or_else(|| pair("Uuid", UUID_RANDOM));
    if random.is_some() {
        return hit(Rule::Random, random);
    }

    // Real sleeping and timers.
    if n >= 3 && starts(&["tokio", "time"]) {
        return whole(Rule::Timer);
    }
    let timer = pair("thread", &["sleep", "sleep_ms", "park_timeout"]).or_else(|| {
        // `time::sleep(..)` after a top-of-file `use tokio::time;`.
        (n == 2 && path[0] == "time" && TIMER_FNS.contains(&path[1])).then_some(2)
    });
    if timer.is_some() {
        return hit(Rule::Timer, timer);
    }

    // Spawning.
    if n >= 2 && starts(&["tokio", "spawn"]) {
        return hit(Rule::Spawn, Some(2));
    }
    let spawn = pair("thread", &["spawn", "Builder", "scope"])
        .or_else(|| {
            pair(
                "task",
                &[
                    "spawn",
                    "spawn_blocking",
                    "spawn_local",
                    "block_in_place",
                    "LocalSet",
                ],
            )
        })
        .or_else(|| segment(&["spawn_blocking", "JoinSet"]));
    if spawn.is_some() {
        return hit(Rule::Spawn, spawn);
    }

    // I/O.
    if n >= 3 && matches!(path[0], "std" | "tokio") && matches!(path[1], "fs" | "net" | "process") {
        return whole(Rule::Io);
    }
    if n >= 2 && matches!(path[0], "reqwest" | "hyper" | "ureq") {
        return whole(Rule::Io);
    }
    if n == 2 && path[0] == "fs" {
        return whole(Rule::Io);
    }
    let io = pair("net", SOCKETS)
        .or_else(|| pair("process", PROCESS_ITEMS))
        .or_else(|| pair("File", &["open", "create", "create_new", "options"]))
        .or_else(|| pair("io", &["stdin"]))
        .or_else(|| segment(SOCKETS))
        .or_else(|| segment(&["OpenOptions"]));
    if io.is_some() {
        return hit(Rule::Io, io);
    }

    // Environment.
    if n >= 3 && starts(&["std", "env"]) {
        return whole(Rule::Env);
    }
    let env = pair("env", ENV_ITEMS);
    if env.is_some() {
        return hit(Rule::Env, env);
    }

    // Hash-ordered collections.
    let map = segment(&["HashMap", "hash_map"]);
    let set = segment(&["HashSet", "hash_set"]);
    match (map, set) {
        (Some(m), Some(s)) if s < m => hit(Rule::HashSet, Some(s)),
        (Some(m), _) => hit(Rule::HashMap, Some(m)),
        (None, s) => hit(Rule::HashSet, s),
    }
}

/// Paths under a flagged prefix that are nevertheless deterministic.
fn is_exempt(path: &[&str]) -> bool {
    match path {
        // `tokio::time::Duration` is `std::time::Duration`.
        ["tokio", "time", "Duration", ..] => true,
        // Addresses are values; only sockets do I/O.
        ["std", "net", item, ..] => NET_VALUES.contains(item),
        // Compile-time constants of the target (`std::env::consts::OS`).
        ["std", "env", "consts", ..] => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: &str) -> Option<Rule> {
        let segs: Vec<&str> = path.split("::").collect();
        classify(&segs).map(|hit| hit.rule)
    }

    #[test]
    fn flags() {
        assert_eq!(rule("std::time::SystemTime::now"), Some(Rule::WallClock));
        assert_eq!(rule("chrono::Utc::now"), Some(Rule::WallClock));
        assert_eq!(rule("time::OffsetDateTime::now_utc"), Some(Rule::WallClock));
        assert_eq!(rule("rand::random"), Some(Rule::Random));
        assert_eq!(rule("rand::rngs::StdRng"), Some(Rule::Random));
        assert_eq!(rule("fastrand::u64"), Some(Rule::Random));
        assert_eq!(rule("uuid::Uuid::now_v7"), Some(Rule::Random));
        assert_eq!(rule("tokio::time::interval"), Some(Rule::Timer));
        assert_eq!(rule("time::timeout"), Some(Rule::Timer));
        assert_eq!(rule("tokio::task::spawn_local"), Some(Rule::Spawn));
        assert_eq!(rule("task::spawn"), Some(Rule::Spawn));
        assert_eq!(rule("std::thread::scope"), Some(Rule::Spawn));
        assert_eq!(rule("JoinSet::new"), Some(Rule::Spawn));
        assert_eq!(rule("tokio::net::TcpStream::connect"), Some(Rule::Io));
        assert_eq!(rule("TcpStream::connect"), Some(Rule::Io));
        assert_eq!(rule("process::Command::new"), Some(Rule::Io));
        assert_eq!(rule("hyper::Client::new"), Some(Rule::Io));
        assert_eq!(rule("ureq::get"), Some(Rule::Io));
        assert_eq!(rule("io::stdin"), Some(Rule::Io));
        assert_eq!(rule("std::env::current_dir"), Some(Rule::Env));
        assert_eq!(
            rule("std::collections::hash_map::Entry"),
            Some(Rule::HashMap)
        );
        assert_eq!(rule("hashbrown::HashSet"), Some(Rule::HashSet));
        assert_eq!(rule("std::hash::RandomState"), Some(Rule::Random));
    }

    #[test]
    fn spares() {
        for path in [
            "std::time::Duration::from_secs",
            "tokio::time::Duration::from_millis",
            "std::time::Instant",
            "std::net::SocketAddr::from",
            "std::env::consts::OS",
            "std::collections::BTreeMap::new",
            "indexmap::IndexMap::new",
            "my_fs::load",
            "crate::fs::load",
            "config::env",
            "Command::new",
            "rand",
            "time::Instant",
            "tokio::sync::Mutex::new",
        ] {
            assert_eq!(rule(path), None, "{path}");
        }
    }

    #[test]
    fn offending_part() {
        let hit = classify(&["HashMap", "new"]).unwrap();
        assert_eq!(hit.end, 1);
        let hit = classify(&["std", "time", "SystemTime", "now"]).unwrap();
        assert_eq!(hit.end, 4);
    }
}
