//! Store tests, each run on both backends: a real SQLite file in a temporary folder
//! (`store::tests::sqlite::*`) and a fresh schema in PostgreSQL (`store::tests::postgres::*`).
//!
//! PostgreSQL is found at `SODA_TEST_PG_URL`, by default the development and CI server
//! `postgres://postgres@127.0.0.1:5432/test`. When none answers, the PostgreSQL tests fail:
//! they never skip.

use super::*;
use crate::records::{NewAction, Next, PluginRun, Produced, Response, StateWrite};
use axum::http::Method;
use std::time::Instant;

const HOUR: Duration = Duration::from_secs(3600);

on_both_backends!(
    an_event_is_stored_with_its_runs_and_actions,
    a_claimed_action_is_not_claimed_again_while_leased,
    a_retry_waits_its_delay_and_counts_the_attempt,
    leases_of_a_dead_process_are_released_on_open,
    a_failed_event_write_leaves_nothing_behind,
    state_writes_are_kept_per_tenant_and_plugin_and_only_for_successful_runs,
    a_response_is_kept_for_the_plugin_and_its_run_stored_with_new_actions,
    a_duplicate_is_found_within_the_window_with_its_link_answer,
    a_taken_dedup_key_refuses_the_second_event_within_the_window_only,
    retention_keeps_events_with_work_left_and_deletes_finished_ones,
    a_failed_action_is_a_dead_letter_until_it_is_retried,
    pruning_an_original_keeps_its_newer_replay,
    concurrent_claimers_never_get_the_same_action,
    an_expired_lease_is_taken_over,
    a_bad_write_among_concurrent_ones_fails_alone,
    a_duplicate_among_concurrent_events_is_refused_alone_and_the_rest_stored_whole,
    a_claim_takes_expired_leases_first_then_free_actions_never_held_ones,
    an_events_story_holds_its_headers_runs_actions_and_attempts,
    events_are_listed_newest_first_and_filtered,
    the_list_and_the_story_count_and_name_incident_links_alike,
    retrying_an_action_requeues_a_dead_letter_and_hastens_a_waiting_one,
    the_charts_count_a_tenants_events_failures_and_deliveries_per_bucket,
    the_charts_leave_out_other_tenants_times_outside_the_window_and_undelivered_actions
);

/// Declares `sqlite::<test>` and `postgres::<test>` for each `async fn <test>(db: TestDb)`.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $test() {
                let db = super::TestDb::sqlite();
                super::$test(db).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $test() {
                let db = super::TestDb::postgres();
                let cleanup = db.cleanup_handle();
                super::$test(db).await;
                cleanup.drop_schema().await;
            })*
        }
    };
}
use on_both_backends;

/// An empty database of one backend for one test.
struct TestDb {
    database: Database,
    /// Holds the SQLite file's folder for the test's lifetime.
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        TestDb {
            database: Database::Sqlite(dir.path().join("gateway.db")),
            _dir: Some(dir),
        }
    }

    /// A schema of its own in the test server, so tests run in parallel.
    fn postgres() -> Self {
        let url = std::env::var("SODA_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("soda_store_test_{}", uuid::Uuid::now_v7().simple());
        TestDb {
            database: Database::Postgres {
                url,
                schema: Some(schema),
            },
            _dir: None,
        }
    }

    /// Opens (the first time: creates) the store.
    async fn open(&self) -> Store {
        Store::open(&self.database)
            .await
            .unwrap_or_else(|e| panic!("cannot open the test database {:?}: {e:#}", self.database))
    }

    fn cleanup_handle(&self) -> TestDb {
        TestDb {
            database: self.database.clone(),
            _dir: None,
        }
    }

    /// Drops the test's schema (left in place when the test failed, for a look).
    async fn drop_schema(self) {
        if let Database::Postgres {
            schema: Some(schema),
            ..
        } = &self.database
        {
            let store = self.open().await;
            sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .execute(&store.pool)
                .await
                .unwrap();
        }
    }
}

fn request(url: &str) -> Request {
    Request::new(
        Method::POST,
        url.into(),
        vec![("content-type".into(), "application/json".into())],
        b"{}".to_vec(),
    )
    .unwrap()
}

/// An attempt that just ended with `status`.
fn attempt(status: u16, error: Option<&str>) -> AttemptRecord {
    AttemptRecord {
        started_at_ms: now_ms(),
        duration: Duration::ZERO,
        status_code: Some(status),
        error: error.map(str::to_owned),
    }
}

async fn store_with_one_action(db: &TestDb) -> Store {
    let store = db.open().await;
    let produced = Produced {
        actions: vec![
            NewAction::Http(request("https://hooks.test/a")),
            NewAction::IncidentLink {
                url: "https://t.test/1".into(),
                text: "T-1".into(),
            },
        ],
        state: vec![StateWrite {
            key: "k".into(),
            value: Some(b"v".to_vec()),
        }],
    };
    let runs = [
        PluginRun {
            plugin: "slack".into(),
            duration: Duration::from_micros(40),
            outcome: Ok(produced.clone()),
        },
        PluginRun {
            plugin: "broken".into(),
            duration: Duration::from_micros(9),
            outcome: Err("trapped".into()),
        },
    ];
    let event = EventRecord {
        id: "evt_1",
        tenant: "acme",
        event_type: "checkEvaluation",
        body: b"{}",
        dedup: Some(Dedup {
            key: "sha256:x",
            window: HOUR,
        }),
        replay_of: None,
        headers: &[],
        trace_parent: None,
    };
    store.record_event(&event, &runs).await.unwrap();
    store
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&store.pool)
        .await
        .unwrap()
}

async fn an_event_is_stored_with_its_runs_and_actions(db: TestDb) {
    let store = store_with_one_action(&db).await;
    assert_eq!(count(&store, "SELECT COUNT(*) FROM events").await, 1);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM plugin_runs WHERE outcome = 'error' AND error = 'trapped'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM actions WHERE kind = 'http' AND status = 'pending'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM actions WHERE kind = 'link_answer' AND status = 'succeeded'"
        )
        .await,
        1
    );
}

async fn a_claimed_action_is_not_claimed_again_while_leased(db: TestDb) {
    let store = store_with_one_action(&db).await;
    let claimed = store.claim_due(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(claimed.len(), 1, "only the http action is due");
    assert_eq!(claimed[0].request, request("https://hooks.test/a"));
    assert_eq!(claimed[0].attempts, 0);
    assert!(store
        .claim_due(10, Duration::from_secs(60))
        .await
        .unwrap()
        .is_empty());
}

async fn a_retry_waits_its_delay_and_counts_the_attempt(db: TestDb) {
    let store = store_with_one_action(&db).await;
    let id = store.claim_due(10, Duration::from_secs(60)).await.unwrap()[0]
        .id
        .clone();
    let attempt = attempt(503, Some("HTTP 503"));
    const DELAY: Duration = Duration::from_millis(200);
    let recorded = Instant::now();
    store
        .record_attempt(&id, &attempt, Next::RetryAfter(DELAY), None)
        .await
        .unwrap();
    let early = store.claim_due(10, Duration::from_secs(60)).await.unwrap();
    // Not due before its delay; a busy machine may have taken longer than the delay to get
    // here, and then the claim is the retry itself.
    if recorded.elapsed() < DELAY {
        assert!(early.is_empty(), "due before its delay: {early:?}");
    }
    let again = if early.is_empty() {
        tokio::time::sleep(DELAY + Duration::from_millis(50)).await;
        store.claim_due(10, Duration::from_secs(60)).await.unwrap()
    } else {
        early
    };
    assert_eq!((again.len(), again[0].attempts), (1, 1));
    store
        .record_attempt(&id, &attempt, Next::Succeeded, None)
        .await
        .unwrap();
    assert_eq!(count(&store, "SELECT COUNT(*) FROM attempts").await, 2);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM actions WHERE status = 'succeeded' AND kind = 'http'"
        )
        .await,
        1
    );
    assert!(store
        .claim_due(10, Duration::from_secs(60))
        .await
        .unwrap()
        .is_empty());
}

async fn leases_of_a_dead_process_are_released_on_open(db: TestDb) {
    let store = store_with_one_action(&db).await;
    assert_eq!(
        store
            .claim_due(10, Duration::from_secs(600))
            .await
            .unwrap()
            .len(),
        1
    );
    store.pool.close().await;
    store.writes.close().await;
    let reopened = db.open().await;
    reopened.release_leases().await.unwrap();
    assert_eq!(
        reopened
            .claim_due(10, Duration::from_secs(600))
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn a_failed_event_write_leaves_nothing_behind(db: TestDb) {
    let store = store_with_one_action(&db).await;
    // The same event id again violates the primary key: the whole transaction must roll back.
    let produced = Produced {
        actions: vec![NewAction::Http(request("https://hooks.test/b"))],
        state: vec![],
    };
    let runs = [PluginRun {
        plugin: "slack".into(),
        duration: Duration::ZERO,
        outcome: Ok(produced.clone()),
    }];
    let event = EventRecord {
        id: "evt_1",
        tenant: "acme",
        event_type: "checkEvaluation",
        body: b"{}",
        dedup: None,
        replay_of: None,
        headers: &[],
        trace_parent: None,
    };
    assert!(store.record_event(&event, &runs).await.is_err());
    assert_eq!(count(&store, "SELECT COUNT(*) FROM actions").await, 2);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM plugin_runs").await, 2);
}

async fn state_writes_are_kept_per_tenant_and_plugin_and_only_for_successful_runs(db: TestDb) {
    let store = store_with_one_action(&db).await;
    let get = |tenant: &'static str, plugin: &'static str| {
        let store = store.clone();
        async move { store.state_get(tenant, plugin, "k").await.unwrap() }
    };
    assert_eq!(get("acme", "slack").await, Some(b"v".to_vec()));
    assert_eq!(get("acme", "broken").await, None, "per plugin");
    assert_eq!(get("other", "slack").await, None, "per tenant");
    assert_eq!(store.state_count("acme", "slack").await.unwrap(), 1);
}

/// An event's trace context, kept with every action of the event.
const TRACE_PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn a_response_is_kept_for_the_plugin_and_its_run_stored_with_new_actions(db: TestDb) {
    let store = db.open().await;
    let create = Request {
        continuation: Some("step-2".into()),
        ..request("https://jira.test/issue")
    };
    let produced = Produced {
        actions: vec![NewAction::Http(create)],
        state: vec![],
    };
    let runs = [PluginRun {
        plugin: "jira".into(),
        duration: Duration::ZERO,
        outcome: Ok(produced.clone()),
    }];
    let event = EventRecord {
        id: "evt_1",
        tenant: "acme",
        event_type: "incidentCreated",
        body: b"{}",
        dedup: Some(Dedup {
            key: "sha256:x",
            window: HOUR,
        }),
        replay_of: None,
        headers: &[],
        trace_parent: Some(TRACE_PARENT),
    };
    store.record_event(&event, &runs).await.unwrap();
    let lease = Duration::from_secs(60);
    let due = store.claim_due(10, lease).await.unwrap();
    assert_eq!(due[0].request.continuation.as_deref(), Some("step-2"));
    assert_eq!(due[0].trace_parent.as_deref(), Some(TRACE_PARENT));
    assert!(store
        .claim_continuations(10, lease)
        .await
        .unwrap()
        .is_empty());

    let attempt = attempt(201, None);
    let response = Response {
        status: 201,
        headers: vec![("x".into(), "y".into())],
        body: br#"{"key":"X-1"}"#.to_vec(),
    };
    store
        .record_attempt(&due[0].id, &attempt, Next::Succeeded, Some(&response))
        .await
        .unwrap();
    let pending = store.claim_continuations(10, lease).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].continuation, "step-2");
    assert_eq!(pending[0].response, response);
    assert_eq!(pending[0].trace_parent.as_deref(), Some(TRACE_PARENT));
    assert!(
        store
            .claim_continuations(10, lease)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );

    let follow_up = Produced {
        actions: vec![NewAction::Http(request("https://soda.test/callback"))],
        state: vec![StateWrite {
            key: "issue".into(),
            value: Some(b"X-1".to_vec()),
        }],
    };
    let run = PluginRun {
        plugin: "jira".into(),
        duration: Duration::ZERO,
        outcome: Ok(follow_up.clone()),
    };
    store
        .complete_continuation(&pending[0], &run)
        .await
        .unwrap();
    let sql = "SELECT COUNT(*) FROM plugin_runs WHERE phase = 'on_response'";
    assert_eq!(count(&store, sql).await, 1);
    let sql =
        "SELECT COUNT(*) FROM actions WHERE parent_action_id IS NOT NULL AND status = 'pending'";
    assert_eq!(count(&store, sql).await, 1);
    let sql = "SELECT COUNT(*) FROM actions WHERE continuation_status = 'done'";
    assert_eq!(count(&store, sql).await, 1);
    assert_eq!(
        store.state_get("acme", "jira", "issue").await.unwrap(),
        Some(b"X-1".to_vec())
    );
    let follow_up = store.claim_due(10, lease).await.unwrap();
    assert_eq!(
        follow_up[0].trace_parent.as_deref(),
        Some(TRACE_PARENT),
        "the chain's actions stay in the event's trace"
    );
}

async fn a_duplicate_is_found_within_the_window_with_its_link_answer(db: TestDb) {
    let store = store_with_one_action(&db).await;
    let (id, link) = store
        .find_duplicate("acme", "sha256:x", 0)
        .await
        .unwrap()
        .expect("found");
    assert_eq!(id, "evt_1");
    assert_eq!(
        link,
        Some(serde_json::json!({"url": "https://t.test/1", "text": "T-1"}))
    );
    let later = now_ms() + 60_000;
    assert!(
        store
            .find_duplicate("acme", "sha256:x", later)
            .await
            .unwrap()
            .is_none(),
        "outside the window"
    );
    assert!(
        store
            .find_duplicate("other", "sha256:x", 0)
            .await
            .unwrap()
            .is_none(),
        "per tenant"
    );
    assert!(store
        .find_duplicate("acme", "sha256:y", 0)
        .await
        .unwrap()
        .is_none());
}

async fn a_taken_dedup_key_refuses_the_second_event_within_the_window_only(db: TestDb) {
    let store = store_with_one_action(&db).await;
    let again = |id, window| EventRecord {
        dedup: Some(Dedup {
            key: "sha256:x",
            window,
        }),
        ..check_evaluation(id)
    };
    let refused = store.record_event(&again("evt_2", HOUR), &[]).await;
    let error = refused.expect_err("a duplicate within the window");
    assert!(
        error.downcast_ref::<DuplicateEvent>().is_some(),
        "{error:#}"
    );
    assert!(
        store.event("evt_2").await.unwrap().is_none(),
        "nothing stored"
    );
    let other_tenant = EventRecord {
        tenant: "other",
        ..again("evt_3", HOUR)
    };
    store.record_event(&other_tenant, &[]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    store
        .record_event(&again("evt_4", Duration::from_millis(1)), &[])
        .await
        .expect("the window is over");
    let (original, _) = store
        .find_duplicate("acme", "sha256:x", 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(original, "evt_4", "the key now belongs to the newest");
}

async fn retention_keeps_events_with_work_left_and_deletes_finished_ones(db: TestDb) {
    let store = store_with_one_action(&db).await;
    let future = now_ms() + 60_000;
    // The http action is still pending: nothing may go, however old.
    assert_eq!(store.prune(future).await.unwrap(), Pruned::default());
    assert_eq!(count(&store, "SELECT COUNT(*) FROM events").await, 1);

    let id = store.claim_due(10, Duration::from_secs(60)).await.unwrap()[0]
        .id
        .clone();
    let attempt = attempt(200, None);
    store
        .record_attempt(&id, &attempt, Next::Succeeded, None)
        .await
        .unwrap();
    assert_eq!(
        store.prune(now_ms() - 60_000).await.unwrap(),
        Pruned::default(),
        "too recent"
    );
    let pruned = store.prune(future).await.unwrap();
    assert_eq!((pruned.events, pruned.actions, pruned.attempts), (1, 2, 1));
    for table in ["events", "plugin_runs", "actions", "attempts"] {
        assert_eq!(
            count(&store, &format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
}

async fn a_failed_action_is_a_dead_letter_until_it_is_retried(db: TestDb) {
    let store = store_with_one_action(&db).await;
    let id = store.claim_due(10, Duration::from_secs(60)).await.unwrap()[0]
        .id
        .clone();
    let attempt = attempt(400, Some("HTTP 400: invalid_payload"));
    store
        .record_attempt(&id, &attempt, Next::Failed, None)
        .await
        .unwrap();
    let letters = store.dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].id, id);
    assert_eq!(
        letters[0].last_error.as_deref(),
        Some("HTTP 400: invalid_payload")
    );

    let unknown = ["act_unknown".to_string()];
    assert_eq!(store.retry_dead_letters(&unknown).await.unwrap(), 0);
    assert_eq!(
        store
            .retry_dead_letters(std::slice::from_ref(&id))
            .await
            .unwrap(),
        1
    );
    assert!(store.dead_letters(10).await.unwrap().is_empty());
    let due = store.claim_due(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!((due[0].id.as_str(), due[0].attempts), (id.as_str(), 0));
}

async fn pruning_an_original_keeps_its_newer_replay(db: TestDb) {
    let store = db.open().await;
    let record = |id: &'static str, replay_of: Option<&'static str>| EventRecord {
        id,
        tenant: "acme",
        event_type: "validate",
        body: b"{}",
        dedup: None,
        replay_of,
        headers: &[],
        trace_parent: None,
    };
    store
        .record_event(&record("evt_1", None), &[])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cutoff = now_ms();
    tokio::time::sleep(Duration::from_millis(20)).await;
    store
        .record_event(&record("evt_2", Some("evt_1")), &[])
        .await
        .unwrap();
    assert_eq!(store.prune(cutoff).await.unwrap().events, 1);
    assert!(store.event("evt_1").await.unwrap().is_none());
    assert!(store.event("evt_2").await.unwrap().is_some());
}

/// A `checkEvaluation` for tenant `acme`, without a dedup key.
fn check_evaluation(id: &str) -> EventRecord<'_> {
    EventRecord {
        id,
        tenant: "acme",
        event_type: "checkEvaluation",
        body: b"{}",
        dedup: None,
        replay_of: None,
        headers: &[],
        trace_parent: None,
    }
}

/// Stores `count` events with one pending HTTP action each.
async fn store_pending_actions(store: &Store, count: usize) {
    let produced = Produced {
        actions: vec![NewAction::Http(request("https://hooks.test/many"))],
        state: vec![],
    };
    for i in 0..count {
        let id = format!("evt_many_{i}");
        let event = check_evaluation(&id);
        let runs = [PluginRun {
            plugin: "slack".into(),
            duration: Duration::ZERO,
            outcome: Ok(produced.clone()),
        }];
        store.record_event(&event, &runs).await.unwrap();
    }
}

async fn concurrent_claimers_never_get_the_same_action(db: TestDb) {
    let store = db.open().await;
    store_pending_actions(&store, 60).await;
    // Separate pools, as separate replicas would have.
    let mut claimers = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let replica = db.open().await;
        claimers.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let due = replica.claim_due(4, Duration::from_secs(60)).await.unwrap();
                if due.is_empty() {
                    return mine;
                }
                mine.extend(due.into_iter().map(|action| action.id));
            }
        });
    }
    let mut claimed = Vec::new();
    while let Some(mine) = claimers.join_next().await {
        claimed.extend(mine.unwrap());
    }
    let distinct: std::collections::HashSet<_> = claimed.iter().collect();
    assert_eq!(claimed.len(), 60, "every action claimed exactly once");
    assert_eq!(distinct.len(), 60);
}

async fn a_claim_takes_expired_leases_first_then_free_actions_never_held_ones(db: TestDb) {
    let store = db.open().await;
    let urls = [
        "https://hooks.test/a",
        "https://hooks.test/b",
        "https://hooks.test/c",
    ];
    for (i, url) in urls.iter().enumerate() {
        let produced = Produced {
            actions: vec![NewAction::Http(request(url))],
            state: vec![],
        };
        let runs = [PluginRun {
            plugin: "slack".into(),
            duration: Duration::from_micros(7),
            outcome: Ok(produced.clone()),
        }];
        let id = format!("evt_l{i}");
        store
            .record_event(&check_evaluation(&id), &runs)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await; // due one after the other
    }
    let url_of = |claimed: &[DueAction]| -> Vec<String> {
        claimed.iter().map(|due| due.request.url.clone()).collect()
    };
    // The long lease first: however slowly a busy machine gets to the next claim, it still
    // holds, while the short one has surely run out after the sleep.
    let held = store.claim_due(1, Duration::from_secs(60)).await.unwrap();
    assert_eq!(url_of(&held), [urls[0]], "the oldest first");
    let short = store
        .claim_due(1, Duration::from_millis(200))
        .await
        .unwrap();
    assert_eq!(url_of(&short), [urls[1]]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let claimed = store.claim_due(2, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        url_of(&claimed),
        [urls[1], urls[2]],
        "the expired lease, then the free action; the held one stays held"
    );
    assert!(store
        .claim_due(10, Duration::from_secs(60))
        .await
        .unwrap()
        .is_empty());
}

async fn an_expired_lease_is_taken_over(db: TestDb) {
    const LEASE: Duration = Duration::from_millis(200);
    let store = store_with_one_action(&db).await;
    let leased = Instant::now();
    let first = store.claim_due(10, LEASE).await.unwrap();
    assert_eq!(first.len(), 1);
    let during = store.claim_due(10, Duration::from_secs(60)).await.unwrap();
    // Held while leased; a busy machine may have let the lease run out already, and then the
    // claim is the takeover itself.
    if leased.elapsed() < LEASE {
        assert!(during.is_empty(), "claimed again while leased: {during:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let taken_over = if during.is_empty() {
        let other = db.open().await;
        other.claim_due(10, Duration::from_secs(60)).await.unwrap()
    } else {
        during
    };
    assert_eq!(taken_over.len(), 1, "the lease ran out");
    assert_eq!(taken_over[0].id, first[0].id);
}

async fn a_bad_write_among_concurrent_ones_fails_alone(db: TestDb) {
    let store = store_with_one_action(&db).await;
    // Concurrent writes share commits; `evt_1` exists already, so that one must fail, alone.
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..20 {
        let store = store.clone();
        writers.spawn(async move {
            let id = if i == 7 {
                "evt_1".to_string()
            } else {
                format!("evt_c{i}")
            };
            let event = check_evaluation(&id);
            (i, store.record_event(&event, &[]).await.is_ok())
        });
    }
    let mut failed = Vec::new();
    while let Some(joined) = writers.join_next().await {
        let (i, ok) = joined.unwrap();
        if !ok {
            failed.push(i);
        }
    }
    assert_eq!(failed, vec![7]);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM events").await, 20);
}

async fn a_duplicate_among_concurrent_events_is_refused_alone_and_the_rest_stored_whole(
    db: TestDb,
) {
    let store = db.open().await;
    let produced = Produced {
        actions: vec![
            NewAction::Http(request("https://hooks.test/a")),
            NewAction::Http(request("https://hooks.test/b")),
        ],
        state: vec![],
    };
    // Concurrent events share commits (on PostgreSQL, one statement per table); events 3 and
    // 11 carry the same dedup key, so exactly one of them is stored.
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..24 {
        let store = store.clone();
        let produced = produced.clone();
        writers.spawn(async move {
            let id = format!("evt_d{i}");
            let key = if i == 11 {
                "k3".to_string()
            } else {
                format!("k{i}")
            };
            let event = EventRecord {
                dedup: Some(Dedup {
                    key: &key,
                    window: HOUR,
                }),
                ..check_evaluation(&id)
            };
            let runs = [PluginRun {
                plugin: "slack".into(),
                duration: Duration::from_micros(7),
                outcome: Ok(produced.clone()),
            }];
            match store.record_event(&event, &runs).await {
                Ok(()) => Ok(i),
                Err(error) => Err((i, error.downcast_ref::<DuplicateEvent>().is_some())),
            }
        });
    }
    let mut refused = Vec::new();
    while let Some(joined) = writers.join_next().await {
        if let Err((i, duplicate)) = joined.unwrap() {
            assert!(duplicate, "event {i} failed for another reason");
            refused.push(i);
        }
    }
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0] == 3 || refused[0] == 11, "{refused:?}");
    assert_eq!(count(&store, "SELECT COUNT(*) FROM events").await, 23);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM plugin_runs").await, 23);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM actions").await, 46);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM dedup_keys").await, 23);
}

async fn an_events_story_holds_its_headers_runs_actions_and_attempts(db: TestDb) {
    let store = db.open().await;
    let produced = Produced {
        actions: vec![NewAction::Http(request("https://hooks.test/story"))],
        state: vec![],
    };
    let headers = [
        ("content-type".to_string(), "application/json".to_string()),
        ("x-signature".to_string(), "[redacted]".to_string()),
    ];
    let event = EventRecord {
        headers: &headers,
        body: br#"{"event":"checkEvaluation"}"#,
        ..check_evaluation("evt_story")
    };
    let runs = [
        PluginRun {
            plugin: "slack".into(),
            duration: Duration::from_micros(42),
            outcome: Ok(produced.clone()),
        },
        PluginRun {
            plugin: "broken".into(),
            duration: Duration::from_micros(7),
            outcome: Err("trapped: unreachable".into()),
        },
    ];
    store.record_event(&event, &runs).await.unwrap();
    let action = store.claim_due(1, Duration::from_secs(60)).await.unwrap()[0].clone();
    assert_eq!(action.event_id, "evt_story");
    store
        .record_attempt(
            &action.id,
            &attempt(503, Some("HTTP 503")),
            Next::RetryAfter(Duration::ZERO),
            None,
        )
        .await
        .unwrap();
    store
        .record_attempt(&action.id, &attempt(200, None), Next::Succeeded, None)
        .await
        .unwrap();

    let story = store.event_story("evt_story").await.unwrap().unwrap();
    assert_eq!(story.headers, headers);
    assert_eq!(story.body, r#"{"event":"checkEvaluation"}"#);
    assert_eq!(story.event.status, EventStatus::Failed, "a plugin failed");
    assert_eq!((story.event.plugin_runs, story.event.plugin_errors), (2, 1));
    let run_summary: Vec<_> = story
        .runs
        .iter()
        .map(|run| {
            (
                run.plugin.as_str(),
                run.ok,
                run.duration_us,
                run.error.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        run_summary,
        [
            ("slack", true, 42, None),
            ("broken", false, 7, Some("trapped: unreachable"))
        ]
    );
    assert_eq!(story.actions.len(), 1);
    let sent = &story.actions[0];
    assert_eq!(
        (sent.url.as_str(), sent.status.as_str(), sent.attempts),
        ("https://hooks.test/story", "succeeded", 2)
    );
    let codes: Vec<_> = sent
        .attempt_log
        .iter()
        .map(|a| (a.status_code, a.error.as_deref()))
        .collect();
    assert_eq!(codes, [(Some(503), Some("HTTP 503")), (Some(200), None)]);
    assert!(store.event_story("evt_none").await.unwrap().is_none());
}

async fn the_list_and_the_story_count_and_name_incident_links_alike(db: TestDb) {
    let store = store_with_one_action(&db).await;
    let all = EventFilter {
        limit: 50,
        ..EventFilter::default()
    };
    let listed = store.events(&all).await.unwrap();
    let story = store.event_story("evt_1").await.unwrap().unwrap();
    let kinds: Vec<&str> = story.actions.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["http", "incident_link"]);
    assert_eq!(listed[0].actions, story.actions.len() as i64);
}

async fn events_are_listed_newest_first_and_filtered(db: TestDb) {
    let store = db.open().await;
    // evt_a: a pending action; evt_b: nothing to do (done); evt_c: another tenant, a failed action.
    let produced = Produced {
        actions: vec![NewAction::Http(request("https://hooks.test/x"))],
        state: vec![],
    };
    let ok = |plugin: &str| PluginRun {
        plugin: plugin.into(),
        duration: Duration::ZERO,
        outcome: Ok(produced.clone()),
    };
    store
        .record_event(&check_evaluation("evt_a"), &[ok("slack")])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let since = now_ms();
    store
        .record_event(
            &EventRecord {
                event_type: "incidentCreated",
                ..check_evaluation("evt_b")
            },
            &[],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    store
        .record_event(
            &EventRecord {
                tenant: "globex",
                ..check_evaluation("evt_c")
            },
            &[ok("jira")],
        )
        .await
        .unwrap();
    let claimed = store.claim_due(10, Duration::from_secs(60)).await.unwrap();
    let globex = claimed.iter().find(|a| a.event_id == "evt_c").unwrap();
    store
        .record_attempt(
            &globex.id,
            &attempt(400, Some("HTTP 400")),
            Next::Failed,
            None,
        )
        .await
        .unwrap();

    let ids = |events: Vec<EventSummary>| {
        events
            .into_iter()
            .map(|e| (e.id, e.status))
            .collect::<Vec<_>>()
    };
    let all = EventFilter {
        limit: 50,
        ..EventFilter::default()
    };
    assert_eq!(
        ids(store.events(&all).await.unwrap()),
        [
            ("evt_c".to_string(), EventStatus::Failed),
            ("evt_b".to_string(), EventStatus::Done),
            ("evt_a".to_string(), EventStatus::Pending),
        ]
    );
    let listed = |filter: EventFilter| {
        let store = store.clone();
        async move {
            ids(store.events(&filter).await.unwrap())
                .into_iter()
                .map(|(id, _)| id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        listed(EventFilter {
            tenant: Some("acme".into()),
            ..all.clone()
        })
        .await,
        ["evt_b", "evt_a"]
    );
    assert_eq!(
        listed(EventFilter {
            event_type: Some("incidentCreated".into()),
            ..all.clone()
        })
        .await,
        ["evt_b"]
    );
    assert_eq!(
        listed(EventFilter {
            status: Some(EventStatus::Pending),
            ..all.clone()
        })
        .await,
        ["evt_a"]
    );
    assert_eq!(
        listed(EventFilter {
            status: Some(EventStatus::Failed),
            ..all.clone()
        })
        .await,
        ["evt_c"]
    );
    assert_eq!(
        listed(EventFilter {
            since_ms: Some(since),
            ..all.clone()
        })
        .await,
        ["evt_c", "evt_b"]
    );
    assert_eq!(
        listed(EventFilter {
            until_ms: Some(since),
            ..all.clone()
        })
        .await,
        ["evt_a"]
    );
    assert_eq!(
        listed(EventFilter {
            limit: 1,
            ..all.clone()
        })
        .await,
        ["evt_c"]
    );

    let failed = ActionFilter {
        status: Some("failed".into()),
        limit: 50,
        ..ActionFilter::default()
    };
    let actions = store.actions(&failed).await.unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(
        (
            actions[0].tenant.as_str(),
            actions[0].plugin.as_str(),
            actions[0].last_error.as_deref()
        ),
        ("globex", "jira", Some("HTTP 400"))
    );
    let of_event = ActionFilter {
        event_id: Some("evt_a".into()),
        limit: 50,
        ..ActionFilter::default()
    };
    assert_eq!(store.actions(&of_event).await.unwrap()[0].status, "pending");
}

async fn retrying_an_action_requeues_a_dead_letter_and_hastens_a_waiting_one(db: TestDb) {
    let store = store_with_one_action(&db).await;
    let id = store.claim_due(10, Duration::from_secs(60)).await.unwrap()[0]
        .id
        .clone();
    store
        .record_attempt(
            &id,
            &attempt(500, Some("HTTP 500")),
            Next::RetryAfter(Duration::from_secs(3600)),
            None,
        )
        .await
        .unwrap();
    assert!(
        store
            .claim_due(10, Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty(),
        "waits an hour"
    );
    assert_eq!(store.retry_action(&id).await.unwrap(), RetryOutcome::DueNow);
    let due = store.claim_due(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        (due[0].id.as_str(), due[0].attempts),
        (id.as_str(), 1),
        "due now, attempts kept"
    );

    store
        .record_attempt(&id, &attempt(400, Some("HTTP 400")), Next::Failed, None)
        .await
        .unwrap();
    assert_eq!(
        store.retry_action(&id).await.unwrap(),
        RetryOutcome::Requeued
    );
    let due = store.claim_due(10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(
        (due[0].id.as_str(), due[0].attempts),
        (id.as_str(), 0),
        "a fresh schedule"
    );

    store
        .record_attempt(&id, &attempt(200, None), Next::Succeeded, None)
        .await
        .unwrap();
    assert_eq!(
        store.retry_action(&id).await.unwrap(),
        RetryOutcome::AlreadySucceeded
    );
    assert_eq!(
        store.retry_action("act_none").await.unwrap(),
        RetryOutcome::NotFound
    );
}

/// Ten-minute buckets of the last day, as the console's charts use them.
const BUCKET_MS: i64 = 600_000;

/// Stores `id` for `tenant` as received at `at` (Unix ms), its actions created then.
async fn record_at(store: &Store, id: &str, tenant: &str, at: i64, runs: &[PluginRun]) {
    let event = EventRecord {
        tenant,
        ..check_evaluation(id)
    };
    store.record_event(&event, runs).await.unwrap();
    for sql in [
        "UPDATE events SET received_at = $1 WHERE id = $2",
        "UPDATE actions SET created_at = $1 WHERE event_id = $2",
    ] {
        sqlx::query(sql)
            .bind(at)
            .bind(id)
            .execute(&store.writes)
            .await
            .unwrap();
    }
}

/// A run of `plugin` that returned one HTTP action (`Ok`) or failed.
fn run(plugin: &str, ok: bool) -> PluginRun {
    let produced = Produced {
        actions: vec![NewAction::Http(request("https://hooks.test/chart"))],
        state: vec![],
    };
    PluginRun {
        plugin: plugin.into(),
        duration: Duration::ZERO,
        outcome: if ok {
            Ok(produced)
        } else {
            Err("trapped".into())
        },
    }
}

/// The id of `event`'s HTTP action.
async fn action_of(store: &Store, event: &str) -> String {
    sqlx::query_scalar("SELECT id FROM actions WHERE event_id = $1")
        .bind(event)
        .fetch_one(&store.pool)
        .await
        .unwrap()
}

/// Records an attempt of `action` that started `after` ms past `created` and took 50 ms.
async fn attempt_at(store: &Store, action: &str, created: i64, after: i64, next: Next) {
    let status = if next == Next::Succeeded { 200 } else { 503 };
    let attempt = AttemptRecord {
        started_at_ms: created + after,
        duration: Duration::from_millis(50),
        ..attempt(status, None)
    };
    store
        .record_attempt(action, &attempt, next, None)
        .await
        .unwrap();
}

async fn the_charts_count_a_tenants_events_failures_and_deliveries_per_bucket(db: TestDb) {
    let store = db.open().await;
    let window = Window::ending_at(now_ms(), BUCKET_MS, 144);
    let first = window.start_ms + 1_000;
    let last = window.end_ms() - 60_000;
    record_at(&store, "evt_1", "acme", first, &[run("slack", true)]).await;
    let both = [run("slack", true), run("trap", false)];
    record_at(&store, "evt_2", "acme", last, &both).await;
    record_at(&store, "evt_3", "acme", last + 1, &both).await;
    // Delivered 150 ms and 450 ms (after a failed attempt) after they were stored.
    let second = action_of(&store, "evt_2").await;
    attempt_at(&store, &second, last, 100, Next::Succeeded).await;
    let third = action_of(&store, "evt_3").await;
    let retry = Next::RetryAfter(Duration::ZERO);
    attempt_at(&store, &third, last + 1, 10, retry).await;
    attempt_at(&store, &third, last + 1, 400, Next::Succeeded).await;
    let early = action_of(&store, "evt_1").await;
    attempt_at(&store, &early, first, 950, Next::Succeeded).await;

    let mut activity = store.activity("acme", &window).await.unwrap();
    activity.events.sort_by_key(|counted| counted.bucket);
    activity
        .deliveries
        .sort_by_key(|delivered| delivered.bucket);
    let counted = |bucket, count| Counted { bucket, count };
    assert_eq!(activity.events, [counted(0, 1), counted(143, 2)]);
    assert_eq!(
        activity.failures,
        [PluginCounted {
            plugin: "trap".into(),
            bucket: 143,
            count: 2
        }]
    );
    let delivered = |bucket, delivered, total_ms, max_ms| Deliveries {
        plugin: "slack".into(),
        bucket,
        delivered,
        total_ms,
        max_ms,
    };
    assert_eq!(
        activity.deliveries,
        [delivered(0, 1, 1_000, 1_000), delivered(143, 2, 600, 450)]
    );
}

async fn the_charts_leave_out_other_tenants_times_outside_the_window_and_undelivered_actions(
    db: TestDb,
) {
    let store = db.open().await;
    let window = Window::ending_at(now_ms(), BUCKET_MS, 144);
    let inside = window.end_ms() - 1_000;
    let both = [run("slack", true), run("trap", false)];
    record_at(&store, "evt_before", "acme", window.start_ms - 1, &both).await;
    record_at(&store, "evt_after", "acme", window.end_ms(), &both).await;
    record_at(&store, "evt_globex", "globex", inside, &both).await;
    // In the window, but its action waits for a retry and another failed for good.
    record_at(&store, "evt_pending", "acme", inside, &[run("slack", true)]).await;
    let pending = action_of(&store, "evt_pending").await;
    let retry = Next::RetryAfter(HOUR);
    attempt_at(&store, &pending, inside, 10, retry).await;
    record_at(&store, "evt_dead", "acme", inside, &[run("slack", true)]).await;
    let dead = action_of(&store, "evt_dead").await;
    attempt_at(&store, &dead, inside, 10, Next::Failed).await;
    for event in ["evt_before", "evt_after", "evt_globex"] {
        let action = action_of(&store, event).await;
        attempt_at(&store, &action, inside, 10, Next::Succeeded).await;
    }

    let activity = store.activity("acme", &window).await.unwrap();
    assert_eq!(
        activity.events,
        [Counted {
            bucket: 143,
            count: 2
        }]
    );
    assert!(activity.failures.is_empty(), "{activity:?}");
    assert!(activity.deliveries.is_empty(), "{activity:?}");
    let nobody = store.activity("initech", &window).await.unwrap();
    assert_eq!(nobody, Activity::default());
}

/// The writing connection never checkpoints; the background task copies the log back.
#[tokio::test]
async fn the_sqlite_write_ahead_log_is_checkpointed_in_the_background() {
    let db = TestDb::sqlite();
    let store = db.open().await;
    let big = vec![b'x'; 256 * 1024];
    let event = EventRecord {
        body: &big,
        ..check_evaluation("evt_big")
    };
    store.record_event(&event, &[]).await.unwrap();
    let Database::Sqlite(file) = &db.database else {
        unreachable!("a SQLite test database")
    };
    let in_file = || std::fs::metadata(file).map_or(0, |meta| meta.len());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while in_file() < big.len() as u64 {
        assert!(
            std::time::Instant::now() < deadline,
            "the body never reached the database file ({} bytes)",
            in_file()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
