use reprise::prelude::*;

#[workflow]
async fn wf(ctx: WorkflowContext) -> Result<(), WorkflowError> {
    let _conn = std::net::TcpStream::connect("127.0.0.1:5432");
    let _ = ctx.now();
    Ok(())
}

fn main() {}
