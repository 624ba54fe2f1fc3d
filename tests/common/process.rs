//! An example's process in a test: started with its stdout read on a
//! thread (so it never blocks on a full pipe), killed with SIGKILL or
//! awaited, and never left running when an assertion fails.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running example process; `what` names it in failure messages.
pub struct Running {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    what: &'static str,
}

impl Running {
    /// Starts `command` with its stdout piped (stderr as the command says).
    pub fn spawn(command: &mut Command, what: &'static str) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("the {what} does not start: {e}"));
        let mut pipe = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        });
        Self {
            child,
            stdout: Some(stdout),
            what,
        }
    }

    /// SIGKILL: no chance to clean up anything. Returns what it printed.
    pub fn kill(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.stdout.take().unwrap().join().unwrap()
    }

    /// Waits for it to exit by itself, successfully, within `limit`;
    /// returns what it printed.
    pub fn finish(mut self, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let out = self.stdout.take().unwrap().join().unwrap();
                panic!("the {} did not stop within {limit:?}:\n{out}", self.what);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = self.child.wait().unwrap();
        let out = self.stdout.take().unwrap().join().unwrap();
        assert!(status.success(), "the {} failed:\n{out}", self.what);
        out
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // On a failed assertion: do not leave a process behind.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
