//! `#[derive(Signal)]` names a type after its snake_case name, or after
//! `#[signal(name = "...")]`.

use reprise::prelude::*;

#[derive(Serialize, Deserialize, Signal)]
struct StopStreaming;

#[derive(Serialize, Deserialize, Signal)]
struct HTTPDone {
    status: u16,
}

#[derive(Serialize, Deserialize, Signal)]
#[signal(name = "resize")]
enum Command {
    Grow(u32),
    Shrink(u32),
}

#[derive(Serialize, Deserialize, Signal)]
#[signal(crate = "reprise", name = "pause")]
struct Pause;

fn main() {
    assert_eq!(<StopStreaming as Signal>::NAME, "stop_streaming");
    assert_eq!(<HTTPDone as Signal>::NAME, "http_done");
    assert_eq!(<Command as Signal>::NAME, "resize");
    assert_eq!(<Pause as Signal>::NAME, "pause");
}
