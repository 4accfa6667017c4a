//! Store tests against a real SQLite file in a temporary folder.

use super::*;
use crate::actions::retry::Next;
use crate::actions::{Produced, Response, StateWrite};

fn request(url: &str) -> Request {
    Request::new(
        "POST",
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

async fn store_with_one_action() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let produced = Produced {
        actions: vec![
            NewAction::Http(request("https://hooks.test/a")),
            NewAction::LinkAnswer {
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
        RunRecord {
            plugin: "slack",
            duration: Duration::from_micros(40),
            outcome: Ok(&produced),
        },
        RunRecord {
            plugin: "broken",
            duration: Duration::from_micros(9),
            outcome: Err("trapped"),
        },
    ];
    let event = EventRecord {
        id: "evt_1",
        tenant: "acme",
        event_type: "checkEvaluation",
        body: b"{}",
        dedup_key: "sha256:x",
        replay_of: None,
    };
    store.record_event(&event, &runs).await.unwrap();
    (dir, store)
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&store.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_event_is_stored_with_its_runs_and_actions() {
    let (_dir, store) = store_with_one_action().await;
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

#[tokio::test]
async fn a_claimed_action_is_not_claimed_again_while_leased() {
    let (_dir, store) = store_with_one_action().await;
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

#[tokio::test]
async fn a_retry_waits_its_delay_and_counts_the_attempt() {
    let (_dir, store) = store_with_one_action().await;
    let id = store.claim_due(10, Duration::from_secs(60)).await.unwrap()[0]
        .id
        .clone();
    let attempt = attempt(503, Some("HTTP 503"));
    store
        .record_attempt(
            &id,
            &attempt,
            Next::RetryAfter(Duration::from_millis(200)),
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
        "not due yet"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    let again = store.claim_due(10, Duration::from_secs(60)).await.unwrap();
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

#[tokio::test]
async fn leases_of_a_dead_process_are_released_on_open() {
    let (dir, store) = store_with_one_action().await;
    assert_eq!(
        store
            .claim_due(10, Duration::from_secs(600))
            .await
            .unwrap()
            .len(),
        1
    );
    store.pool.close().await;
    let reopened = Store::open(dir.path()).await.unwrap();
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

#[tokio::test]
async fn a_failed_event_write_leaves_nothing_behind() {
    let (_dir, store) = store_with_one_action().await;
    // The same event id again violates the primary key: the whole transaction must roll back.
    let produced = Produced {
        actions: vec![NewAction::Http(request("https://hooks.test/b"))],
        state: vec![],
    };
    let runs = [RunRecord {
        plugin: "slack",
        duration: Duration::ZERO,
        outcome: Ok(&produced),
    }];
    let event = EventRecord {
        id: "evt_1",
        tenant: "acme",
        event_type: "checkEvaluation",
        body: b"{}",
        dedup_key: "sha256:x",
        replay_of: None,
    };
    assert!(store.record_event(&event, &runs).await.is_err());
    assert_eq!(count(&store, "SELECT COUNT(*) FROM actions").await, 2);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM plugin_runs").await, 2);
}

#[tokio::test]
async fn state_writes_are_kept_per_tenant_and_plugin_and_only_for_successful_runs() {
    let (_dir, store) = store_with_one_action().await;
    let get = |tenant: &'static str, plugin: &'static str| {
        let store = store.clone();
        async move { store.state_get(tenant, plugin, "k").await.unwrap() }
    };
    assert_eq!(get("acme", "slack").await, Some(b"v".to_vec()));
    assert_eq!(get("acme", "broken").await, None, "per plugin");
    assert_eq!(get("other", "slack").await, None, "per tenant");
    assert_eq!(store.state_count("acme", "slack").await.unwrap(), 1);
}

#[tokio::test]
async fn a_response_is_kept_for_the_plugin_and_its_run_stored_with_new_actions() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let create = Request {
        continuation: Some("step-2".into()),
        ..request("https://jira.test/issue")
    };
    let produced = Produced {
        actions: vec![NewAction::Http(create)],
        state: vec![],
    };
    let runs = [RunRecord {
        plugin: "jira",
        duration: Duration::ZERO,
        outcome: Ok(&produced),
    }];
    let event = EventRecord {
        id: "evt_1",
        tenant: "acme",
        event_type: "incidentCreated",
        body: b"{}",
        dedup_key: "sha256:x",
        replay_of: None,
    };
    store.record_event(&event, &runs).await.unwrap();
    let lease = Duration::from_secs(60);
    let due = store.claim_due(10, lease).await.unwrap();
    assert_eq!(due[0].request.continuation.as_deref(), Some("step-2"));
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
    let run = RunRecord {
        plugin: "jira",
        duration: Duration::ZERO,
        outcome: Ok(&follow_up),
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
}

#[tokio::test]
async fn a_duplicate_is_found_within_the_window_with_its_link_answer() {
    let (_dir, store) = store_with_one_action().await;
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

#[tokio::test]
async fn retention_keeps_events_with_work_left_and_deletes_finished_ones() {
    let (_dir, store) = store_with_one_action().await;
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

#[tokio::test]
async fn a_failed_action_is_a_dead_letter_until_it_is_retried() {
    let (_dir, store) = store_with_one_action().await;
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

#[tokio::test]
async fn pruning_an_original_keeps_its_newer_replay() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let record = |id: &'static str, replay_of: Option<&'static str>| EventRecord {
        id,
        tenant: "acme",
        event_type: "validate",
        body: b"{}",
        dedup_key: "sha256:x",
        replay_of,
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
