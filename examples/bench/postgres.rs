//! PostgreSQL for the bench: a fresh database per measurement (made and
//! dropped with `psql`), and the worker processes of `--workers N`.

use super::*;

/// Runs `psql` on `url` with one SQL command: its output (unaligned, no
/// headers).
pub(super) fn psql(url: &str, sql: &str) -> Res<String> {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `psql` (is it installed?): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "psql `{sql}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `url` without the password of a `scheme://user:password@host` URL.
pub(super) fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    match (rest.find(':'), rest.find('@')) {
        (Some(colon), Some(at)) if colon < at => format!(
            "{}://{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        _ => url.to_owned(),
    }
}

/// `url` with its database name replaced by `db` (URL or `key=value` form).
pub(super) fn with_dbname(url: &str, db: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return format!("{url} dbname={db}");
    };
    let rest = &url[scheme_end + 3..];
    let query_at = rest.find('?').unwrap_or(rest.len());
    let (main, query) = rest.split_at(query_at);
    let authority = main.split('/').next().unwrap_or(main);
    format!("{}://{authority}/{db}{query}", &url[..scheme_end])
}

/// A fresh PostgreSQL database, dropped on drop.
pub(super) struct PgDb {
    /// The server's URL the database was created from.
    pub(super) admin: String,
    pub(super) name: String,
    /// The database's URL.
    pub(super) url: String,
}

impl PgDb {
    pub(super) fn create(admin: &str) -> Res<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "reprise_bench_{:x}_{:x}{nanos:x}",
            std::process::id(),
            unix_us()
        );
        psql(admin, &format!("CREATE DATABASE {name}"))?;
        Ok(Self {
            admin: admin.to_owned(),
            url: with_dbname(admin, &name),
            name,
        })
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = psql(&self.admin, &sql) {
            eprintln!("bench: {e}");
        }
    }
}

/// A PostgreSQL worker process (this binary, `--child-worker`).
pub(super) struct WorkerChild {
    pub(super) child: Child,
    pub(super) out: BufReader<ChildStdout>,
}

/// A PostgreSQL worker process: every workflow and activity of the bench,
/// on the database at `url`. Prints `READY` once built; shuts down when
/// stdin closes and prints `RSS` (its peak RSS, kB).
pub(super) fn child_worker(url: &str) -> Res<()> {
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio_rt.block_on(async {
        let rt = Runtime::builder()
            .postgres(url)
            .workflow(sequential)
            .workflow(three_steps)
            .workflow(three_limited)
            .workflow(sleeper)
            .workflow(replayed)
            .workflow(fan_out)
            .workflow(one_step)
            .activity(noop)
            .build()
            .await?;
        println!("READY {}", unix_us());
        tokio::task::spawn_blocking(|| {
            let mut buf = String::new();
            while std::io::stdin().read_line(&mut buf).is_ok_and(|n| n > 0) {
                buf.clear();
            }
        })
        .await?;
        rt.shutdown().await?;
        let kb = (peak_rss_mb() * 1024.0).round() as u64;
        println!("RSS {kb}");
        Ok(())
    })
}
