//! Unit tests of the determinism lint: each rule, the imported short forms,
//! the escape hatch, and the code that must not be flagged.

use quote::ToTokens;
use syn::Block;

use super::check;

mod escape_hatch;

/// Lints `body` (the inside of a block) and returns the messages.
fn lint(body: &str) -> Vec<String> {
    lint_and_output(body).0
}

/// Lints `body` and returns the messages and the body as it is emitted.
fn lint_and_output(body: &str) -> (Vec<String>, String) {
    let mut block: Block = syn::parse_str(&format!("{{ {body} }}")).expect("test body parses");
    let errors = check(&mut block);
    let messages = errors.iter().map(ToString::to_string).collect();
    (messages, block.into_token_stream().to_string())
}

/// Asserts one error, naming `what` and `fix`.
#[track_caller]
fn assert_one(body: &str, what: &str, fix: &str) {
    let messages = lint(body);
    assert_eq!(messages.len(), 1, "{body}: {messages:#?}");
    let message = &messages[0];
    assert!(
        message.contains(what),
        "{body}: {message:?} should name {what}"
    );
    assert!(
        message.contains(fix),
        "{body}: {message:?} should name {fix}"
    );
}

#[track_caller]
fn assert_clean(body: &str) {
    let messages = lint(body);
    assert!(messages.is_empty(), "{body}: {messages:#?}");
}

const NOW: &str = "use `ctx.now()`";
const RANDOM: &str = "use `ctx.random_u64()` or `ctx.uuid()`";
const SLEEP: &str = "use `ctx.sleep(..)`";
const SPAWN: &str = "run the work in an activity, or use `join_all` for concurrency";
const IO: &str = "do I/O in an activity";
const ENV: &str = "pass configuration in the workflow input";
const MAP: &str = "use `BTreeMap` or `IndexMap`";
const SET: &str = "use `BTreeSet` or `IndexSet`";
const LOCALS: &str = "keep state in workflow locals";
const BIASED: &str = "add `biased;` as its first line";

#[test]
fn wall_clock() {
    assert_one(
        "let t = std::time::SystemTime::now();",
        "`std::time::SystemTime::now`",
        NOW,
    );
    assert_one(
        "let t = SystemTime::now();",
        "`SystemTime::now` reads the wall clock",
        NOW,
    );
    assert_one("let t = Instant::now();", "`Instant::now`", NOW);
    assert_one(
        "let t = std::time::Instant::now();",
        "`std::time::Instant::now`",
        NOW,
    );
    assert_one("let t = chrono::Utc::now();", "`chrono::Utc::now`", NOW);
    assert_one("let t = Utc::now();", "`Utc::now`", NOW);
    assert_one("let t = chrono::Local::now();", "`chrono::Local::now`", NOW);
    assert_one("let t = Local::now();", "`Local::now`", NOW);
    assert_one(
        "let t = time::OffsetDateTime::now_utc();",
        "`time::OffsetDateTime::now_utc`",
        NOW,
    );
    assert_one(
        "let t = ::std::time::SystemTime::now();",
        "`::std::time::SystemTime::now`",
        NOW,
    );
    assert_one("let f = SystemTime::now;", "`SystemTime::now`", NOW);
}

#[test]
fn randomness() {
    assert_one(
        "let x: u64 = rand::random();",
        "`rand::random` is random",
        RANDOM,
    );
    assert_one("let x = rand::random::<u64>();", "`rand::random`", RANDOM);
    assert_one(
        "let mut rng = rand::thread_rng();",
        "`rand::thread_rng`",
        RANDOM,
    );
    assert_one("let mut rng = thread_rng();", "`thread_rng`", RANDOM);
    assert_one(
        "let r = rand::rngs::StdRng::from_entropy();",
        "`rand::rngs::StdRng::from_entropy`",
        RANDOM,
    );
    assert_one("let id = Uuid::new_v4();", "`Uuid::new_v4`", RANDOM);
    assert_one(
        "let id = uuid::Uuid::new_v4();",
        "`uuid::Uuid::new_v4`",
        RANDOM,
    );
    assert_one("let id = Uuid::new_v7(ts);", "`Uuid::new_v7`", RANDOM);
    assert_one("let n = fastrand::u64(..);", "`fastrand::u64`", RANDOM);
    assert_one(
        "getrandom::getrandom(&mut buf)?;",
        "`getrandom::getrandom`",
        RANDOM,
    );
    assert_one("getrandom(&mut buf)?;", "`getrandom`", RANDOM);
}

#[test]
fn timers() {
    assert_one(
        "std::thread::sleep(d);",
        "`std::thread::sleep` uses a real timer",
        SLEEP,
    );
    assert_one("thread::sleep(d);", "`thread::sleep`", SLEEP);
    assert_one(
        "tokio::time::sleep(d).await;",
        "`tokio::time::sleep`",
        SLEEP,
    );
    assert_one(
        "let mut i = tokio::time::interval(d);",
        "`tokio::time::interval`",
        SLEEP,
    );
    assert_one(
        "tokio::time::timeout(d, fut).await;",
        "`tokio::time::timeout`",
        SLEEP,
    );
    assert_one(
        "tokio::time::sleep_until(t).await;",
        "`tokio::time::sleep_until`",
        SLEEP,
    );
    assert_one(
        "let t: tokio::time::Instant = x;",
        "`tokio::time::Instant`",
        SLEEP,
    );
    assert_one("time::sleep(d).await;", "`time::sleep`", SLEEP);
    // Both a timer and the wall clock: reported once, as the clock.
    assert_one(
        "let t = tokio::time::Instant::now();",
        "`tokio::time::Instant::now`",
        NOW,
    );
}

#[test]
fn spawning() {
    assert_one(
        "std::thread::spawn(|| work());",
        "`std::thread::spawn` runs work outside",
        SPAWN,
    );
    assert_one("thread::spawn(|| work());", "`thread::spawn`", SPAWN);
    assert_one("tokio::spawn(async { 1 });", "`tokio::spawn`", SPAWN);
    assert_one(
        "tokio::task::spawn(async { 1 });",
        "`tokio::task::spawn`",
        SPAWN,
    );
    assert_one(
        "tokio::task::spawn_blocking(|| 1);",
        "`tokio::task::spawn_blocking`",
        SPAWN,
    );
    assert_one(
        "tokio::task::spawn_local(async { 1 });",
        "`tokio::task::spawn_local`",
        SPAWN,
    );
    assert_one("spawn_blocking(|| 1);", "`spawn_blocking`", SPAWN);
    assert_one(
        "let b = std::thread::Builder::new();",
        "`std::thread::Builder`",
        SPAWN,
    );
    assert_one("let s = JoinSet::new();", "`JoinSet`", SPAWN);
}

#[test]
fn io() {
    assert_one(
        "let s = std::fs::read_to_string(p)?;",
        "`std::fs::read_to_string` does I/O",
        IO,
    );
    assert_one(
        "let s = tokio::fs::read(p).await?;",
        "`tokio::fs::read`",
        IO,
    );
    assert_one(
        "let s = fs::read_to_string(p)?;",
        "`fs::read_to_string`",
        IO,
    );
    assert_one(
        "let c = std::net::TcpStream::connect(a)?;",
        "`std::net::TcpStream::connect`",
        IO,
    );
    assert_one(
        "let c = tokio::net::TcpListener::bind(a).await?;",
        "`tokio::net::TcpListener::bind`",
        IO,
    );
    assert_one("let c = TcpStream::connect(a)?;", "`TcpStream`", IO);
    assert_one(
        "let o = std::process::Command::new(\"ls\");",
        "`std::process::Command::new`",
        IO,
    );
    assert_one(
        "let o = tokio::process::Command::new(\"ls\");",
        "`tokio::process::Command::new`",
        IO,
    );
    assert_one("std::process::exit(1);", "`std::process::exit`", IO);
    assert_one("let b = reqwest::get(url).await?;", "`reqwest::get`", IO);
    assert_one("let c = hyper::Client::new();", "`hyper::Client::new`", IO);
    assert_one("let r = ureq::get(url).call()?;", "`ureq::get`", IO);
    assert_one("let f = File::open(p)?;", "`File::open`", IO);
    assert_one("let f = File::create(p)?;", "`File::create`", IO);
    assert_one("let f = std::io::stdin();", "`std::io::stdin`", IO);
}

#[test]
fn environment() {
    assert_one(
        "let v = std::env::var(\"X\")?;",
        "`std::env::var` reads the process environment",
        ENV,
    );
    assert_one("let v = env::var(\"X\")?;", "`env::var`", ENV);
    assert_one(
        "let a: Vec<String> = env::args().collect();",
        "`env::args`",
        ENV,
    );
    assert_one(
        "let d = std::env::current_dir()?;",
        "`std::env::current_dir`",
        ENV,
    );
    assert_one("for (k, v) in std::env::vars() {}", "`std::env::vars`", ENV);
}

#[test]
fn compile_time_env_is_allowed() {
    assert_clean("let v = env!(\"CARGO_PKG_VERSION\");");
    assert_clean("let v = option_env!(\"PROFILE\");");
    assert_clean("let v = std::env!(\"CARGO_PKG_NAME\");");
    assert_clean("let os = std::env::consts::OS;");
}

#[test]
fn hash_ordered_collections() {
    assert_one(
        "let m = HashMap::new();",
        "`HashMap` iterates in a random order",
        MAP,
    );
    assert_one("let m: HashMap<String, u32> = x;", "`HashMap`", MAP);
    assert_one("let s = HashSet::<u32>::new();", "`HashSet`", SET);
    assert_one(
        "let s = v.iter().collect::<HashSet<_>>();",
        "`HashSet`",
        SET,
    );
    assert_one(
        "let m = std::collections::HashMap::<u8, u8>::new();",
        "`std::collections::HashMap`",
        MAP,
    );
    assert_one(
        "let e: std::collections::hash_map::Entry<'_, u8, u8> = x;",
        "`std::collections::hash_map`",
        MAP,
    );
    assert_one("let m = <HashMap<u8, u8>>::default();", "`HashMap`", MAP);
    // The type and the constructor are two sites.
    assert_eq!(lint("let m: HashMap<u8, u8> = HashMap::new();").len(), 2);
    // Nested: two sites.
    assert_eq!(lint("let m: HashMap<u8, HashSet<u8>> = x;").len(), 2);
}

#[test]
fn select_needs_biased() {
    assert_one(
        "tokio::select! { _ = a => {}, _ = b => {} }",
        "`tokio::select!` without `biased;` picks among ready branches at random",
        BIASED,
    );
    assert_one("select! { _ = a => {}, _ = b => {} }", "`select!`", BIASED);
    assert_one(
        "futures::select! { x = a => {}, y = b => {} }",
        "`futures::select!`",
        "use `futures::select_biased!`",
    );
    assert_clean("tokio::select! { biased; _ = a => {}, _ = b => {} }");
    assert_clean("futures::select_biased! { x = a => {}, y = b => {} }");
    assert_clean("select! { biased; v = ctx.sleep(d) => v, else => () }");
}

#[test]
fn select_branches_are_linted() {
    assert_one(
        "tokio::select! { biased; _ = tokio::time::sleep(d) => {}, _ = b => {} }",
        "`tokio::time::sleep`",
        SLEEP,
    );
    assert_one(
        "tokio::select! { biased; _ = a, if rand::random() => {}, _ = b => {} }",
        "`rand::random`",
        RANDOM,
    );
    assert_one(
        "tokio::select! { biased; _ = a => { let t = SystemTime::now(); } _ = b => () }",
        "`SystemTime::now`",
        NOW,
    );
    // Unbiased and a bad branch: both reported.
    assert_eq!(
        lint("tokio::select! { _ = a => {}, _ = b => Instant::now() }").len(),
        2
    );
}

#[test]
fn global_state() {
    assert_one(
        "static mut COUNTER: u32 = 0;",
        "`static mut` keeps state outside",
        LOCALS,
    );
    assert_one(
        "thread_local! { static X: u32 = 0; }",
        "`thread_local!` keeps state outside",
        LOCALS,
    );
    assert_one(
        "std::thread_local! { static X: u32 = 0; }",
        "`thread_local!`",
        LOCALS,
    );
    assert_clean("static LIMIT: u32 = 10;");
}

#[test]
fn imported_short_forms() {
    assert_one(
        "use std::time::SystemTime; let t = SystemTime::now();",
        "`SystemTime::now` (`std::time::SystemTime::now`)",
        NOW,
    );
    assert_one(
        "use std::fs::read_to_string; let s = read_to_string(p)?;",
        "`read_to_string` (`std::fs::read_to_string`)",
        IO,
    );
    assert_one(
        "use std::fs; let s = fs::read(p)?;",
        "`fs::read` (`std::fs::read`)",
        IO,
    );
    assert_one(
        "use std::thread::sleep; sleep(d);",
        "`sleep` (`std::thread::sleep`)",
        SLEEP,
    );
    assert_one(
        "use tokio::time::sleep; sleep(d).await;",
        "`sleep` (`tokio::time::sleep`)",
        SLEEP,
    );
    assert_one(
        "use tokio::spawn; spawn(fut);",
        "`spawn` (`tokio::spawn`)",
        SPAWN,
    );
    assert_one(
        "use std::env; let v = env::var(\"X\");",
        "`env::var` (`std::env::var`)",
        ENV,
    );
    assert_one(
        "use std::env::var; let v = var(\"X\");",
        "`var` (`std::env::var`)",
        ENV,
    );
    assert_one(
        "use rand::random; let x: u8 = random();",
        "`random` (`rand::random`)",
        RANDOM,
    );
    assert_one(
        "use std::fs::{self, File}; let f = File::open(p)?;",
        "`File::open` (`std::fs::File::open`)",
        IO,
    );
    assert_one(
        "use ::std::{thread, time::Instant}; let t = Instant::now();",
        "`Instant::now` (`std::time::Instant::now`)",
        NOW,
    );
    assert_one(
        "use tokio::select; select! { _ = a => {} }",
        "`select!`",
        BIASED,
    );
}

#[test]
fn aliased_imports() {
    assert_one(
        "use std::time::{Instant as Clock}; let t = Clock::now();",
        "`Clock::now` (`std::time::Instant::now`)",
        NOW,
    );
    assert_one(
        "use std::collections::HashMap as Map; let m = Map::new();",
        "`Map` (`std::collections::HashMap`)",
        MAP,
    );
    assert_eq!(
        lint("use std::collections::HashMap as Map; let m: Map<u8, u8> = Map::new();").len(),
        2
    );
    assert_one(
        "use std::fs as disk; disk::write(p, b)?;",
        "`disk::write` (`std::fs::write`)",
        IO,
    );
    assert_one(
        "use std::fs; use fs::File as F; F::open(p)?;",
        "`F::open` (`std::fs::File::open`)",
        IO,
    );
    assert_one(
        "use std::thread::sleep as nap; nap(d);",
        "`nap` (`std::thread::sleep`)",
        SLEEP,
    );
    assert_one(
        "use tokio::select as race; race! { _ = a => {} }",
        "`race!` without `biased;`",
        BIASED,
    );
}

#[test]
fn glob_imports() {
    assert_one(
        "use std::fs::*; let s = read_to_string(p)?;",
        "`read_to_string` (`std::fs::read_to_string`)",
        IO,
    );
    assert_one(
        "use std::collections::*; let m = HashMap::new();",
        "`HashMap`",
        MAP,
    );
    assert_one(
        "use std::time::*; let t = SystemTime::now();",
        "`SystemTime::now`",
        NOW,
    );
    // Names a glob of a forbidden module does not export are the user's own.
    assert_clean("use std::fs::*; let s = load(p); let c = config();");
    assert_clean("use std::collections::*; let m = BTreeMap::new();");
}

#[test]
fn imports_are_scoped_to_their_block() {
    assert_clean("{ use my::fs as store; } let s = store::read(p);");
    assert_one(
        "{ use std::fs as store; store::read(p); } store::read(p);",
        "`store::read`",
        IO,
    );
    // A `use` applies to its whole block, even before it.
    assert_one(
        "let s = read_to_string(p); use std::fs::read_to_string;",
        "`read_to_string`",
        IO,
    );
    // An inner import of the user's own `fs` wins over the rule for `fs::x`.
    assert_clean("use crate::storage as fs; let s = fs::load(p);");
}

#[test]
fn the_imports_themselves_are_not_flagged() {
    assert_clean("use std::time::SystemTime; use std::fs; use std::collections::HashMap as Map;");
}

#[test]
fn everywhere_in_the_body() {
    let cases = [
        "let f = || SystemTime::now();",
        "let f = move |x: u32| { let t = SystemTime::now(); t };",
        "let f = async { SystemTime::now() };",
        "let f = async move { let t = SystemTime::now(); };",
        "for i in 0..3 { let t = SystemTime::now(); }",
        "while go { SystemTime::now(); }",
        "loop { break SystemTime::now(); }",
        "match x { Some(_) => SystemTime::now(), None => t };",
        "match x { Some(_) if SystemTime::now() > t => {}, _ => {} }",
        "let Some(x) = y else { SystemTime::now(); return };",
        "if let Some(x) = y { SystemTime::now(); }",
        "if cond { } else { SystemTime::now(); }",
        "ctx.activity(load, SystemTime::now()).await?;",
        "let s = S { at: SystemTime::now(), ..Default::default() };",
        "let t = (1, SystemTime::now());",
        "let v = [SystemTime::now()];",
        "let r = &SystemTime::now();",
        "let u = unsafe { SystemTime::now() };",
        "let x = { { { SystemTime::now() } } };",
        "let x = (SystemTime::now)();",
        "let x = foo(bar(baz(SystemTime::now())));",
        "let x = a.map(|v| v + 1).unwrap_or_else(|| SystemTime::now());",
        "let x = SystemTime::now().duration_since(UNIX_EPOCH)?;",
        "return Ok(SystemTime::now());",
        "let xs: Vec<_> = items.iter().map(|i| async move { SystemTime::now() }).collect();",
    ];
    for body in cases {
        assert_one(body, "`SystemTime::now`", NOW);
    }
}

#[test]
fn format_like_macros() {
    let cases = [
        "println!(\"{:?}\", SystemTime::now());",
        "let s = format!(\"{} {}\", a, SystemTime::now());",
        "let s = format!(\"{t:?}\", t = SystemTime::now());",
        "write!(f, \"{:?}\", SystemTime::now())?;",
        "assert!(SystemTime::now() > t, \"late: {}\", x);",
        "assert_eq!(a, SystemTime::now());",
        "debug_assert!(SystemTime::now() > t);",
        "let v = vec![SystemTime::now(); 3];",
        "let v = vec![a, SystemTime::now()];",
        "tracing::info!(at = ?SystemTime::now(), \"tick\");",
        "tracing::info!(at = %SystemTime::now(), \"tick\");",
        "info!(target: \"wf\", \"at {:?}\", SystemTime::now());",
        "tracing::debug!(?SystemTime::now());",
        "warn!(a.b = SystemTime::now(), \"tick\");",
        "log::error!(\"at {:?}\", SystemTime::now());",
        "trace!(x; \"at {:?}\", SystemTime::now());",
        "ctx.set_progress(&json!({ \"phase\": \"load\", \"at\": SystemTime::now() }));",
        "let j = json!([1, { \"at\": [SystemTime::now()] }]);",
        "println!(\"{}\", format!(\"{:?}\", SystemTime::now()));",
        "let (a, b) = tokio::join!(x, async { SystemTime::now() });",
    ];
    for body in cases {
        assert_one(body, "`SystemTime::now`", NOW);
    }
    // Tokens that are not expressions are skipped silently.
    assert_clean("my_dsl!(SystemTime::now => 3 ~~ !);");
    assert_clean("println!(\"SystemTime::now() {}\", x);");
    assert_clean("assert!(matches!(x, Some(_) | None if y));");
}

#[test]
fn side_effect_is_exempt() {
    assert_clean("let t = ctx.side_effect(|| SystemTime::now());");
    assert_clean("let t: u64 = ctx.side_effect(|| { let mut m = HashMap::new(); std::fs::read(p); rand::random() });");
    assert_clean("let v = ctx.side_effect(move || std::env::var(\"X\").ok());");
    assert_clean("let t = WorkflowContext::side_effect(&ctx, || SystemTime::now());");
    // Only the closure is exempt: what the result flows into is not.
    assert_one(
        "let m = ctx.side_effect::<HashMap<u8, u8>, _>(|| HashMap::new());",
        "`HashMap`",
        MAP,
    );
}

#[test]
fn no_false_positives() {
    let cases = [
        // Fields.
        "let e = input.env; let f = cfg.fs; let n = self.now; let p = x.process;",
        "let v = input.env.get(\"X\"); let d = cfg.fs.root.clone();",
        // Methods on the user's values.
        "let t = clock.now(); ctx.sleep(d).await; pool.spawn(job); let n = ctx.now();",
        "let t = ctx.now(); let id = ctx.uuid(); let r = ctx.random_u64();",
        "let h = handle.spawn_blocking_like(x); let r = rng.gen::<u64>();",
        // Strings.
        "let s = \"SystemTime::now() std::fs::read HashMap thread_rng\";",
        "let s = r#\"tokio::spawn(async {})\"#;",
        // Durations.
        "let d = std::time::Duration::from_secs(5); let e = Duration::from_millis(10);",
        "let d: Duration = tokio::time::Duration::from_secs(1);",
        // The user's own names containing the words.
        "let x = my_fs::load(p); let y = filesystem::read(p); let z = crate::fs::read(p);",
        "let x = fs_utils::read(p); let y = store::fs::read(p);",
        "let n = now(); let s = sleep_time(); let h = hashmap_len(); let e = envelope::open(x);",
        "let r = my_rand::pick(xs); let t = timestamp::now_utc_string();",
        "let c = Command::new(\"load\"); let l = Local::default();",
        // Ordered collections.
        "let m = BTreeMap::new(); let s: BTreeSet<u8> = BTreeSet::new();",
        "let m: IndexMap<String, u8> = IndexMap::new(); let s = IndexSet::<u8>::new();",
        "let m = std::collections::BTreeMap::<u8, u8>::new();",
        // Locals named like forbidden modules.
        "let env = load(); let fs = env.clone(); let rand = ctx.random_u64(); foo(env, fs, rand);",
        // Values.
        "let a: std::net::SocketAddr = \"127.0.0.1:80\".parse()?; let i = std::net::Ipv4Addr::LOCALHOST;",
        "let t: std::time::Instant = start; let e = UNIX_EPOCH;",
        // rustc's own allow, left alone.
        "#[allow(unused_variables)] let x = 1;",
        // Nested items are not part of the body.
        "fn helper() -> SystemTime { SystemTime::now() }",
        "struct S { m: HashMap<u8, u8> } impl S { fn f() { std::thread::sleep(d) } }",
        "mod m { pub fn f() { std::fs::read(\"x\"); } }",
        // Attributes are not code.
        "#[cfg(feature = \"std::fs\")] let x = 1;",
    ];
    for body in cases {
        assert_clean(body);
    }
}

#[test]
fn several_violations_are_reported_together() {
    let messages = lint(
        "let t = SystemTime::now();
         let r: u64 = rand::random();
         std::thread::sleep(d);
         tokio::spawn(async {});
         let s = std::fs::read_to_string(p)?;
         let v = std::env::var(\"X\")?;
         let m: HashMap<u8, u8> = x;
         tokio::select! { _ = a => {} }
         static mut N: u32 = 0;
         thread_local! { static X: u32 = 0; }",
    );
    let fixes = [
        NOW, RANDOM, SLEEP, SPAWN, IO, ENV, MAP, BIASED, LOCALS, LOCALS,
    ];
    assert_eq!(messages.len(), fixes.len(), "{messages:#?}");
    for (message, fix) in messages.iter().zip(fixes) {
        assert!(message.contains(fix), "{message:?} should name {fix}");
    }
}

#[test]
fn durable_calls_inside_side_effect_are_reported() {
    let errors = lint("let v: u32 = ctx.side_effect(|| { let _ = ctx.uuid(); 1 });");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("`.uuid(..)` inside `ctx.side_effect(..)` is not replayed"),
        "{errors:?}"
    );
    let errors =
        lint("let v = ctx.side_effect(|| futures::executor::block_on(ctx.activity(load, 1)));");
    assert_eq!(errors.len(), 1, "{errors:?}");
    // Methods of other values are fine, and so is the allowed escape hatch.
    assert_clean("let v = ctx.side_effect(|| clock.now_ms());");
    assert_clean("let v = ctx.side_effect(|| cfg.retry.sleep_ms);");
}

#[test]
fn patches_and_children_are_accepted() {
    assert_clean(
        r#"
        let rows = if ctx.patched("dedupe-v2") {
            ctx.activity(dedupe, rows).await?
        } else {
            rows
        };
        ctx.deprecate_patch("old-fix");
        let out = ctx.child(etl, rows).id("etl-part-3").parent_close(ParentClose::Abandon).await?;
        if ctx.continue_as_new_suggested() {
            return ctx.continue_as_new(out);
        }
        "#,
    );
}

#[test]
fn a_patch_or_a_child_inside_a_side_effect_is_flagged() {
    assert_one(
        r#"let x = ctx.side_effect(|| ctx.patched("p"));"#,
        "`.patched(..)` inside `ctx.side_effect(..)`",
        "make it outside the closure",
    );
    assert_one(
        r#"let x = ctx.side_effect(|| ctx.child(etl, 1));"#,
        "`.child(..)` inside `ctx.side_effect(..)`",
        "make it outside the closure",
    );
}
