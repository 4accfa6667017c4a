//! PostgreSQL for the black-box tests: each test gets a schema of its own in the development
//! and CI server, which the gateway creates at start and this drops afterwards.
//!
//! The server is found at `SODA_TEST_PG_URL`, by default `postgres://postgres@127.0.0.1:5432/test`.
//! When none answers, tests that use it fail: they never skip.

use sqlx::{AnyConnection, Connection as _, Executor as _};

use crate::SOON;

/// The server the tests use.
pub fn test_server_url() -> String {
    std::env::var("SODA_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema name for one test; the schema itself is dropped (if it was created) on drop.
pub struct PgSchema {
    url: String,
    name: String,
}

impl PgSchema {
    /// A fresh, unique schema name on the test server; checks that the server answers.
    pub async fn new() -> PgSchema {
        let url = test_server_url();
        let schema = PgSchema {
            name: format!("soda_blackbox_{}", unique_suffix()),
            url,
        };
        // A server that is down refuses at once; a busy one may take a while to answer.
        let mut connection = tokio::time::timeout(SOON, schema.connect_raw())
            .await
            .unwrap_or_else(|_| panic!("PostgreSQL at {} did not answer in {SOON:?}", schema.url));
        connection.execute("SELECT 1").await.expect("SELECT 1");
        schema
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection whose unqualified table names resolve in this schema.
    pub async fn connect(&self) -> AnyConnection {
        let mut connection = self.connect_raw().await;
        connection
            .execute(format!("SET search_path TO \"{}\"", self.name).as_str())
            .await
            .expect("setting search_path");
        connection
    }

    async fn connect_raw(&self) -> AnyConnection {
        sqlx::any::install_default_drivers();
        AnyConnection::connect(&self.url).await.unwrap_or_else(|e| {
            panic!(
                "cannot connect to PostgreSQL at {} (set SODA_TEST_PG_URL): {e}",
                self.url
            )
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let url = self.url.clone();
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        // Drop cannot await; a thread with a runtime of its own works inside any runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                sqlx::any::install_default_drivers();
                let mut connection = AnyConnection::connect(&url).await?;
                connection.execute(sql.as_str()).await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("cannot drop test schema {}: {error}", self.name);
        }
    }
}

/// Time-ordered and unique across the parallel tests of one run and across runs.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{nanos:x}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
