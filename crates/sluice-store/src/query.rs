//! Assembly of `WHERE` clauses with positional arguments for the dynamic list queries.
//!
//! Only fixed column expressions written in this crate are put into SQL text; every value
//! travels as a bound argument.

use sqlx::Arguments;

use crate::error::{Error, Result};

/// A bound value.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

/// Conditions joined with `AND`, and their arguments in order.
#[derive(Debug, Default)]
pub(crate) struct Conditions {
    sql: Vec<String>,
    pub(crate) args: Vec<Arg>,
}

impl Conditions {
    /// `expr = ?` when `value` is given.
    pub(crate) fn eq(&mut self, expr: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.sql.push(format!("{expr} = ?"));
            self.args.push(Arg::Text(v.to_string()));
        }
    }

    /// `expr <op> ?` with an integer when `value` is given.
    pub(crate) fn cmp_int(&mut self, expr: &str, op: &str, value: Option<i64>) {
        if let Some(v) = value {
            self.sql.push(format!("{expr} {op} ?"));
            self.args.push(Arg::Int(v));
        }
    }

    /// `expr IN (?, ...)`; an empty list adds nothing.
    pub(crate) fn any_of(&mut self, expr: &str, values: &[String]) {
        self.any_of_with(expr, Vec::new(), values)
    }

    /// `expr IN (?, ...)` where `expr` itself has the arguments `expr_args`.
    pub(crate) fn any_of_with(&mut self, expr: &str, expr_args: Vec<Arg>, values: &[String]) {
        match values {
            [] => {}
            [one] => {
                self.sql.push(format!("{expr} = ?"));
                self.args.extend(expr_args);
                self.args.push(Arg::Text(one.clone()));
            }
            many => {
                let marks = vec!["?"; many.len()].join(", ");
                self.sql.push(format!("{expr} IN ({marks})"));
                self.args.extend(expr_args);
                self.args.extend(many.iter().map(|v| Arg::Text(v.clone())));
            }
        }
    }

    /// A fixed condition without arguments.
    pub(crate) fn raw(&mut self, sql: &str) {
        self.sql.push(sql.to_string());
    }

    /// ` WHERE a AND b` (or nothing).
    pub(crate) fn where_clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.sql.join(" AND "))
        }
    }
}

dual! {
    /// The backend's arguments for `args` followed by `extra`.
    pub(crate) fn arguments(args: &[Arg], extra: &[Arg]) -> Result<Args> {
        let mut out = Args::default();
        for a in args.iter().chain(extra) {
            match a {
                Arg::Text(s) => out.add(s.clone()),
                Arg::Int(i) => out.add(*i),
            }
            .map_err(|e| Error::Database(sqlx::Error::Encode(e)))?;
        }
        Ok(out)
    }
}
