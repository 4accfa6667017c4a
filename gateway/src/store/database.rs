//! Where the store lives, and opening it: the embedded SQLite file, SQLite in memory, or a
//! PostgreSQL server shared by several gateway replicas.
//!
//! Queries are written once, with `$1`-style parameters that both databases accept; the few
//! statements that must differ are picked by [`Dialect`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor as _};

use super::sqlite_writer::Durability;

/// Which database a store lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded SQLite file (durable; one gateway process at a time).
    Sqlite(PathBuf),
    /// Throwaway SQLite: a private file that is never synced and is deleted with the store, so
    /// nothing survives the process. For benchmarks and trials only.
    Memory,
    /// A PostgreSQL server, which any number of gateway replicas may share.
    Postgres {
        url: String,
        /// Schema the tables live in, created if missing; the server's default when `None`.
        schema: Option<String>,
    },
}

/// The SQL dialect of an open store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Transactions worth committing at once: SQLite has a single writer; PostgreSQL is bound
    /// by round trips, so a few connections writing in parallel go further.
    pub(super) fn writers(self) -> usize {
        match self {
            Dialect::Sqlite => 1,
            Dialect::Postgres => 4,
        }
    }

    /// How a claim's inner `SELECT` ends so that concurrent claimers skip each other's rows.
    /// SQLite has a single writer, so its `UPDATE … RETURNING` claims atomically without it.
    pub(super) fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }
}

impl Database {
    /// The database a `[store] url` names: `postgres://…`, or `sqlite::memory:`. No URL means
    /// the SQLite file `data_dir/gateway.db`.
    pub fn from_url(
        url: Option<&str>,
        schema: Option<&str>,
        data_dir: PathBuf,
    ) -> anyhow::Result<Self> {
        let database = match url {
            None => Database::Sqlite(data_dir.join("gateway.db")),
            Some("sqlite::memory:") => Database::Memory,
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Database::Postgres {
                    url: url.to_owned(),
                    schema: schema.map(str::to_owned),
                }
            }
            Some(url) => bail!(
                "`store.url` must be a postgres:// URL or sqlite::memory: (leave it out for the \
                 SQLite file in data_dir), found {:?}",
                redact(url)
            ),
        };
        if let Some(schema) = schema {
            if !matches!(database, Database::Postgres { .. }) {
                bail!("`store.schema` applies only to a PostgreSQL `store.url`");
            }
            if !is_plain_identifier(schema) {
                bail!(
                    "`store.schema` must be 1 to 63 lowercase letters, digits and `_`, not \
                     starting with a digit; found {schema:?}"
                );
            }
        }
        Ok(database)
    }

    /// The dialect its SQL is written in.
    pub fn dialect(&self) -> Dialect {
        match self {
            Database::Sqlite(_) | Database::Memory => Dialect::Sqlite,
            Database::Postgres { .. } => Dialect::Postgres,
        }
    }

    /// Whether one gateway process owns the whole database, so leases found at start belong to
    /// a process that is gone. Not so for PostgreSQL, which replicas share.
    pub fn single_process(&self) -> bool {
        self.dialect() == Dialect::Sqlite
    }

    /// Connects, creating the file or schema if needed, and applies the migrations.
    pub(super) async fn connect(&self) -> anyhow::Result<Pools> {
        sqlx::any::install_default_drivers();
        match self {
            Database::Sqlite(path) => {
                sqlite_pools(absolute_file(path)?, Durability::Full, None).await
            }
            // The same pipeline as the file, on a private file that is deleted with the store
            // and never synced: only what durability costs is left out.
            Database::Memory => {
                let scratch = tempfile::Builder::new()
                    .prefix("soda-gateway-memory-")
                    .tempdir()
                    .context("cannot create the in-memory store's scratch folder")?;
                let file = scratch.path().join("gateway.db");
                sqlite_pools(file, Durability::Off, Some(scratch)).await
            }
            Database::Postgres { url, schema } => {
                let pool = postgres_pool(schema.clone())
                    .connect(url)
                    .await
                    .with_context(|| format!("cannot connect to PostgreSQL at {}", redact(url)))?;
                if let Some(schema) = schema {
                    create_schema(&pool, schema).await?;
                }
                migrate(self.dialect(), &pool).await?;
                Ok(Pools {
                    reads: pool.clone(),
                    writes: pool,
                    sqlite: None,
                })
            }
        }
    }
}

/// The connections of a store: `writes` for the statements that write outside the store's
/// writer, `reads` for the rest. One pool serves both on PostgreSQL.
pub(super) struct Pools {
    pub reads: AnyPool,
    pub writes: AnyPool,
    /// A SQLite store's file, for its writer's own connection.
    pub sqlite: Option<SqliteFile>,
}

/// Where a SQLite store's writer connects.
pub(super) struct SqliteFile {
    pub path: PathBuf,
    pub durability: Durability,
    /// The in-memory store's folder, deleted when the store is.
    pub scratch: Option<tempfile::TempDir>,
}

/// Opens the pools of a SQLite file and applies the migrations.
async fn sqlite_pools(
    file: PathBuf,
    durability: Durability,
    scratch: Option<tempfile::TempDir>,
) -> anyhow::Result<Pools> {
    // Writes outside the writer (operator commands, continuations) get one connection of their
    // own: SQLite has one write lock, and connections that compete for it sleep in its busy
    // handler. Reads use the others (WAL: readers never wait for the writer).
    let writes = sqlite_pool(1)
        .after_connect(|connection, _| {
            // Checkpoints run in the background (`checkpoint_wal`), never inside a commit.
            Box::pin(async move {
                connection.execute(SQLITE_PRAGMAS).await?;
                connection.execute("PRAGMA wal_autocheckpoint = 0").await?;
                Ok(())
            })
        })
        .connect(&sqlite_url(&file))
        .await
        .with_context(|| format!("cannot open database {}", file.display()))?;
    migrate(Dialect::Sqlite, &writes).await?;
    let reads = sqlite_pool(3)
        .connect(&sqlite_url(&file))
        .await
        .with_context(|| format!("cannot open database {}", file.display()))?;
    Ok(Pools {
        reads,
        writes,
        sqlite: Some(SqliteFile {
            path: file,
            durability,
            scratch,
        }),
    })
}

async fn migrate(dialect: Dialect, pool: &AnyPool) -> anyhow::Result<()> {
    let migrator = match dialect {
        Dialect::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Dialect::Postgres => sqlx::migrate!("./migrations/postgres"),
    };
    migrator
        .run(pool)
        .await
        .context("cannot apply database migrations")
}

/// The database file's absolute path, its folder created if missing. The driver reads the
/// path from a URL, where a relative one would be taken for a host name.
fn absolute_file(path: &Path) -> anyhow::Result<PathBuf> {
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data_dir {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve data_dir {}", dir.display()))?;
    Ok(dir.join(path.file_name().unwrap_or("gateway.db".as_ref())))
}

/// `sqlite://` URL of an absolute path, with the characters a URL gives meaning to escaped.
fn sqlite_url(file: &Path) -> String {
    let path = file
        .display()
        .to_string()
        .replace('%', "%25")
        .replace('?', "%3F")
        .replace('#', "%23");
    format!("sqlite://{path}?mode=rwc")
}

/// Every SQLite connection commits durably: WAL with `synchronous = FULL`.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;";

/// SQLite connections with [`SQLITE_PRAGMAS`].
fn sqlite_pool(max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .after_connect(|connection, _| {
            Box::pin(async move {
                connection.execute(SQLITE_PRAGMAS).await?;
                Ok(())
            })
        })
}

/// How often the write-ahead log is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Copies the SQLite write-ahead log back into the database file every [`CHECKPOINT_EVERY`],
/// from a reading connection and without waiting for anyone (`PASSIVE`), for as long as the
/// pool is open. The writing connection does not checkpoint (`wal_autocheckpoint = 0`), so no
/// commit pays for copying pages and syncing the database file.
pub(super) async fn checkpoint_wal(reads: AnyPool) {
    let mut ticks = tokio::time::interval(CHECKPOINT_EVERY);
    while !reads.is_closed() {
        ticks.tick().await;
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&reads)
            .await
        {
            if !reads.is_closed() {
                tracing::warn!("cannot checkpoint the SQLite write-ahead log: {error}");
            }
        }
    }
}

/// PostgreSQL connections whose unqualified names resolve in `schema`.
fn postgres_pool(schema: Option<String>) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |connection, _| {
            let schema = schema.clone();
            Box::pin(async move {
                if let Some(schema) = schema {
                    // A plain identifier (checked in `from_url`), so quoting is enough.
                    connection
                        .execute(format!("SET search_path TO \"{schema}\"").as_str())
                        .await?;
                }
                Ok(())
            })
        })
}

/// Creates the schema unless it exists; replicas starting together take turns.
async fn create_schema(pool: &AnyPool, schema: &str) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    // Any fixed number works: it only has to be the same for every replica.
    sqlx::query("SELECT pg_advisory_xact_lock(7165063)")
        .execute(&mut *tx)
        .await?;
    tx.execute(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"").as_str())
        .await
        .with_context(|| format!("cannot create schema {schema}"))?;
    tx.commit().await?;
    Ok(())
}

/// `[a-z_][a-z0-9_]{0,62}`: safe to quote into SQL.
fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

/// The URL with any password replaced, for messages.
fn redact(url: &str) -> String {
    with_password_masked(url, "***")
}

/// The URL with its password, if it has one, written as `mask`; anything else as it is.
pub fn with_password_masked(url: &str, mask: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:{mask}{}",
                    &url[..scheme_end + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_database() {
        let dir = PathBuf::from("/data");
        assert_eq!(
            Database::from_url(None, None, dir.clone()).unwrap(),
            Database::Sqlite("/data/gateway.db".into())
        );
        assert_eq!(
            Database::from_url(Some("sqlite::memory:"), None, dir.clone()).unwrap(),
            Database::Memory
        );
        let pg = Database::from_url(Some("postgres://h/db"), Some("soda_1"), dir.clone()).unwrap();
        assert_eq!(pg.dialect(), Dialect::Postgres);
        assert!(!pg.single_process());
    }

    #[test]
    fn bad_store_settings_are_explained() {
        let dir = PathBuf::from("/data");
        let err = Database::from_url(Some("mysql://u:hunter2@h/db"), None, dir.clone())
            .unwrap_err()
            .to_string();
        assert!(err.contains("postgres://"), "{err}");
        assert!(!err.contains("hunter2"), "password leaked: {err}");
        for schema in ["Soda", "1x", "a-b", "x\"; DROP TABLE events; --", ""] {
            let err = Database::from_url(Some("postgres://h/db"), Some(schema), dir.clone());
            assert!(err.is_err(), "{schema:?} accepted");
        }
        let err = Database::from_url(None, Some("soda"), dir).unwrap_err();
        assert!(err.to_string().contains("only to a PostgreSQL"), "{err}");
    }

    #[tokio::test]
    async fn a_relative_data_dir_with_dots_opens_where_it_points() {
        // Relative to the test's working directory (the package), as `../data` is for a
        // config file in a subfolder.
        let scratch = tempfile::tempdir_in(".").unwrap();
        let name = scratch
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let relative = PathBuf::from(format!("{name}/sub/../data/gateway.db"));
        let pools = Database::Sqlite(relative).connect().await.unwrap();
        assert!(pools.sqlite.is_some());
        pools.reads.close().await;
        pools.writes.close().await;
        assert!(scratch.path().join("data/gateway.db").is_file());
        assert!(
            sqlite_url(Path::new("/a b/x?y#z%/g.db")).starts_with("sqlite:///a b/x%3Fy%23z%25/")
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://gw:secret@db:5432/x"),
            "postgres://gw:***@db:5432/x"
        );
        assert_eq!(redact("postgres://gw@db/x"), "postgres://gw@db/x");
    }
}
