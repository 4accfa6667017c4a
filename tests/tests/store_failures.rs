//! When the store cannot commit, nothing is accepted: every request whose event was in the
//! failed batch gets 503 (Soda sends it again), and none of it is stored.

use std::time::Duration;

use soda_gateway_tests::{failing_check_named, Config, Gateway, Tenant};
use sqlx::{AnyConnection, Connection as _, Executor as _};

/// Makes any commit that stored an event of tenant `poison` fail: the trigger adds a row whose
/// deferred foreign key dangles, which SQLite checks only at `COMMIT`.
const POISON: &str = "
    CREATE TABLE poison_target (id TEXT PRIMARY KEY);
    CREATE TABLE poison (target TEXT REFERENCES poison_target (id) DEFERRABLE INITIALLY DEFERRED);
    CREATE TRIGGER poison_commits AFTER INSERT ON events WHEN NEW.tenant = 'poison'
    BEGIN INSERT INTO poison VALUES ('nothing'); END;";

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_whose_commit_fails_answers_503_to_every_request_in_it_and_stores_none_of_them() {
    // No polling during the test: only the requests' events go through the writer.
    let config = Config::new()
        .tenant(Tenant::hmac("acme", "s3cret"))
        .tenant(Tenant::hmac("poison", "s3cret"))
        .poll_interval("1h");
    let gateway = Gateway::start(config).await;
    let warm_up = gateway
        .send_event("acme", &failing_check_named("warm-up"))
        .await;
    assert_eq!(warm_up.status, 200);

    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", gateway.db_path().display());
    let mut db = AnyConnection::connect(&url).await.unwrap();
    db.execute(POISON).await.unwrap();
    // Hold SQLite's write lock: the writer waits on the first request while the next ones
    // queue up behind it, so they share the writer's next batch.
    db.execute("BEGIN IMMEDIATE").await.unwrap();
    let gateway = std::sync::Arc::new(gateway);
    let send = |tenant: &'static str, marker: String| {
        let gateway = gateway.clone();
        tokio::spawn(async move {
            gateway
                .send_event(tenant, &failing_check_named(&marker))
                .await
                .status
        })
    };
    // Nothing shows that a request is waiting for the writer, so pauses let them arrive:
    // long for a request of a tenant without plugins even on a busy machine, and together well
    // under the writer's 5 s busy timeout, past which the first request would fail too.
    let arrive = Duration::from_millis(1500);
    let first = send("acme", "first".into());
    tokio::time::sleep(arrive).await;
    let mut batch = vec![send("poison", "poisoned".into())];
    for i in 0..4 {
        batch.push(send("acme", format!("beside-the-poison-{i}")));
    }
    tokio::time::sleep(arrive).await;
    db.execute("COMMIT").await.unwrap();

    assert_eq!(first.await.unwrap(), 200, "the batch before commits");
    for request in batch {
        assert_eq!(
            request.await.unwrap(),
            503,
            "every request of the failed batch"
        );
    }
    let events = gateway
        .count("SELECT COUNT(*) FROM events WHERE tenant = 'poison' OR body LIKE '%beside-the-poison%'")
        .await;
    assert_eq!(events, 0, "nothing of the failed batch is stored");
    assert_eq!(gateway.count_rows("events").await, 2);

    // The writer goes on once the cause is gone.
    db.execute("DROP TRIGGER poison_commits").await.unwrap();
    let again = gateway
        .send_event("poison", &failing_check_named("again"))
        .await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(gateway.count_rows("events").await, 3);
}
