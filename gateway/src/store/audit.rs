//! The audit trail, read side: stored events with what became of them, one event's whole story
//! (what arrived, each plugin run, each action and each attempt), and actions across events.
//! The CLI (`events`, `actions`), the admin API and the console all read through here.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use utoipa::ToSchema;

use super::writes::STORED_INCIDENT_LINK;
use super::{now_ms, Store};

/// Which events to list; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub tenant: Option<String>,
    pub event_type: Option<String>,
    pub status: Option<EventStatus>,
    /// Received at or after, Unix ms.
    pub since_ms: Option<i64>,
    /// Received before, Unix ms.
    pub until_ms: Option<i64>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// Where an event stands, derived from its plugin runs and actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    /// Every plugin ran and every action was delivered (or there was nothing to do).
    Done,
    /// Some action is still waiting to be sent.
    Pending,
    /// A plugin run failed or an action failed for good.
    Failed,
}

impl EventStatus {
    /// The status's name, as filters and output spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Done => "done",
            EventStatus::Pending => "pending",
            EventStatus::Failed => "failed",
        }
    }
}

impl std::str::FromStr for EventStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "done" => Ok(EventStatus::Done),
            "pending" => Ok(EventStatus::Pending),
            "failed" => Ok(EventStatus::Failed),
            other => Err(format!(
                "unknown event status `{other}`: expected done, pending or failed"
            )),
        }
    }
}

/// One stored event with counts of what it led to.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct EventSummary {
    pub id: String,
    pub tenant: String,
    pub event_type: String,
    /// Unix ms.
    pub received_at: i64,
    pub replay_of: Option<String>,
    pub plugin_runs: i64,
    pub plugin_errors: i64,
    /// Actions of every kind (HTTP requests and incident links), as the event's story lists them.
    pub actions: i64,
    pub pending: i64,
    pub failed: i64,
    pub status: EventStatus,
}

/// Everything known about one event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventStory {
    pub event: EventSummary,
    /// As received, credentials redacted; empty for replays and for events stored before
    /// headers were kept.
    pub headers: Vec<(String, String)>,
    /// The body as received (lossless for UTF-8, which every Soda event is); the admin API
    /// shows it as JSON when it parses as JSON.
    #[schema(value_type = serde_json::Value)]
    pub body: String,
    pub runs: Vec<RunView>,
    pub actions: Vec<ActionView>,
    /// Replays of this event.
    pub replays: Vec<String>,
}

/// One plugin run on an event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    pub plugin: String,
    /// `handle` for the event, `on_response` for a continuation of `action_id`.
    pub phase: String,
    pub ok: bool,
    pub error: Option<String>,
    pub duration_us: i64,
    pub action_id: Option<String>,
}

/// One action, with its attempts when read as part of a story.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionView {
    pub id: String,
    pub event_id: String,
    pub tenant: String,
    pub plugin: String,
    /// `http`, or `incident_link` (answered to Soda synchronously).
    pub kind: String,
    pub method: String,
    pub url: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub next_attempt_at: i64,
    /// The action whose response produced this one.
    pub parent_action_id: Option<String>,
    pub attempt_log: Vec<AttemptView>,
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptView {
    pub started_at: i64,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
}

/// Which actions to list; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct ActionFilter {
    pub tenant: Option<String>,
    pub plugin: Option<String>,
    /// `pending`, `succeeded` or `failed`.
    pub status: Option<String>,
    pub event_id: Option<String>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// What [`Store::retry_action`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOutcome {
    /// A dead letter was requeued from a fresh retry schedule.
    Requeued,
    /// A pending action waiting for its next attempt is now due at once.
    DueNow,
    /// Delivered already: replay the event to send it again.
    AlreadySucceeded,
    /// No HTTP action with that id.
    NotFound,
}

/// An event's counts, computed per row; the outer query derives the status from them.
const SUMMARY: &str = "SELECT e.id, e.tenant, e.event_type, e.received_at, e.replay_of,
        (SELECT COUNT(*) FROM plugin_runs r WHERE r.event_id = e.id) AS plugin_runs,
        (SELECT COUNT(*) FROM plugin_runs r WHERE r.event_id = e.id AND r.outcome = 'error')
            AS plugin_errors,
        (SELECT COUNT(*) FROM actions a WHERE a.event_id = e.id) AS actions,
        (SELECT COUNT(*) FROM actions a WHERE a.event_id = e.id AND a.status = 'pending')
            AS pending,
        (SELECT COUNT(*) FROM actions a WHERE a.event_id = e.id AND a.status = 'failed')
            AS failed
    FROM events e";

const STATUS: &str = "CASE WHEN c.failed > 0 OR c.plugin_errors > 0 THEN 'failed'
         WHEN c.pending > 0 THEN 'pending' ELSE 'done' END";

const ACTION_COLUMNS: &str = "id, event_id, tenant, plugin, kind, method, url, status, attempts,
    last_error, created_at, next_attempt_at, parent_action_id";

/// A `WHERE` clause built from optional conditions, with its `$N` parameters in order.
#[derive(Default)]
struct Conditions {
    clauses: Vec<String>,
    params: Vec<Param>,
}

enum Param {
    Text(String),
    Int(i64),
}

impl Conditions {
    fn add(&mut self, clause: &str, param: Param) {
        self.params.push(param);
        self.clauses
            .push(clause.replace('?', &format!("${}", self.params.len())));
    }

    fn text(&mut self, clause: &str, value: &Option<String>) {
        if let Some(value) = value {
            self.add(clause, Param::Text(value.clone()));
        }
    }

    fn int(&mut self, clause: &str, value: Option<i64>) {
        if let Some(value) = value {
            self.add(clause, Param::Int(value));
        }
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The parameter number the next bound value gets.
    fn next(&self) -> usize {
        self.params.len() + 1
    }

    fn bind<'q>(
        &'q self,
        mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for param in &self.params {
            query = match param {
                Param::Text(text) => query.bind(text.as_str()),
                Param::Int(int) => query.bind(*int),
            };
        }
        query
    }
}

impl Store {
    /// Stored events matching `filter`, newest first.
    pub async fn events(&self, filter: &EventFilter) -> anyhow::Result<Vec<EventSummary>> {
        let mut inner = Conditions::default();
        inner.text("e.tenant = ?", &filter.tenant);
        inner.text("e.event_type = ?", &filter.event_type);
        inner.int("e.received_at >= ?", filter.since_ms);
        inner.int("e.received_at < ?", filter.until_ms);
        let mut status = String::new();
        if let Some(wanted) = filter.status {
            inner.params.push(Param::Text(wanted.as_str().to_owned()));
            status = format!(" WHERE s.status = ${}", inner.params.len());
        }
        let limit = inner.next();
        let sql = format!(
            "SELECT * FROM (SELECT c.*, {STATUS} AS status FROM ({SUMMARY}{}) c) s{status}
             ORDER BY s.received_at DESC, s.id DESC LIMIT ${limit}",
            inner.sql()
        );
        let rows = inner
            .bind(sqlx::query(&sql))
            .bind(filter.limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(summary).collect()
    }

    /// One event's whole story, or `None` if there is no such event.
    pub async fn event_story(&self, id: &str) -> anyhow::Result<Option<EventStory>> {
        let sql = format!(
            "SELECT c.*, {STATUS} AS status, body, headers
             FROM ({SUMMARY} WHERE e.id = $1) c JOIN events USING (id)"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let headers: Option<String> = row.try_get("headers")?;
        let body: Vec<u8> = row.try_get("body")?;
        let runs = sqlx::query(
            "SELECT plugin, phase, outcome, error, duration_us, action_id
             FROM plugin_runs WHERE event_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(run_view)
        .collect::<anyhow::Result<_>>()?;
        let mut actions: Vec<ActionView> = sqlx::query(&format!(
            "SELECT {ACTION_COLUMNS} FROM actions WHERE event_id = $1 ORDER BY created_at, id"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(action_view)
        .collect::<anyhow::Result<_>>()?;
        let attempts = sqlx::query(
            "SELECT t.action_id, t.started_at, t.duration_ms, t.status_code, t.error
             FROM attempts t JOIN actions a ON a.id = t.action_id
             WHERE a.event_id = $1 ORDER BY t.id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        for row in &attempts {
            let action_id: String = row.try_get("action_id")?;
            if let Some(action) = actions.iter_mut().find(|a| a.id == action_id) {
                action.attempt_log.push(AttemptView {
                    started_at: row.try_get("started_at")?,
                    duration_ms: row.try_get("duration_ms")?,
                    status_code: row.try_get("status_code")?,
                    error: row.try_get("error")?,
                });
            }
        }
        let replays = sqlx::query_scalar(
            "SELECT id FROM events WHERE replay_of = $1 ORDER BY received_at, id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(EventStory {
            event: summary(&row)?,
            headers: match headers {
                Some(json) => serde_json::from_str(&json)?,
                None => Vec::new(),
            },
            body: String::from_utf8_lossy(&body).into_owned(),
            runs,
            actions,
            replays,
        }))
    }

    /// HTTP actions matching `filter`, newest first (without their attempts).
    pub async fn actions(&self, filter: &ActionFilter) -> anyhow::Result<Vec<ActionView>> {
        let mut conditions = Conditions::default();
        conditions.clauses.push("kind = 'http'".into());
        conditions.text("tenant = ?", &filter.tenant);
        conditions.text("plugin = ?", &filter.plugin);
        conditions.text("status = ?", &filter.status);
        conditions.text("event_id = ?", &filter.event_id);
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM actions{} ORDER BY created_at DESC, id DESC LIMIT ${}",
            conditions.sql(),
            conditions.next()
        );
        let rows = conditions
            .bind(sqlx::query(&sql))
            .bind(filter.limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(action_view).collect()
    }

    /// Sends one HTTP action again: a dead letter from a fresh retry schedule, a pending one at
    /// once. A delivered action is left alone (replay its event to send it again).
    pub async fn retry_action(&self, id: &str) -> anyhow::Result<RetryOutcome> {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM actions WHERE id = $1 AND kind = 'http'")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let (sql, outcome) = match status.as_deref() {
            None => return Ok(RetryOutcome::NotFound),
            Some("succeeded") => return Ok(RetryOutcome::AlreadySucceeded),
            Some("failed") => (
                "UPDATE actions SET status = 'pending', attempts = 0, next_attempt_at = $1,
                     lease_until = NULL
                 WHERE id = $2 AND status = 'failed'",
                RetryOutcome::Requeued,
            ),
            Some(_) => (
                // A leased action is being sent right now; its lease is left alone.
                "UPDATE actions SET next_attempt_at = $1 WHERE id = $2 AND status = 'pending'",
                RetryOutcome::DueNow,
            ),
        };
        let changed = sqlx::query(sql)
            .bind(now_ms())
            .bind(id)
            .execute(&self.writes)
            .await?
            .rows_affected();
        if changed == 0 {
            // It changed state in between (delivered or failed meanwhile): ask again.
            return Box::pin(self.retry_action(id)).await;
        }
        Ok(outcome)
    }
}

fn summary(row: &AnyRow) -> anyhow::Result<EventSummary> {
    let status: String = row.try_get("status")?;
    Ok(EventSummary {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        event_type: row.try_get("event_type")?,
        received_at: row.try_get("received_at")?,
        replay_of: row.try_get("replay_of")?,
        plugin_runs: row.try_get("plugin_runs")?,
        plugin_errors: row.try_get("plugin_errors")?,
        actions: row.try_get("actions")?,
        pending: row.try_get("pending")?,
        failed: row.try_get("failed")?,
        status: status.parse().map_err(anyhow::Error::msg)?,
    })
}

fn run_view(row: &AnyRow) -> anyhow::Result<RunView> {
    let outcome: String = row.try_get("outcome")?;
    Ok(RunView {
        plugin: row.try_get("plugin")?,
        phase: row.try_get("phase")?,
        ok: outcome == "ok",
        error: row.try_get("error")?,
        duration_us: row.try_get("duration_us")?,
        action_id: row.try_get("action_id")?,
    })
}

/// The action kind as the CLI, the admin API and the console name it: the store spells an
/// incident link `link_answer`, its name before the contract called it `incident-link`.
fn public_kind(stored: String) -> String {
    if stored == STORED_INCIDENT_LINK {
        "incident_link".to_owned()
    } else {
        stored
    }
}

fn action_view(row: &AnyRow) -> anyhow::Result<ActionView> {
    Ok(ActionView {
        id: row.try_get("id")?,
        event_id: row.try_get("event_id")?,
        tenant: row.try_get("tenant")?,
        plugin: row.try_get("plugin")?,
        kind: public_kind(row.try_get("kind")?),
        method: row.try_get("method")?,
        url: row.try_get("url")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        parent_action_id: row.try_get("parent_action_id")?,
        attempt_log: Vec::new(),
    })
}
