//! The workflow and activity types a runtime knows, by name, with their
//! bodies erased to JSON in and out.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::context::{ActivityContext, WorkflowContext};
use crate::definition::{Activity, BoxFuture, Workflow};
use crate::error::{ActivityError, WorkflowError, WorkflowErrorKind};
use crate::metrics::{ActivityMetrics, WorkflowMetrics};
use crate::resource::{ResourceNeed, Resources};

/// The erased body of a workflow: its output encoded as JSON.
pub(crate) type WorkflowFuture = BoxFuture<'static, Result<Value, WorkflowError>>;

type WorkflowFn =
    dyn Fn(WorkflowContext, Value) -> Result<WorkflowFuture, serde_json::Error> + Send + Sync;
pub(crate) type ActivityFn = dyn Fn(ActivityContext, Value) -> BoxFuture<'static, Result<Value, ActivityError>>
    + Send
    + Sync;

pub(crate) struct WorkflowEntry {
    /// The Rust path of the registered type, to name it in errors.
    type_name: &'static str,
    pub(crate) run: Arc<WorkflowFn>,
    /// Checks that a JSON input decodes as the workflow's input type.
    pub(crate) check_input: fn(&Value) -> Result<(), serde_json::Error>,
    /// The signals it receives, by name; `None` when not known.
    pub(crate) signals: Option<Vec<crate::signal::SignalSpec>>,
    /// The keys of its metrics.
    pub(crate) metrics: Arc<WorkflowMetrics>,
}

pub(crate) struct ActivityEntry {
    /// The Rust path of the registered type, to name it in errors.
    type_name: &'static str,
    pub(crate) run: Arc<ActivityFn>,
    /// The types of its `Resource<T>` parameters.
    needs: Vec<ResourceNeed>,
    /// The keys of its metrics.
    pub(crate) metrics: Arc<ActivityMetrics>,
}

/// An activity body taking and returning JSON: decodes the input, runs
/// `body`, encodes the output (a payload that does not decode or encode
/// is a non-retryable `PayloadError`).
fn erase<A: Activity>(
    body: impl Fn(ActivityContext, A::Input) -> BoxFuture<'static, Result<A::Output, ActivityError>>
        + Send
        + Sync
        + 'static,
) -> impl Fn(ActivityContext, Value) -> BoxFuture<'static, Result<Value, ActivityError>> + Send + Sync
{
    move |ctx: ActivityContext, input: Value| -> BoxFuture<'static, Result<Value, ActivityError>> {
        let input: A::Input = match serde_json::from_value(input) {
            Ok(input) => input,
            Err(e) => {
                let error = ActivityError::non_retryable(
                    "PayloadError",
                    format!("the input of activity `{}` does not decode: {e}", A::NAME),
                );
                return Box::pin(std::future::ready(Err(error)));
            }
        };
        let body = body(ctx, input);
        Box::pin(async move {
            let output = body.await?;
            serde_json::to_value(output).map_err(|e| {
                ActivityError::non_retryable(
                    "PayloadError",
                    format!(
                        "the output of activity `{}` does not serialize: {e}",
                        A::NAME
                    ),
                )
            })
        })
    }
}

/// Registered types, by name, and the resources activities are handed.
#[derive(Default)]
pub(crate) struct Registry {
    workflows: HashMap<String, WorkflowEntry>,
    activities: HashMap<String, ActivityEntry>,
    pub(crate) resources: Arc<Resources>,
    /// Two types registered under one name: reported by `build()`.
    conflicts: Vec<String>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("workflows", &self.workflows.keys().collect::<Vec<_>>())
            .field("activities", &self.activities.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn check_input<W: Workflow>(input: &Value) -> Result<(), serde_json::Error> {
    W::Input::deserialize(input).map(drop)
}

use serde::Deserialize;

impl Registry {
    pub(crate) fn add_workflow<W: Workflow>(&mut self, workflow: W) {
        let run = move |ctx: WorkflowContext,
                        input: Value|
              -> Result<WorkflowFuture, serde_json::Error> {
            let input: W::Input = serde_json::from_value(input)?;
            let body = workflow.run(ctx, input);
            Ok(Box::pin(async move {
                let output = body.await?;
                serde_json::to_value(output).map_err(|e| {
                    WorkflowError::with_kind(
                        WorkflowErrorKind::Payload,
                        "PayloadError",
                        format!(
                            "the output of workflow `{}` does not serialize: {e}",
                            W::NAME
                        ),
                    )
                })
            }))
        };
        let type_name = std::any::type_name::<W>();
        if let Some(existing) = self.workflows.get(W::NAME) {
            if existing.type_name != type_name {
                self.conflicts.push(format!(
                    "two workflows are registered under the name `{}`: `{}` and `{type_name}`; \
                     give one another name with `#[workflow(name = \"...\")]`",
                    W::NAME,
                    existing.type_name
                ));
            }
            return;
        }
        let signals = workflow.signals().map(|mut specs| {
            specs.sort_by_key(|spec| (spec.name, spec.type_name));
            specs.dedup_by_key(|spec| (spec.name, spec.type_name));
            for pair in specs.windows(2) {
                if pair[0].name == pair[1].name {
                    self.conflicts.push(format!(
                        "workflow `{}` receives two signal types under the name `{}`: `{}` and `{}`; \
                         give one another name with `#[signal(name = \"...\")]`",
                        W::NAME,
                        pair[0].name,
                        pair[0].type_name,
                        pair[1].type_name
                    ));
                }
            }
            specs
        });
        self.workflows.insert(
            W::NAME.to_owned(),
            WorkflowEntry {
                type_name,
                run: Arc::new(run),
                check_input: check_input::<W>,
                signals,
                metrics: WorkflowMetrics::new(W::NAME),
            },
        );
    }

    pub(crate) fn add_activity<A: Activity>(&mut self, activity: A) {
        let run = erase::<A>(move |ctx, input| activity.run(ctx, input));
        let type_name = std::any::type_name::<A>();
        if let Some(existing) = self.activities.get(A::NAME) {
            if existing.type_name != type_name {
                self.conflicts.push(format!(
                    "two activities are registered under the name `{}`: `{}` and `{type_name}`; \
                     give one another name with `#[activity(name = \"...\")]`",
                    A::NAME,
                    existing.type_name
                ));
            }
            return;
        }
        self.activities.insert(
            A::NAME.to_owned(),
            ActivityEntry {
                type_name,
                run: Arc::new(run),
                needs: activity.resources(),
                metrics: ActivityMetrics::new(A::NAME),
            },
        );
    }

    /// Registers `mock` in place of activity `A`'s body (a test double:
    /// it takes no resources; the calls keep `A`'s options).
    #[cfg(feature = "testing")]
    pub(crate) fn add_mock<A, F>(&mut self, mock: F)
    where
        A: Activity,
        F: Fn(A::Input) -> Result<A::Output, ActivityError> + Send + Sync + 'static,
    {
        let mock = Arc::new(mock);
        let run = erase::<A>(move |_ctx, input| {
            let out = mock(input);
            Box::pin(std::future::ready(out))
        });
        self.activities.insert(
            A::NAME.to_owned(),
            ActivityEntry {
                type_name: std::any::type_name::<F>(),
                run: Arc::new(run),
                needs: Vec::new(),
                metrics: ActivityMetrics::new(A::NAME),
            },
        );
    }

    /// Adds a resource, replacing an earlier one of the same type.
    pub(crate) fn add_resource<T: Send + Sync + 'static>(&mut self, value: T) {
        Arc::make_mut(&mut self.resources).insert(Arc::new(value));
    }

    /// What keeps this registry from running: two types under one name, a
    /// resource an activity takes and a worker was not given (a client runs
    /// no activity). One line per problem, sorted.
    pub(crate) fn problems(&self, worker: bool) -> Vec<String> {
        let mut problems = self.conflicts.clone();
        for (name, entry) in self.activities.iter().filter(|_| worker) {
            for need in entry.needs.iter().filter(|n| !self.resources.has(n)) {
                problems.push(format!(
                    "activity `{name}` takes a `Resource<{}>`, which the runtime was not given: \
                     add `.resource(value)` to `Runtime::builder()`",
                    need.name
                ));
            }
        }
        problems.sort();
        problems
    }

    /// Whether some registered workflow lists the signals it receives.
    pub(crate) fn knows_signals(&self) -> bool {
        self.workflows.values().any(|w| w.signals.is_some())
    }

    pub(crate) fn workflow(&self, name: &str) -> Option<&WorkflowEntry> {
        self.workflows.get(name)
    }

    pub(crate) fn activity(&self, name: &str) -> Option<&ActivityEntry> {
        self.activities.get(name)
    }

    /// The keys of the metrics of workflow type `name`: its entry's, or
    /// keys made now for a type this runtime does not know.
    pub(crate) fn workflow_metrics(&self, name: &str) -> Arc<WorkflowMetrics> {
        match self.workflows.get(name) {
            Some(entry) => entry.metrics.clone(),
            None => WorkflowMetrics::new(name.to_owned()),
        }
    }

    /// The registered workflow type names, sorted.
    pub(crate) fn workflow_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.workflows.keys().cloned().collect();
        names.sort();
        names
    }

    /// The registered activity type names, sorted.
    pub(crate) fn activity_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.activities.keys().cloned().collect();
        names.sort();
        names
    }

    pub(crate) fn has_activity(&self, name: &str) -> bool {
        self.activities.contains_key(name)
    }
}
