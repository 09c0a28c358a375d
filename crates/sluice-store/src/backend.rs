//! The two database backends: their connection pools ([`Db`]), the differences of their SQL
//! ([`Dialect`]) and the two macros that compile one body of code for each.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

/// The connections of a store.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    /// A write connection for the engine's commits on a thread of its own, one writer
    /// connection for every other write, and a few read-only connections.
    Sqlite {
        writer: SqlitePool,
        readers: SqlitePool,
        committer: crate::commit_thread::CommitThread,
    },
    /// One pool for reads and writes.
    Postgres(PgPool),
}

/// Which SQL dialect a statement is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub(crate) fn is_pg(self) -> bool {
        self == Dialect::Postgres
    }

    /// The statement that starts a write transaction: SQLite takes its write lock at once
    /// (`BEGIN IMMEDIATE`, no lock upgrade that could fail with `SQLITE_BUSY`); PostgreSQL
    /// locks rows as they are written.
    pub(crate) fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// A statement written with `?` (or `?N`) placeholders, as this dialect wants it:
    /// unchanged for SQLite, numbered `$1..$n` for PostgreSQL (converted once per statement
    /// and kept, so the text stays the same and the statement stays prepared).
    pub(crate) fn sql(self, text: &'static str) -> SqlStr {
        match self {
            Dialect::Sqlite => SqlStr::from_static(text),
            Dialect::Postgres => {
                static CONVERTED: OnceLock<Mutex<HashMap<&'static str, &'static str>>> =
                    OnceLock::new();
                let mut map = CONVERTED
                    .get_or_init(Mutex::default)
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let converted = map
                    .entry(text)
                    .or_insert_with(|| Box::leak(numbered(text).into_boxed_str()));
                SqlStr::from_static(converted)
            }
        }
    }

    /// [`Dialect::sql`] for a statement assembled at run time.
    pub(crate) fn sql_owned(self, text: String) -> SqlStr {
        match self {
            Dialect::Sqlite => AssertSqlSafe(text).into_sql_str(),
            Dialect::Postgres => AssertSqlSafe(numbered(&text)).into_sql_str(),
        }
    }
}

/// Replaces `?` placeholders by `$1..$n` in order, and `?N` by `$N`. The statements of this
/// crate have no `?` inside string literals or identifiers.
pub(crate) fn numbered(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut n = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '?' {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        out.push('$');
        if digits.is_empty() {
            n += 1;
            out.push_str(&n.to_string());
        } else {
            out.push_str(&digits);
        }
    }
    out
}

/// Runs `$body` with `$readers` and `$writer` bound to the store's pools and `$d` to its
/// [`Dialect`]; the body is compiled once per backend. On PostgreSQL both names are the one
/// pool.
macro_rules! with_db {
    ($store:expr, |$readers:ident, $writer:ident, $d:ident| $body:block) => {
        match &$store.db {
            $crate::Db::Sqlite {
                writer, readers, ..
            } => {
                #[allow(unused_variables)]
                let $readers = readers;
                #[allow(unused_variables)]
                let $writer = writer;
                #[allow(unused_variables)]
                let $d = $crate::Dialect::Sqlite;
                #[allow(unused_imports)]
                use self::sqlite as backend;
                #[allow(unused_imports)]
                use $crate::backend::sqlite as shared;
                $body
            }
            $crate::Db::Postgres(pool) => {
                #[allow(unused_variables)]
                let $readers = pool;
                #[allow(unused_variables)]
                let $writer = pool;
                #[allow(unused_variables)]
                let $d = $crate::Dialect::Postgres;
                #[allow(unused_imports)]
                use self::postgres as backend;
                #[allow(unused_imports)]
                use $crate::backend::postgres as shared;
                $body
            }
        }
    };
}

/// Compiles the items once per backend, into modules `sqlite` and `postgres` of the current
/// module, where `Conn` is the backend's connection type, `DbRow` its row type, `Args` its
/// argument list and `D` its [`Dialect`]. Every module that uses [`with_db!`] has them (the
/// macro names the module of its backend `backend`).
macro_rules! dual {
    ($($item:item)*) => {
        pub(crate) mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            #[allow(dead_code)]
            pub(crate) type Conn = sqlx::SqliteConnection;
            #[allow(dead_code)]
            pub(crate) type DbRow = sqlx::sqlite::SqliteRow;
            #[allow(dead_code)]
            pub(crate) type Args = sqlx::sqlite::SqliteArguments;
            #[allow(dead_code)]
            pub(crate) const D: $crate::Dialect = $crate::Dialect::Sqlite;
            #[allow(unused_imports)]
            use $crate::backend::sqlite as shared;
            $($item)*
        }
        pub(crate) mod postgres {
            #[allow(unused_imports)]
            use super::*;
            #[allow(dead_code)]
            pub(crate) type Conn = sqlx::PgConnection;
            #[allow(dead_code)]
            pub(crate) type DbRow = sqlx::postgres::PgRow;
            #[allow(dead_code)]
            pub(crate) type Args = sqlx::postgres::PgArguments;
            #[allow(dead_code)]
            pub(crate) const D: $crate::Dialect = $crate::Dialect::Postgres;
            #[allow(unused_imports)]
            use $crate::backend::postgres as shared;
            $($item)*
        }
    };
}

/// The helpers other files' [`dual!`] bodies call (as `shared::…`), per backend.
pub(crate) mod sqlite {
    pub(crate) use crate::access::sqlite::{commit_audited, insert_audit};
    pub(crate) use crate::events::sqlite::delete_project_events;
    pub(crate) use crate::notifications::sqlite::{
        check_sealed_notifications, reseal_notifications,
    };
    pub(crate) use crate::query::sqlite::arguments;
}

/// See [`sqlite`](mod@sqlite).
pub(crate) mod postgres {
    pub(crate) use crate::access::postgres::{commit_audited, insert_audit};
    pub(crate) use crate::events::postgres::{
        delete_project_events, insert_rows_after, mark_dispatched_in,
    };
    pub(crate) use crate::notifications::postgres::{
        check_sealed_notifications, reseal_notifications,
    };
    pub(crate) use crate::query::postgres::arguments;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            numbered("SELECT a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
        assert_eq!(
            numbered("x = ?1 OR y = ?2 OR z = ?1"),
            "x = $1 OR y = $2 OR z = $1"
        );
        assert_eq!(
            Dialect::Sqlite.sql("a = ?").as_str(),
            "a = ?",
            "SQLite keeps the text"
        );
        let first = Dialect::Postgres.sql("a = ?");
        assert_eq!(first.as_str(), "a = $1");
        assert!(std::ptr::eq(
            first.as_str(),
            Dialect::Postgres.sql("a = ?").as_str()
        ));
    }
}
