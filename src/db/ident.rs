//! Quoted SQL identifiers: the only way a name reaches a statement's text.

/// A quoted SQL identifier (possibly schema-qualified), safe to put into a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident(String);

impl Ident {
    /// Quotes one name: `a"b` becomes `"a""b"`.
    pub fn new(name: &str) -> Self {
        Ident(format!("\"{}\"", name.replace('"', "\"\"")))
    }

    /// Quotes each part of a dotted table name (`schema.table`).
    pub fn qualified(name: &str) -> Self {
        Ident(
            name.split('.')
                .map(|part| Ident::new(part).0)
                .collect::<Vec<_>>()
                .join("."),
        )
    }

    /// The identifier as SQL text.
    pub fn as_sql(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Ident;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(Ident::new("a\"b").as_sql(), "\"a\"\"b\"");
        assert_eq!(Ident::qualified("s.t").as_sql(), "\"s\".\"t\"");
    }
}
