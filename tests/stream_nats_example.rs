//! End to end: the `stream_processing` example on a real NATS JetStream
//! server (`--broker nats://127.0.0.1:4222`, streams of a name of its own).
//! A producer publishes events; the processor (tiny windows, a
//! continue-as-new every 3 windows, a write that lingers after its publish)
//! is killed with SIGKILL in the middle and started again; more events are
//! published while it runs; a third process sends `stop_streaming`. The
//! results stream must then hold every window exactly once, each with the
//! contents recomputed here from the events stream, and the processor's
//! durable consumer must have acknowledged every event.
//!
//! Needs nats-server with JetStream at 127.0.0.1:4222 (`.ci/run` starts it).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::pull::Config as PullConfig;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::{self, stream::Stream};
use common::process::Running;
use futures_util::StreamExt;
use serde_json::Value;

const URL: &str = "nats://127.0.0.1:4222";

/// Windows of 100 ms, 50 events at most, a new run every 3 windows, and a
/// write that lingers 15 ms after its publish (where a kill hurts most).
const PROCESSOR_FLAGS: [&str; 8] = [
    "--window-ms",
    "100",
    "--max-window-events",
    "50",
    "--windows-per-run",
    "3",
    "--slow-ms",
    "15",
];

/// The example's binary, its data folder and its streams' name.
struct Example {
    bin: PathBuf,
    dir: PathBuf,
    stream: String,
}

impl Example {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .arg("--dir")
            .arg(&self.dir)
            .args(["--broker", URL, "--stream", &self.stream])
            .args(args)
            .stderr(Stdio::inherit());
        command
    }

    /// Runs a short-lived mode (producer, stopper) to its end; returns stdout.
    fn run_ok(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("the example starts");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{args:?} failed:\n{stdout}");
        stdout
    }

    fn spawn(&self) -> Running {
        Running::spawn(&mut self.command(&PROCESSOR_FLAGS), "processor")
    }
}

/// The test's view of the server: its own client, on its own runtime.
struct Server {
    rt: tokio::runtime::Runtime,
    js: jetstream::Context,
    stream: String,
}

impl Server {
    fn connect(stream: &str) -> Self {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let client = rt.block_on(async_nats::connect(URL)).unwrap_or_else(|e| {
            panic!("NATS is not reachable at {URL} ({e}): start `nats-server -js` (see .ci/run)")
        });
        Self {
            rt,
            js: jetstream::new(client),
            stream: stream.to_owned(),
        }
    }

    fn get_stream(&self, suffix: &str) -> Option<Stream> {
        let name = format!("{}-{suffix}", self.stream);
        self.rt.block_on(self.js.get_stream(name)).ok()
    }

    /// Window results in the results stream and the last one's end offset.
    fn target(&self) -> (u64, i64) {
        let Some(results) = self.get_stream("results") else {
            return (0, 0);
        };
        let subject = format!("{}.results", self.stream);
        self.rt.block_on(async {
            let count = results.get_info().await.map_or(0, |i| i.state.messages);
            let end = match results.get_last_raw_message_by_subject(&subject).await {
                Ok(m) => serde_json::from_slice::<Value>(&m.payload).unwrap()["end_offset"]
                    .as_i64()
                    .unwrap(),
                Err(_) => 0,
            };
            (count, end)
        })
    }

    /// Polls the results until `done` holds (or panics after `secs`).
    fn wait_for(&self, secs: u64, what: &str, done: impl Fn(u64, i64) -> bool) -> (u64, i64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (windows, end) = self.target();
            if done(windows, end) {
                return (windows, end);
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {windows} windows, up to offset {end}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every message of a stream: sequence, `Nats-Msg-Id`, JSON payload.
    fn messages(&self, suffix: &str) -> Vec<(u64, Option<String>, Value)> {
        let stream = self.get_stream(suffix).expect("the stream exists");
        self.rt.block_on(async {
            let count = stream.get_info().await.unwrap().state.messages as usize;
            let consumer: PullConsumer = stream
                .create_consumer(PullConfig {
                    deliver_policy: DeliverPolicy::All,
                    ack_policy: AckPolicy::None,
                    ..Default::default()
                })
                .await
                .unwrap();
            let mut out = Vec::new();
            while out.len() < count {
                let mut batch = consumer.fetch().max_messages(500).messages().await.unwrap();
                while let Some(m) = batch.next().await {
                    let m = m.unwrap();
                    let id = m
                        .headers
                        .as_ref()
                        .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
                        .map(|v| v.as_str().to_owned());
                    let seq = m.info().unwrap().stream_sequence;
                    out.push((seq, id, serde_json::from_slice(&m.payload).unwrap()));
                }
            }
            out
        })
    }

    /// Publishes a result with a message id, as the example does; returns
    /// whether the server called it a duplicate, and the duplicate window.
    fn publish_result(&self, result: &Value, id: &str) -> (bool, Duration) {
        let results = self.get_stream("results").unwrap();
        self.rt.block_on(async {
            let publish = jetstream::context::Publish::build()
                .payload(serde_json::to_vec(result).unwrap().into())
                .message_id(id);
            let ack = self
                .js
                .send_publish(format!("{}.results", self.stream), publish)
                .await
                .unwrap()
                .await
                .unwrap();
            let info = results.get_info().await.unwrap();
            (ack.duplicate, info.config.duplicate_window)
        })
    }

    /// The durable consumer's ack floor and messages not yet acknowledged.
    fn consumer(&self, name: &str) -> (u64, u64, usize) {
        let events = self.get_stream("events").unwrap();
        self.rt.block_on(async {
            let info = events.consumer_info(name).await.unwrap();
            (
                info.ack_floor.stream_sequence,
                info.num_pending,
                info.num_ack_pending,
            )
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for suffix in ["events", "results"] {
            let name = format!("{}-{suffix}", self.stream);
            let _ = self.rt.block_on(self.js.delete_stream(name));
        }
    }
}

/// The JSON of the `RESULT {..}` line.
fn result_of(stdout: &str) -> Value {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in:\n{stdout}"));
    serde_json::from_str(line).unwrap()
}

#[test]
fn on_jetstream_a_killed_processor_writes_every_window_once() {
    let tmp = common::TempDb::new("stream-nats");
    let stream = format!(
        "test-{}-{}",
        std::process::id(),
        tmp.dir()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .rsplit('-')
            .next()
            .unwrap()
    );
    let server = Server::connect(&stream);
    let example = Example {
        bin: common::example_binary("stream_processing"),
        dir: tmp.dir(),
        stream,
    };
    let clock = Instant::now();

    let out = example.run_ok(&["--produce", "2000"]);
    assert!(out.contains("offsets 1..=2000"), "{out}");

    // First processor: killed once it has written a few windows.
    let first = example.spawn();
    let (at_kill, _) = server.wait_for(10, "the first windows", |w, _| w >= 6);
    let out = first.kill();
    assert!(!out.contains("RESULT"), "killed before the end:\n{out}");
    let (after_kill, end_at_kill) = server.target();
    assert!(
        after_kill < 40,
        "killed mid-run: {after_kill} of 40 windows written (at the kill: {at_kill})"
    );
    // Events are acknowledged only once their window is written (and
    // recorded): the ack floor is never past the last result.
    let consumer = format!("{}-stream-1", example.stream);
    let (floor_at_kill, _, _) = server.consumer(&consumer);
    assert!(
        floor_at_kill > 0 && floor_at_kill as i64 <= end_at_kill,
        "ack floor {floor_at_kill}, results up to {end_at_kill}"
    );

    // Second processor: resumes the same workflow where the history stands.
    let second = example.spawn();
    server.wait_for(15, "the restart to go on", |w, _| w >= after_kill + 3);
    let out = example.run_ok(&["--produce", "500", "--rate", "2000"]);
    assert!(out.contains("offsets 2001..=2500"), "{out}");
    server.wait_for(15, "every event to be consumed", |_, end| end >= 2500);

    let out = example.run_ok(&["--stop", "stream-1"]);
    assert!(out.contains("sent `stop_streaming`"), "{out}");
    let out = second.finish(Duration::from_secs(10));
    assert!(out.contains("resuming it"), "the restart resumed:\n{out}");
    let result = result_of(&out);
    let n = |key: &str| {
        result[key]
            .as_i64()
            .unwrap_or_else(|| panic!("no `{key}` in {result}"))
    };
    assert_eq!(n("events"), 2500, "{result}");
    assert_eq!(n("offset"), 2500, "{result}");
    assert_eq!(n("lag"), 0, "{result}");
    assert!(n("runs") > 1, "continued as new: {result}");

    // The results stream, row by row, against the events stream.
    let events = server.messages("events");
    assert_eq!(
        events.len(),
        2500,
        "the events stream holds what was produced"
    );
    let results = server.messages("results");
    assert_eq!(
        results.len() as i64,
        n("windows"),
        "one message per window: no duplicate publish survived"
    );
    let mut next_start = 1;
    for (i, (_, msg_id, window)) in results.iter().enumerate() {
        let window_no = i as i64 + 1;
        assert_eq!(
            window["window_no"].as_i64(),
            Some(window_no),
            "windows 1, 2, 3 ... in order"
        );
        assert_eq!(
            msg_id.as_deref(),
            Some(format!("window-{window_no}").as_str())
        );
        let (start, end) = (
            window["start_offset"].as_i64().unwrap(),
            window["end_offset"].as_i64().unwrap(),
        );
        assert_eq!(start, next_start, "window {window_no}: no gap, no overlap");
        assert!(end >= start, "window {window_no}: {start}..={end}");
        // Recomputed from the events of its range.
        let mut keys: BTreeMap<String, (i64, f64, f64, f64)> = BTreeMap::new();
        for (seq, _, event) in &events[start as usize - 1..end as usize] {
            assert!((start..=end).contains(&(*seq as i64)));
            let value = event["value"].as_f64().unwrap();
            let k = keys
                .entry(event["key"].as_str().unwrap().to_owned())
                .or_insert((0, 0.0, f64::MAX, f64::MIN));
            *k = (k.0 + 1, k.1 + value, k.2.min(value), k.3.max(value));
        }
        assert_eq!(
            window["count"].as_i64(),
            Some(end - start + 1),
            "window {window_no}"
        );
        let got = window["keys"].as_object().unwrap();
        assert_eq!(got.len(), keys.len(), "window {window_no}: its keys");
        for (key, (count, sum, min, max)) in &keys {
            let g = &got[key];
            assert_eq!(
                g["count"].as_i64(),
                Some(*count),
                "window {window_no} {key}"
            );
            assert!(
                (g["sum"].as_f64().unwrap() - sum).abs() < 1e-6,
                "window {window_no} {key}"
            );
            assert_eq!(g["min"].as_f64(), Some(*min), "window {window_no} {key}");
            assert_eq!(g["max"].as_f64(), Some(*max), "window {window_no} {key}");
        }
        next_start = end + 1;
    }
    assert_eq!(next_start - 1, 2500, "the windows end at the last event");

    // Publishing a window again is dropped by the server: the results
    // stream remembers the windows' ids for a day.
    let (window_1, results_before) = (&results[0].2, results.len());
    let (duplicate, window) = server.publish_result(window_1, "window-1");
    assert!(duplicate, "a second publish of window-1 is a duplicate");
    assert_eq!(
        window,
        Duration::from_secs(24 * 3600),
        "the duplicate window"
    );
    assert_eq!(server.messages("results").len(), results_before);

    // The durable consumer: everything acknowledged, nothing pending.
    let (floor, pending, ack_pending) = server.consumer(&consumer);
    assert_eq!(
        (floor, pending, ack_pending),
        (2500, 0, 0),
        "ack floor, pending, ack pending"
    );
    eprintln!("end to end in {:.1}s", clock.elapsed().as_secs_f64());
}

/// Bad flags give one line naming what was wrong.
#[test]
fn a_bad_broker_or_stream_name_is_named() {
    let bin = common::example_binary("stream_processing");
    let tmp = common::TempDb::new("stream-nats-flags");
    for (args, expected) in [
        (
            vec!["--broker", "kafka://x"],
            "--broker: `kafka://x` is neither",
        ),
        (
            vec!["--broker", URL, "--stream", "a.b"],
            "--stream: `a.b` is not a valid name",
        ),
    ] {
        let out = Command::new(&bin)
            .arg("--dir")
            .arg(tmp.dir())
            .args(&args)
            .args(["--produce", "1"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
