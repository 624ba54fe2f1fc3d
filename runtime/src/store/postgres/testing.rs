//! Test databases: each test gets a fresh database of its own on the server
//! of `REPRISE_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), dropped when the test
//! ends, so tests run in parallel without seeing each other's rows.

use tokio_postgres::NoTls;

use super::errors::describe;
use super::{PostgresConfig, PostgresStore};

/// The server tests use, unless `REPRISE_TEST_POSTGRES` names another.
const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The URL of the server's maintenance database, where test databases are
/// created and dropped.
pub(crate) fn server_url() -> String {
    std::env::var("REPRISE_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_SERVER.to_owned())
}

/// `url` with its database replaced by `dbname` (query parameters kept).
pub(crate) fn with_database(url: &str, dbname: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (authority, query) = match rest.find(['/', '?']) {
        Some(end) => {
            let (authority, tail) = rest.split_at(end);
            let query = tail.find('?').map_or("", |q| &tail[q..]);
            (authority, query)
        }
        None => (rest, ""),
    };
    format!("{scheme}://{authority}/{dbname}{query}")
}

/// A database created for one test, dropped (`WITH (FORCE)`, whoever is
/// still connected) when this is dropped.
#[derive(Debug)]
pub(crate) struct TestDatabase {
    server: String,
    name: String,
}

impl TestDatabase {
    /// The database's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // `Drop` is synchronous and may run inside a runtime: drop the
        // database from a thread of its own, on a runtime of its own.
        let server = self.server.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => return Err(format!("cannot start a runtime: {e}")),
            };
            runtime.block_on(async {
                let client = connect(&server).await?;
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .map_err(|e| describe(&e))
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("cannot drop the test database `{}`: {e}", self.name),
            Err(_) => eprintln!("dropping the test database `{}` panicked", self.name),
        }
    }
}

/// A client of `url` whose connection runs on the current runtime.
async fn connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| describe(&e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("test connection: {}", describe(&e));
        }
    });
    Ok(client)
}

/// A client of `url`, for tests that look at the database directly.
pub(crate) async fn client(url: &str) -> tokio_postgres::Client {
    match connect(url).await {
        Ok(client) => client,
        Err(e) => panic!("cannot connect to the test database: {e}"),
    }
}

/// Creates a fresh database `reprise_test_<uuid>` and returns its URL and
/// the guard that drops it.
pub(crate) async fn test_database() -> (String, TestDatabase) {
    let server = server_url();
    let name = format!("reprise_test_{}", uuid::Uuid::new_v4().simple());
    let admin = match connect(&server).await {
        Ok(admin) => admin,
        Err(e) => panic!(
            "cannot connect to the PostgreSQL server of the tests (set REPRISE_TEST_POSTGRES): {e}"
        ),
    };
    if let Err(e) = admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
    {
        panic!("cannot create the test database `{name}`: {}", describe(&e));
    }
    let url = with_database(&server, &name);
    (url, TestDatabase { server, name })
}

/// A store on a fresh database.
pub(crate) async fn test_store() -> (PostgresStore, TestDatabase) {
    let (url, database) = test_database().await;
    match PostgresStore::open(&PostgresConfig::new(url)).await {
        Ok(store) => (store, database),
        Err(e) => panic!("cannot open the test store: {e}"),
    }
}
