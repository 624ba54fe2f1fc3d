//! The statements, and how they are run: each is prepared once per
//! connection. Lease and due-time comparisons use the database's clock
//! (`now_ms!`), see the parent module's `# Clock`.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// The database's clock, Unix milliseconds.
macro_rules! now_ms {
    () => {
        "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
    };
}

/// The columns `decode_run` reads, in its order.
macro_rules! run_columns {
    () => {
        "workflow_id, run_id, name, status, result, error, progress, created_ms, updated_ms"
    };
}
pub(super) use run_columns;

/// The columns `decode_task` reads, in its order.
macro_rules! task_columns {
    () => {
        "workflow_id, run_id, seq, kind, name, input, options, attempt, scheduled_ms, due_ms, last_error, details, token, slot_wait_ms, heartbeat_ms"
    };
}

/// The latest run of a workflow ($1), with its token.
pub(super) const SELECT_LATEST_RUN: &str = concat!(
    "SELECT ",
    run_columns!(),
    ", token FROM runs WHERE run_id = (SELECT latest_run_id FROM workflows WHERE workflow_id = $1)"
);
/// A run ($1) and its history's indexes and events, in one snapshot.
pub(super) const SELECT_RUN_WITH_HISTORY: &str = concat!(
    "SELECT ",
    run_columns!(),
    ", ARRAY(SELECT idx FROM history h WHERE h.run_id = runs.run_id ORDER BY idx),
       ARRAY(SELECT event FROM history h WHERE h.run_id = runs.run_id ORDER BY idx)
     FROM runs WHERE run_id = $1"
);
/// The unfinished runs, oldest first.
/// `list_runs`: $1 status (or NULL), $2 name (or NULL), created in
/// [$3, $4), `seq` below $5, at most $6; `seq` is the last column.
pub(super) const SELECT_LISTED: &str = concat!(
    "SELECT ",
    run_columns!(),
    ", seq FROM runs r
     WHERE seq < $5 AND created_ms >= $3 AND created_ms < $4
       AND ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR name = $2)
       AND run_id = (SELECT latest_run_id FROM workflows w WHERE w.workflow_id = r.workflow_id)
     ORDER BY seq DESC LIMIT $6"
);
pub(super) const SELECT_UNFINISHED: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE status IN ('running', 'blocked') ORDER BY seq"
);
/// The runs of a workflow ($1), oldest first.
pub(super) const SELECT_WORKFLOW_RUNS: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE workflow_id = $1 ORDER BY seq"
);
/// The tasks of a run ($1).
pub(super) const SELECT_RUN_TASKS: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE run_id = $1 ORDER BY seq"
);
/// Every task, by run then `seq`.
pub(super) const SELECT_ALL_TASKS: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks ORDER BY run_id, seq"
);
/// The tasks of the runs $1 (an array).
pub(super) const SELECT_TASKS_OF_RUNS: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE run_id = ANY($1) ORDER BY run_id, seq"
);
/// Every message, in arrival order.
pub(super) const SELECT_INBOX: &str =
    "SELECT id, workflow_id, kind, payload FROM inbox ORDER BY id";
/// The messages of the workflows $1 (an array), in arrival order.
pub(super) const SELECT_INBOX_OF_WORKFLOWS: &str =
    "SELECT id, workflow_id, kind, payload FROM inbox WHERE workflow_id = ANY($1) ORDER BY id";

/// `claim_runs`: $1 worker, $2 names, $3 limit, $4 horizon (ms), $5 lease (ms).
///
/// A candidate is an unfinished run of a registered type that nobody holds
/// (or whose holder's lease expired) and that has messages, has never been
/// activated (its history is its `WorkflowStarted` alone), is blocked, or
/// has a timer due within the horizon; the claim gives it to this worker
/// with a fresh token. (This worker's own runs with messages are
/// [`OWN_RUNS_SQL`]'s.)
pub(super) const CLAIM_RUNS_SQL: &str = concat!(
    "WITH now AS MATERIALIZED (SELECT ",
    now_ms!(),
    " AS ms),
     candidates AS (
        SELECT r.seq, r.owner IS DISTINCT FROM $1 AS taken
        FROM runs r CROSS JOIN now
        WHERE r.status IN ('running', 'blocked')
          AND r.name = ANY($2)
          AND (r.owner IS NULL
               OR (r.owner <> $1 AND (r.lease_until IS NULL OR r.lease_until <= now.ms)))
          AND (r.status = 'blocked'
               OR r.history_len <= 1
               OR EXISTS (SELECT 1 FROM inbox i WHERE i.workflow_id = r.workflow_id)
               OR EXISTS (SELECT 1 FROM tasks t
                          WHERE t.run_id = r.run_id AND t.kind = 'timer'
                            AND t.due_ms <= now.ms + $4))
        ORDER BY r.seq
        LIMIT $3
        FOR UPDATE OF r SKIP LOCKED
     )
     UPDATE runs r
     SET owner = $1,
         lease_until = now.ms + $5,
         token = CASE WHEN c.taken THEN nextval('reprise_tokens') ELSE r.token END
     FROM candidates c CROSS JOIN now
     WHERE r.seq = c.seq
     RETURNING r.workflow_id, r.run_id, r.name, r.status, r.result, r.error, r.progress,
               r.created_ms, r.updated_ms, r.token, c.taken, r.seq"
);

/// `claim_runs`, the runs this worker holds that have messages: $1 worker,
/// $2 names, $3 limit. A plain read: the worker's own steps may hold these
/// rows' locks at this instant, and skipping them (as `SKIP LOCKED` would)
/// would leave their messages until the next poll. Their token stays, their
/// lease is renewed by `renew`.
pub(super) const OWN_RUNS_SQL: &str = "
    SELECT r.workflow_id, r.run_id, r.name, r.status, r.result, r.error, r.progress,
           r.created_ms, r.updated_ms, r.token, false AS taken, r.seq
    FROM runs r
    WHERE r.owner = $1
      AND r.status IN ('running', 'blocked')
      AND r.name = ANY($2)
      AND EXISTS (SELECT 1 FROM inbox i WHERE i.workflow_id = r.workflow_id)
    ORDER BY r.seq
    LIMIT $3";

/// `claim_tasks`: $1 worker, $2 names, $3 limit, $4 horizon (ms), $5 lease (ms).
pub(super) const CLAIM_TASKS_SQL: &str = concat!(
    "WITH now AS MATERIALIZED (SELECT ",
    now_ms!(),
    " AS ms),
     candidates AS (
        SELECT t.run_id, t.seq
        FROM tasks t JOIN runs r ON r.run_id = t.run_id CROSS JOIN now
        WHERE t.kind = 'activity'
          AND t.name = ANY($2)
          AND r.status = 'running'
          AND (t.owner IS NULL OR t.lease_until IS NULL OR t.lease_until <= now.ms)
          AND t.due_ms <= now.ms + $4
        ORDER BY t.due_ms, t.run_id, t.seq
        LIMIT $3
        FOR UPDATE OF t SKIP LOCKED
     )
     UPDATE tasks t
     SET owner = $1, lease_until = now.ms + $5, token = nextval('reprise_tokens')
     FROM candidates c CROSS JOIN now
     WHERE t.run_id = c.run_id AND t.seq = c.seq
     RETURNING t.workflow_id, t.run_id, t.seq, t.kind, t.name, t.input, t.options, t.attempt,
               t.scheduled_ms, t.due_ms, t.last_error, t.details, t.token, t.slot_wait_ms, t.heartbeat_ms"
);

/// `renew`, runs: $1 worker, $2 lease (ms). Locks in `run_id` order, as
/// commits do. Returns the database's now.
pub(super) const RENEW_RUNS: &str = concat!(
    "WITH now AS MATERIALIZED (SELECT ",
    now_ms!(),
    " AS ms),
     held AS (SELECT run_id FROM runs WHERE owner = $1 ORDER BY run_id FOR UPDATE),
     renewed AS (
        UPDATE runs SET lease_until = (SELECT ms FROM now) + $2
        WHERE run_id IN (SELECT run_id FROM held) AND owner = $1
        RETURNING 1
     )
     SELECT ms FROM now"
);

/// `renew`, tasks: $1 worker, $2 lease (ms).
pub(super) const RENEW_TASKS: &str = concat!(
    "UPDATE tasks SET lease_until = ",
    now_ms!(),
    " + $2
     WHERE (run_id, seq) IN (SELECT run_id, seq FROM tasks WHERE owner = $1
                             ORDER BY run_id, seq FOR UPDATE)
       AND owner = $1"
);

/// `release(Worker)`, runs: $1 worker. Locks in `run_id` order.
pub(super) const RELEASE_WORKER_RUNS: &str = "UPDATE runs SET owner = NULL, lease_until = NULL
     WHERE run_id IN (SELECT run_id FROM runs WHERE owner = $1 ORDER BY run_id FOR UPDATE)
       AND owner = $1";
/// `release(Worker)`, tasks: $1 worker.
pub(super) const RELEASE_WORKER_TASKS: &str = "UPDATE tasks SET owner = NULL, lease_until = NULL
     WHERE (run_id, seq) IN (SELECT run_id, seq FROM tasks WHERE owner = $1
                             ORDER BY run_id, seq FOR UPDATE)
       AND owner = $1";
/// `release(Run)`, the run: $1 run, $2 token. Changes nothing unless the
/// token is still the run's.
pub(super) const RELEASE_RUN: &str = "UPDATE runs SET owner = NULL, lease_until = NULL
     WHERE run_id = $1 AND token = $2";
/// `release(Run)`, the tasks held with it: $1 run, $2 its token (an
/// attempt another worker claimed stays with that worker).
pub(super) const RELEASE_RUN_TASKS: &str = "UPDATE tasks SET owner = NULL, lease_until = NULL
     WHERE (run_id, seq) IN (SELECT run_id, seq FROM tasks WHERE run_id = $1 AND token = $2
                             ORDER BY seq FOR UPDATE)";

/// `create_workflow`'s run: $1 run, $2 workflow, $3 name, $4 now (engine's),
/// $5 owner or NULL, $6 lease (ms).
pub(super) const INSERT_FIRST_RUN: &str = concat!(
    "INSERT INTO runs (run_id, workflow_id, name, status, created_ms, updated_ms, history_len,
                       owner, lease_until, token)
     VALUES ($1, $2, $3, 'running', $4, $4, 1, $5::text,
             CASE WHEN $5::text IS NULL THEN NULL ELSE ",
    now_ms!(),
    " + $6::bigint END,
             CASE WHEN $5::text IS NULL THEN 0 ELSE nextval('reprise_tokens') END)
     RETURNING token"
);

/// A continue-as-new step's run: as [`INSERT_FIRST_RUN`], with $7 the token.
pub(super) const INSERT_NEXT_RUN: &str = concat!(
    "INSERT INTO runs (run_id, workflow_id, name, status, created_ms, updated_ms, history_len,
                       owner, lease_until, token)
     VALUES ($1, $2, $3, 'running', $4, $4, 1, $5::text,
             CASE WHEN $5::text IS NULL THEN NULL ELSE ",
    now_ms!(),
    " + $6::bigint END, $7)"
);

/// New tasks, one array per column: $1..$12 the columns, $13 each task's
/// owner (or NULL), $14 its lease (ms), $15 its token.
pub(super) const UPSERT_TASKS: &str = concat!(
    "INSERT INTO tasks (run_id, seq, workflow_id, kind, name, input, options, attempt,
                        scheduled_ms, due_ms, last_error, details, owner, lease_until, token)
     SELECT u.run_id, u.seq, u.workflow_id, u.kind, u.name, u.input, u.options, u.attempt,
            u.scheduled_ms, u.due_ms, u.last_error, u.details, u.owner,
            CASE WHEN u.owner IS NULL THEN NULL ELSE ",
    now_ms!(),
    " + u.lease_ms END, u.token
     FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                 $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::text[],
                 $13::text[], $14::bigint[], $15::bigint[])
          AS u(run_id, seq, workflow_id, kind, name, input, options, attempt,
               scheduled_ms, due_ms, last_error, details, owner, lease_ms, token)
     ON CONFLICT (run_id, seq) DO UPDATE SET
         workflow_id = excluded.workflow_id, kind = excluded.kind, name = excluded.name,
         input = excluded.input, options = excluded.options, attempt = excluded.attempt,
         scheduled_ms = excluded.scheduled_ms, due_ms = excluded.due_ms,
         last_error = excluded.last_error, details = excluded.details,
         owner = excluded.owner, lease_until = excluded.lease_until, token = excluded.token"
);

/// The history rows of a whole group commit: $1 runs, $2 indexes, $3 events.
pub(super) const INSERT_EVENTS: &str = "INSERT INTO history (run_id, idx, event)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])";

/// The tasks a group commit's steps consumed: $1 runs, $2 seqs.
pub(super) const DELETE_DONE_TASKS: &str = "DELETE FROM tasks t
    USING unnest($1::text[], $2::bigint[]) AS d(run_id, seq)
    WHERE t.run_id = d.run_id AND t.seq = d.seq";

/// The run rows of a group commit's steps: $1 runs, $2 history lengths,
/// $3 update times, $4 progress (NULL: unchanged), $5 statuses (NULL:
/// unchanged; then result and error are kept too), $6 results, $7 errors,
/// $8 whether the run ended (then nobody holds it).
pub(super) const UPDATE_RUNS: &str = "UPDATE runs r SET
        history_len = u.len, updated_ms = u.now,
        progress = coalesce(u.progress, r.progress),
        status = coalesce(u.status, r.status),
        result = CASE WHEN u.status IS NULL THEN r.result ELSE u.result END,
        error = CASE WHEN u.status IS NULL THEN r.error ELSE u.error END,
        owner = CASE WHEN u.finished THEN NULL ELSE r.owner END,
        lease_until = CASE WHEN u.finished THEN NULL ELSE r.lease_until END
    FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::bool[])
         AS u(run_id, len, now, progress, status, result, error, finished)
    WHERE r.run_id = u.run_id";

/// `record_heartbeat`: $1 run, $2 seq, $3 token, $4 details, $5 lease (ms).
pub(super) const HEARTBEAT_SQL: &str = concat!(
    "UPDATE tasks SET details = $4, heartbeat_ms = ",
    now_ms!(),
    ",
         lease_until = CASE WHEN owner IS NULL THEN NULL ELSE ",
    now_ms!(),
    " + $5 END
     WHERE run_id = $1 AND seq = $2 AND token = $3"
);

/// Prepares (once per connection) and runs a statement returning rows.
pub(super) async fn query(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let statement = client.prepare_cached(sql).await?;
    client.query(&statement, params).await
}

/// Prepares (once per connection) and runs a statement returning at most one row.
pub(super) async fn query_opt(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, tokio_postgres::Error> {
    let statement = client.prepare_cached(sql).await?;
    client.query_opt(&statement, params).await
}

/// Prepares (once per connection) and runs a statement; the rows it changed.
pub(super) async fn execute(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, tokio_postgres::Error> {
    let statement = client.prepare_cached(sql).await?;
    client.execute(&statement, params).await
}

/// The runs of a group commit, locked in `run_id` order: $1 run ids.
pub(super) const LOCK_RUNS: &str = "SELECT run_id, history_len, workflow_id, name, token
    FROM runs WHERE run_id = ANY($1) ORDER BY run_id FOR UPDATE";
