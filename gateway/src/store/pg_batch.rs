//! The writes of one PostgreSQL group commit as multi-row statements: one `INSERT` per table for
//! the whole batch (dedup claims, events, plugin runs, actions, attempts) and one `UPDATE` for
//! the actions those attempts finish or reschedule, instead of one round trip per row. State
//! writes and responses kept for `on-response` keep one statement each: a plugin may set and
//! delete the same key within one call, and both are rare.
//!
//! A claim that finds the key taken fails the batch; the group commit then applies each write
//! in a transaction of its own, so the duplicate fails alone (see `group_commit`).

use std::collections::HashSet;
use std::fmt::Write as _;

use sqlx::any::AnyArguments;
use sqlx::{AnyConnection, Arguments as _};

use super::handoff::{Effects, Route};
use super::writes::{
    after_attempt, Origin, StoredAction, Write, DELETE_STATE, KEEP_RESPONSE, UPSERT_STATE,
};
use super::DuplicateEvent;
use crate::records::{ActionStatus, PluginRun, Response};

/// PostgreSQL takes at most this many parameters in one statement.
const MAX_PARAMETERS: usize = 65_535;

/// One bound value of a row.
enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Bytes(Vec<u8>),
}

/// The rows of one table, flattened: `width` values per row.
struct Table {
    /// `INSERT INTO table (columns)`, without `VALUES`.
    head: &'static str,
    /// What follows the values (`ON CONFLICT …`), if anything.
    tail: String,
    width: usize,
    values: Vec<Value>,
}

impl Table {
    fn new(head: &'static str, width: usize) -> Self {
        Self {
            head,
            tail: String::new(),
            width,
            values: Vec::new(),
        }
    }

    fn push(&mut self, row: impl IntoIterator<Item = Value>) {
        let before = self.values.len();
        self.values.extend(row);
        debug_assert_eq!(self.values.len() - before, self.width, "{}", self.head);
    }

    fn rows(&self) -> usize {
        self.values.len() / self.width
    }

    /// Runs the statements (as many as the parameter limit needs); the rows they changed.
    async fn insert(self, connection: &mut AnyConnection) -> anyhow::Result<u64> {
        let mut changed = 0;
        for (sql, arguments) in self.statements()? {
            let done = sqlx::query_with(&sql, arguments)
                .execute(&mut *connection)
                .await?;
            changed += done.rows_affected();
        }
        Ok(changed)
    }

    /// Runs the statements and returns the two text columns of the rows they return.
    async fn fetch(self, connection: &mut AnyConnection) -> anyhow::Result<Vec<(String, String)>> {
        let mut returned = Vec::new();
        for (sql, arguments) in self.statements()? {
            let rows: Vec<(String, String)> = sqlx::query_as_with(&sql, arguments)
                .fetch_all(&mut *connection)
                .await?;
            returned.extend(rows);
        }
        Ok(returned)
    }

    /// `head VALUES (…), (…) tail` with the values bound, in statements of at most
    /// [`MAX_PARAMETERS`] values.
    fn statements(self) -> anyhow::Result<Vec<(String, AnyArguments<'static>)>> {
        let per_statement = MAX_PARAMETERS / self.width * self.width;
        let mut values = self.values.into_iter().peekable();
        let mut statements = Vec::new();
        while values.peek().is_some() {
            let mut sql = format!("{} VALUES ", self.head);
            let mut arguments = AnyArguments::default();
            for (index, value) in values.by_ref().take(per_statement).enumerate() {
                sql.push_str(match (index / self.width, index % self.width) {
                    (0, 0) => "(",
                    (_, 0) => "), (",
                    _ => ", ",
                });
                let _ = write!(sql, "${}", index + 1);
                match value {
                    Value::Text(text) => arguments.add(text),
                    Value::Int(int) => arguments.add(int),
                    Value::Bytes(bytes) => arguments.add(bytes),
                }
                .map_err(|error| anyhow::anyhow!("cannot bind a value: {error}"))?;
            }
            let _ = write!(sql, ") {}", self.tail);
            statements.push((sql, arguments));
        }
        Ok(statements)
    }
}

/// A state write of a plugin run, applied after the rows.
struct StateWrite {
    tenant: String,
    plugin: String,
    key: String,
    value: Option<Vec<u8>>,
}

/// The writes of one group commit, gathered before they are applied.
pub(super) struct Batch<'w> {
    events: EventRows,
    attempts: AttemptRows<'w>,
}

impl<'w> Batch<'w> {
    pub(super) fn new() -> Self {
        Self {
            events: EventRows::new(),
            attempts: AttemptRows::new(),
        }
    }

    /// Adds `write`'s rows; what it sets in motion once committed goes into `effects`.
    pub(super) fn add(
        &mut self,
        write: &'w Write,
        now: i64,
        route: Option<&Route>,
        effects: &mut Effects,
    ) -> anyhow::Result<()> {
        self.events.add(write, now, route, effects)?;
        self.attempts.add(write, now)
    }

    /// Applies every write: the events' rows first, then the attempts.
    pub(super) async fn apply(
        self,
        connection: &mut AnyConnection,
        now: i64,
        effects: &mut Effects,
    ) -> anyhow::Result<()> {
        self.events.insert(connection, now).await?;
        self.attempts.apply(connection, effects).await
    }
}

/// The rows of a batch's events, gathered before they are inserted.
struct EventRows {
    claims: Table,
    events: Table,
    runs: Table,
    actions: Table,
    state: Vec<StateWrite>,
    /// The latest dedup cutoff of the batch's events (their windows end within milliseconds
    /// of each other; the latest errs towards storing an event rather than dropping it).
    newest_cutoff: Option<i64>,
}

impl EventRows {
    fn new() -> Self {
        Self {
            claims: Table::new(
                "INSERT INTO dedup_keys (tenant, dedup_key, event_id, received_at)",
                4,
            ),
            events: Table::new(
                "INSERT INTO events
                 (id, tenant, event_type, received_at, body, dedup_key, replay_of, headers)",
                8,
            ),
            runs: Table::new(
                "INSERT INTO plugin_runs
                 (event_id, plugin, outcome, error, duration_us, phase, action_id)",
                7,
            ),
            actions: Table::new(
                "INSERT INTO actions
                 (id, event_id, tenant, plugin, kind, method, url, headers, body, status,
                  next_attempt_at, created_at, continuation, continuation_status,
                  parent_action_id, lease_until, trace_parent)",
                17,
            ),
            newest_cutoff: None,
            state: Vec::new(),
        }
    }

    /// Adds the rows of `write` if it is an event.
    fn add(
        &mut self,
        write: &Write,
        now: i64,
        route: Option<&Route>,
        effects: &mut Effects,
    ) -> anyhow::Result<()> {
        let Write::Event {
            id,
            tenant,
            event_type,
            body,
            dedup,
            replay_of,
            headers,
            runs,
            trace_parent,
        } = write
        else {
            return Ok(());
        };
        let text = |text: &str| Value::Text(Some(text.to_owned()));
        if let Some((key, cutoff)) = dedup {
            self.claims
                .push([text(tenant), text(key), text(id), Value::Int(Some(now))]);
            self.newest_cutoff = self.newest_cutoff.max(Some(*cutoff));
        }
        self.events.push([
            text(id),
            text(tenant),
            text(event_type),
            Value::Int(Some(now)),
            Value::Bytes(body.clone()),
            Value::Text(dedup.as_ref().map(|(key, _)| key.clone())),
            Value::Text(replay_of.clone()),
            text(headers),
        ]);
        for run in runs {
            let origin = Origin {
                event_id: id,
                tenant,
                plugin: &run.plugin,
                parent_action_id: None,
                trace_parent: trace_parent.as_deref(),
            };
            self.add_run(&origin, run, now, route, effects)?;
        }
        Ok(())
    }

    fn add_run(
        &mut self,
        origin: &Origin<'_>,
        run: &PluginRun,
        now: i64,
        route: Option<&Route>,
        effects: &mut Effects,
    ) -> anyhow::Result<()> {
        let text = |text: &str| Value::Text(Some(text.to_owned()));
        self.runs.push([
            text(origin.event_id),
            text(origin.plugin),
            text(if run.outcome.is_ok() { "ok" } else { "error" }),
            Value::Text(run.outcome.as_ref().err().cloned()),
            Value::Int(Some(run.duration.as_micros() as i64)),
            text(origin.phase()),
            Value::Text(None),
        ]);
        let Ok(produced) = &run.outcome else {
            return Ok(());
        };
        for action in &produced.actions {
            let stored = StoredAction::plan(action, route, effects, now);
            self.actions.push([
                text(&stored.id),
                text(origin.event_id),
                text(origin.tenant),
                text(origin.plugin),
                text(stored.kind()),
                text(stored.method()),
                text(stored.url()),
                Value::Text(Some(stored.headers_json())),
                Value::Bytes(stored.body().to_vec()),
                text(stored.status()),
                Value::Int(Some(now)),
                Value::Int(Some(now)),
                Value::Text(stored.continuation().map(str::to_owned)),
                Value::Text(stored.continuation_status().map(str::to_owned)),
                Value::Text(None),
                Value::Int(stored.lease_until()),
                Value::Text(origin.trace_parent.map(str::to_owned)),
            ]);
            stored.written(origin, effects);
        }
        for write in &produced.state {
            self.state.push(StateWrite {
                tenant: origin.tenant.to_owned(),
                plugin: origin.plugin.to_owned(),
                key: write.key.clone(),
                value: write.value.clone(),
            });
        }
        Ok(())
    }

    /// Inserts every row, the tables in the order their references need; state writes last.
    /// A dedup key held by an event within its window fails the whole batch.
    async fn insert(mut self, connection: &mut AnyConnection, now: i64) -> anyhow::Result<()> {
        if let Some(cutoff) = self.newest_cutoff {
            // As `writes::CLAIM_DEDUP_KEY`, for every key at once.
            self.claims.tail = format!(
                "ON CONFLICT (tenant, dedup_key) DO UPDATE
                     SET event_id = excluded.event_id, received_at = excluded.received_at
                     WHERE dedup_keys.received_at < {cutoff}"
            );
            let keys = self.claims.rows() as u64;
            if self.claims.insert(connection).await? < keys {
                return Err(DuplicateEvent.into());
            }
        }
        for table in [self.events, self.runs, self.actions] {
            if table.rows() > 0 {
                table.insert(connection).await?;
            }
        }
        for write in &self.state {
            let query = match &write.value {
                Some(value) => sqlx::query(UPSERT_STATE)
                    .bind(&write.tenant)
                    .bind(&write.plugin)
                    .bind(&write.key)
                    .bind(value)
                    .bind(now),
                None => sqlx::query(DELETE_STATE)
                    .bind(&write.tenant)
                    .bind(&write.plugin)
                    .bind(&write.key),
            };
            query.execute(&mut *connection).await?;
        }
        Ok(())
    }
}

/// The attempts of a batch, gathered before they are written.
struct AttemptRows<'w> {
    attempts: Table,
    /// `(action id, status, next attempt at, error)` per attempt, as `writes::AFTER_ATTEMPT`
    /// sets them.
    updates: Table,
    /// Responses kept for the plugins that asked for them, by action id.
    responses: Vec<(&'w str, &'w Response)>,
    /// The actions attempted: one `UPDATE … FROM VALUES` cannot change a row twice.
    actions: HashSet<&'w str>,
}

impl<'w> AttemptRows<'w> {
    fn new() -> Self {
        Self {
            attempts: Table::new(
                "INSERT INTO attempts (action_id, started_at, duration_ms, status_code, error)",
                5,
            ),
            updates: Table::new(
                "UPDATE actions AS a SET status = v.status, attempts = a.attempts + 1,
                     lease_until = NULL, next_attempt_at = COALESCE(v.next_at, a.next_attempt_at),
                     last_error = v.error
                 FROM (",
                4,
            ),
            responses: Vec::new(),
            actions: HashSet::new(),
        }
    }

    /// Adds `write` if it is an attempt. Two attempts of one action fail the batch (its writes
    /// are then committed one by one).
    fn add(&mut self, write: &'w Write, now: i64) -> anyhow::Result<()> {
        let Write::Attempt {
            action_id,
            attempt,
            next,
            response,
        } = write
        else {
            return Ok(());
        };
        if !self.actions.insert(action_id) {
            anyhow::bail!("two attempts of action {action_id} in one batch");
        }
        let text = |text: &str| Value::Text(Some(text.to_owned()));
        self.attempts.push([
            text(action_id),
            Value::Int(Some(attempt.started_at_ms)),
            Value::Int(Some(attempt.duration.as_millis() as i64)),
            Value::Int(attempt.status_code.map(i64::from)),
            Value::Text(attempt.error.clone()),
        ]);
        let (status, next_at) = after_attempt(*next, now);
        self.updates.push([
            text(action_id),
            text(status.as_str()),
            Value::Int(next_at),
            Value::Text(attempt.error.clone()),
        ]);
        if let Some(response) = response {
            self.responses.push((action_id, response));
        }
        Ok(())
    }

    /// Writes every attempt and updates its action; an action that is done leaves its
    /// tenant's backlog.
    async fn apply(
        mut self,
        connection: &mut AnyConnection,
        effects: &mut Effects,
    ) -> anyhow::Result<()> {
        if self.attempts.rows() == 0 {
            return Ok(());
        }
        self.attempts.insert(connection).await?;
        self.updates.tail = ") AS v (id, status, next_at, error) WHERE a.id = v.id
                              RETURNING a.tenant, v.status"
            .into();
        for (tenant, status) in self.updates.fetch(connection).await? {
            if status != ActionStatus::Pending.as_str() {
                effects.backlog(&tenant, -1);
            }
        }
        for (action_id, response) in self.responses {
            sqlx::query(KEEP_RESPONSE)
                .bind(i64::from(response.status))
                .bind(serde_json::to_string(&response.headers)?)
                .bind(&response.body)
                .bind(action_id)
                .execute(&mut *connection)
                .await?;
        }
        Ok(())
    }
}
