//! The target table as the catalog describes it. The migration is the single source of
//! truth for types: the loader casts every value to the type read here.

use tokio_postgres::GenericClient;
use tokio_postgres::types::Oid;

use crate::error::{Error, Result};

// language=PostgreSQL
const COLUMNS_SQL: &str = include_str!("../../sql/catalog/columns.sql");

/// The `PostgreSQL` types pgbatch loads. Each has an encoder in `pipeline::encode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PgType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Text,
    Varchar,
    Bpchar,
    Date,
    Timestamp,
    Timestamptz,
    Json,
    Jsonb,
}

impl PgType {
    /// The type for a built-in type OID (see `pg_type.dat`), if pgbatch can load it.
    pub fn from_oid(oid: Oid) -> Option<Self> {
        Some(match oid {
            16 => PgType::Bool,
            21 => PgType::Int2,
            23 => PgType::Int4,
            20 => PgType::Int8,
            700 => PgType::Float4,
            701 => PgType::Float8,
            1700 => PgType::Numeric,
            25 => PgType::Text,
            1043 => PgType::Varchar,
            1042 => PgType::Bpchar,
            1082 => PgType::Date,
            1114 => PgType::Timestamp,
            1184 => PgType::Timestamptz,
            114 => PgType::Json,
            3802 => PgType::Jsonb,
            _ => return None,
        })
    }

    /// The SQL name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            PgType::Bool => "boolean",
            PgType::Int2 => "smallint",
            PgType::Int4 => "integer",
            PgType::Int8 => "bigint",
            PgType::Float4 => "real",
            PgType::Float8 => "double precision",
            PgType::Numeric => "numeric",
            PgType::Text => "text",
            PgType::Varchar => "character varying",
            PgType::Bpchar => "character",
            PgType::Date => "date",
            PgType::Timestamp => "timestamp",
            PgType::Timestamptz => "timestamptz",
            PgType::Json => "json",
            PgType::Jsonb => "jsonb",
        }
    }

    /// Whether values of this type are text on the wire (Arrow `Utf8` in the pipeline).
    pub fn is_textual(self) -> bool {
        matches!(
            self,
            PgType::Text | PgType::Varchar | PgType::Bpchar | PgType::Json | PgType::Jsonb
        )
    }
}

/// One column of a target table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// `None` when pgbatch cannot load the type; `declared` says which it is.
    pub ty: Option<PgType>,
    /// The type as `format_type` writes it, e.g. `character varying(20)`.
    pub declared: String,
    /// The type modifier: for `varchar(n)` and `char(n)`, `n + 4`; -1 when none.
    pub typmod: i32,
    pub not_null: bool,
    /// Generated and identity-always columns are never loaded.
    pub generated: bool,
    /// Whether the column has a default (or is an identity column).
    pub has_default: bool,
}

impl Column {
    /// The maximum length in characters, for `varchar(n)` and `char(n)`.
    pub fn max_chars(&self) -> Option<usize> {
        match self.ty {
            Some(PgType::Varchar | PgType::Bpchar) if self.typmod >= 4 => usize::try_from(self.typmod - 4).ok(),
            _ => None,
        }
    }
}

/// Reads the columns of `table`.
///
/// # Errors
///
/// A configuration error when the table does not exist; a database error otherwise.
pub async fn columns(client: &impl GenericClient, table: &str) -> Result<Vec<Column>> {
    let rows = client.query(COLUMNS_SQL, &[&table]).await.map_err(|error| {
        if error.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) {
            Error::config(format!(
                "table {table:?} does not exist (run `pgbatch migrate`, or check the job's `table`)"
            ))
        } else {
            Error::db(format!("reading the columns of {table:?}"), error)
        }
    })?;
    Ok(rows
        .iter()
        .map(|row| Column {
            name: row.get(0),
            ty: PgType::from_oid(row.get(1)),
            declared: row.get(2),
            typmod: row.get(3),
            not_null: row.get(4),
            generated: row.get(5),
            has_default: row.get(6),
        })
        .collect())
}
