//! Code that merely looks like the forbidden calls compiles: fields and
//! methods named `env`, `fs`, `now`, `sleep`, `spawn`; the user's own
//! modules; string literals; durations; compile-time `env!`.

use reprise::prelude::*;

#[derive(Serialize, Deserialize)]
struct Input {
    env: String,
    fs: String,
}

struct Clock {
    now: u64,
}

impl Clock {
    fn now(&self) -> u64 {
        self.now
    }
    fn sleep(&self, _ms: u64) {}
    fn spawn(&self) {}
}

mod my_fs {
    pub fn load(path: &str) -> String {
        path.to_string()
    }
}

mod storage {
    pub fn read(path: &str) -> usize {
        path.len()
    }
}

#[workflow]
async fn wf(ctx: WorkflowContext, input: Input) -> Result<String, WorkflowError> {
    let env = input.env.clone();
    let fs = &input.fs;
    let clock = Clock { now: 5 };
    clock.sleep(clock.now());
    clock.spawn();
    let _loaded = my_fs::load(fs);
    use storage as fs_store;
    let _n = fs_store::read("rows.csv");
    let _doc = "SystemTime::now() and std::fs::read and HashMap and tokio::spawn";
    let _d = std::time::Duration::from_secs(5) + Duration::from_millis(10);
    let _version = env!("CARGO_PKG_NAME");
    let _os = std::env::consts::OS;
    let _addr: std::net::SocketAddr = ([127, 0, 0, 1], 8080).into();
    ctx.sleep(Duration::from_millis(1)).await;
    Ok(format!("{env}{:?}", ctx.now()))
}

fn main() {}
