//! The body's own `use` items: an alias table per block, so that
//! `use std::time::Instant as Clock; Clock::now()` is recognised.
//!
//! `use` items of the module around the workflow are invisible to the macro;
//! for those the rules match paths by suffix (see `rules.rs`).

use syn::{Block, Item, Stmt, UseTree};

use super::rules::ENV_ITEMS;

/// The names one block's `use` items bring into scope.
#[derive(Debug, Default)]
pub(super) struct Scope {
    /// Local name → the full path it stands for.
    aliases: Vec<(String, Vec<String>)>,
    /// Modules imported with `*`.
    globs: Vec<Vec<String>>,
}

impl Scope {
    /// Collects the `use` items of `block` (not of blocks nested in it).
    /// Like rustc, a `use` applies to the whole block, even before it.
    pub(super) fn of_block(block: &Block) -> Self {
        let mut scope = Scope::default();
        for stmt in &block.stmts {
            if let Stmt::Item(Item::Use(item)) = stmt {
                scope.add(&item.tree, &mut Vec::new());
            }
        }
        scope
    }

    fn add(&mut self, tree: &UseTree, prefix: &mut Vec<String>) {
        match tree {
            UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.add(&path.tree, prefix);
                prefix.pop();
            }
            UseTree::Name(name) => {
                if name.ident == "self" {
                    if let Some(last) = prefix.last() {
                        self.aliases.push((last.clone(), prefix.clone()));
                    }
                } else {
                    let mut full = prefix.clone();
                    full.push(name.ident.to_string());
                    self.aliases.push((name.ident.to_string(), full));
                }
            }
            UseTree::Rename(rename) => {
                if rename.rename == "_" {
                    return;
                }
                let mut full = prefix.clone();
                if rename.ident != "self" {
                    full.push(rename.ident.to_string());
                }
                self.aliases.push((rename.rename.to_string(), full));
            }
            UseTree::Glob(_) => self.globs.push(prefix.clone()),
            UseTree::Group(group) => {
                for tree in &group.items {
                    self.add(tree, prefix);
                }
            }
        }
    }
}

/// A path with the body's `use` items applied.
#[derive(Debug)]
pub(super) struct Resolved {
    /// The full path.
    pub(super) segments: Vec<String>,
    /// How many leading segments of `segments` come from a `use` item.
    head: usize,
    /// Whether those replace the path's first segment (an alias) or are
    /// put in front of it (a glob).
    replaces_first: bool,
}

impl Resolved {
    /// Whether a `use` item changed the path.
    pub(super) fn is_rewritten(&self) -> bool {
        self.head > 0
    }

    /// Maps "the first `end` resolved segments" back to a number of
    /// segments of the path as written.
    pub(super) fn written_end(&self, end: usize) -> usize {
        let last = end.saturating_sub(1);
        let written = if last < self.head {
            0
        } else {
            last - self.head + usize::from(self.replaces_first)
        };
        written + 1
    }
}

/// Applies the `use` items of `scopes` (innermost last) to a path.
/// `absolute` paths (`::std::fs::read`) are left alone.
pub(super) fn resolve(scopes: &[Scope], written: &[String], absolute: bool) -> Resolved {
    let unchanged = || Resolved {
        segments: written.to_vec(),
        head: 0,
        replaces_first: false,
    };
    let Some(first) = written.first() else {
        return unchanged();
    };
    if absolute {
        return unchanged();
    }
    if let Some(target) = lookup_alias(scopes, first) {
        let head = target.len();
        let mut segments = target;
        segments.extend(written[1..].iter().cloned());
        return Resolved {
            segments,
            head,
            replaces_first: true,
        };
    }
    for scope in scopes.iter().rev() {
        for glob in scope.globs.iter().rev() {
            let module = expand_alias(scopes, glob.clone());
            if glob_items(&module).contains(&first.as_str()) {
                let head = module.len();
                let mut segments = module;
                segments.extend(written.iter().cloned());
                return Resolved {
                    segments,
                    head,
                    replaces_first: false,
                };
            }
        }
    }
    unchanged()
}

/// The full path a local name stands for, following aliases of aliases
/// (`use std::fs; use fs::File;`).
fn lookup_alias(scopes: &[Scope], name: &str) -> Option<Vec<String>> {
    let target = scopes
        .iter()
        .rev()
        .find_map(|scope| scope.aliases.iter().rev().find(|(alias, _)| alias == name))
        .map(|(_, target)| target.clone())?;
    Some(expand_alias(scopes, target))
}

fn expand_alias(scopes: &[Scope], mut path: Vec<String>) -> Vec<String> {
    // A few rounds are plenty; the bound guards against `use a as b; use b as a;`.
    for _ in 0..4 {
        let Some(first) = path.first() else { break };
        let next = scopes
            .iter()
            .rev()
            .find_map(|scope| {
                scope
                    .aliases
                    .iter()
                    .find(|(alias, target)| alias == first && target.len() > 1)
            })
            .map(|(_, target)| target.clone());
        match next {
            Some(target) if target.first() != Some(first) => {
                let mut expanded = target;
                expanded.extend(path[1..].iter().cloned());
                path = expanded;
            }
            _ => break,
        }
    }
    path
}

/// The items a glob import of a forbidden module brings in. Only these are
/// resolved through a glob: anything else may be the user's own.
fn glob_items(module: &[String]) -> &'static [&'static str] {
    let module: Vec<&str> = module.iter().map(String::as_str).collect();
    match module.as_slice() {
        ["std" | "tokio", "fs"] => &[
            "read",
            "read_to_string",
            "read_dir",
            "write",
            "copy",
            "rename",
            "remove_file",
            "remove_dir",
            "remove_dir_all",
            "create_dir",
            "create_dir_all",
            "metadata",
            "symlink_metadata",
            "canonicalize",
            "hard_link",
            "read_link",
            "set_permissions",
            "exists",
            "try_exists",
            "File",
            "OpenOptions",
            "DirBuilder",
            "DirEntry",
            "ReadDir",
        ],
        ["std", "env"] => ENV_ITEMS,
        ["std", "thread"] => &[
            "sleep",
            "sleep_ms",
            "park_timeout",
            "spawn",
            "Builder",
            "scope",
        ],
        ["std", "time"] => &["SystemTime", "Instant"],
        ["std", "collections"] => &["HashMap", "HashSet", "hash_map", "hash_set"],
        ["std", "collections", "hash_map"] => &["HashMap", "RandomState", "Entry", "DefaultHasher"],
        ["std", "net"] | ["tokio", "net"] => &[
            "TcpStream",
            "TcpListener",
            "UdpSocket",
            "UnixStream",
            "UnixListener",
            "lookup_host",
        ],
        ["std" | "tokio", "process"] => &["Command", "exit", "abort", "id", "Stdio", "Child"],
        ["std", "io"] => &["stdin"],
        ["tokio"] => &["spawn", "select"],
        ["tokio", "time"] => &[
            "sleep",
            "sleep_until",
            "interval",
            "interval_at",
            "timeout",
            "timeout_at",
            "Instant",
            "Interval",
            "Sleep",
            "Timeout",
        ],
        ["tokio", "task"] => &[
            "spawn",
            "spawn_blocking",
            "spawn_local",
            "block_in_place",
            "JoinSet",
            "LocalSet",
        ],
        ["rand"] | ["rand", "prelude"] => &[
            "random",
            "thread_rng",
            "rng",
            "StdRng",
            "SmallRng",
            "ThreadRng",
        ],
        ["chrono"] | ["chrono", "prelude"] => &["Utc", "Local"],
        ["time"] => &["OffsetDateTime"],
        ["uuid"] => &["Uuid"],
        _ => &[],
    }
}
