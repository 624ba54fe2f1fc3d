//! Signals: [`SignalChannel`] and [`Recv`] read the signals a run received
//! (`SignalReceived` inputs, in arrival order), and [`Cancelled`] waits for
//! the cancellation request (`CancelRequested`). Neither issues a command.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::context::WorkflowContext;
use crate::run::RunCore;
use crate::signal::Signal;

/// The signals of one type sent to a workflow; made by [`WorkflowContext::signal`].
pub struct SignalChannel<S: Signal> {
    ctx: WorkflowContext,
    _signal: PhantomData<fn() -> S>,
}

impl<S: Signal> fmt::Debug for SignalChannel<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalChannel")
            .field("signal", &S::NAME)
            .finish()
    }
}

impl<S: Signal> SignalChannel<S> {
    pub(crate) fn new(ctx: WorkflowContext) -> Self {
        Self {
            ctx,
            _signal: PhantomData,
        }
    }

    /// The oldest buffered signal of this type, without waiting.
    pub fn try_recv(&self) -> Option<S> {
        take::<S>(&mut self.ctx.core())
    }

    /// Waits durably for the next signal of this type. If the workflow is
    /// cancelled while this waits, the run ends as cancelled here.
    pub fn recv(&self) -> Recv<S> {
        Recv {
            ctx: self.ctx.clone(),
            _signal: PhantomData,
        }
    }
}

/// Takes the oldest buffered signal of type `S` that decodes.
fn take<S: Signal>(core: &mut RunCore) -> Option<S> {
    while let Some(payload) = core.take_signal(S::NAME) {
        match serde_json::from_value(payload) {
            Ok(signal) => return Some(signal),
            Err(e) => {
                if !core.is_replaying() {
                    tracing::error!(
                        signal = S::NAME,
                        error = %crate::error::Chain(&e),
                        "signal payload does not decode as `{}`; skipped",
                        std::any::type_name::<S>()
                    );
                }
            }
        }
    }
    None
}

/// A wait for a signal; made by [`SignalChannel::recv`].
#[must_use = "a signal wait does nothing until it is awaited"]
pub struct Recv<S: Signal> {
    ctx: WorkflowContext,
    _signal: PhantomData<fn() -> S>,
}

impl<S: Signal> fmt::Debug for Recv<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv").field("signal", &S::NAME).finish()
    }
}

impl<S: Signal> Future for Recv<S> {
    type Output = S;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<S> {
        let mut core = self.ctx.core();
        if core.has_fault() {
            return Poll::Pending;
        }
        if core.is_cancelled() {
            core.exit_cancelled();
            return Poll::Pending;
        }
        match take::<S>(&mut core) {
            Some(signal) => Poll::Ready(signal),
            None => {
                core.wait_signal(cx.waker());
                Poll::Pending
            }
        }
    }
}

/// Completes when the workflow is asked to cancel; made by
/// [`WorkflowContext::cancelled`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Cancelled {
    ctx: WorkflowContext,
}

impl Cancelled {
    pub(crate) fn new(ctx: WorkflowContext) -> Self {
        Self { ctx }
    }
}

impl Future for Cancelled {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut core = self.ctx.core();
        if core.is_cancelled() {
            core.see_cancel();
            Poll::Ready(())
        } else {
            core.wait_cancel(cx.waker());
            Poll::Pending
        }
    }
}
