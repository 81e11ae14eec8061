//! Every row of the suite, grouped by what they compare. Adding a row means adding it to one
//! of these files' lists, or adding a group file here and naming it in [`GROUPS`]; the CLI,
//! table and JSON pick it up.

mod channels;
mod coroutine;
mod net;
mod runtime;
mod surge;

use crate::row::Row;

/// The groups of rows, in table order: each file here lists its rows in one function.
const GROUPS: &[fn() -> Vec<Row>] = &[
    coroutine::rows,
    runtime::rows,
    channels::rows,
    net::rows,
    surge::rows,
];

/// All rows, in table order.
pub fn all() -> Vec<Row> {
    GROUPS.iter().flat_map(|group| group()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_names_are_unique_and_cli_friendly() {
        let rows = all();
        for (i, row) in rows.iter().enumerate() {
            assert!(row
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
            assert!(rows[..i].iter().all(|r| r.name != row.name), "{}", row.name);
        }
    }

    #[test]
    fn each_row_measures_each_system_once() {
        for row in all() {
            let mut systems: Vec<_> = row.entries.iter().map(|e| e.system).collect();
            systems.sort();
            systems.dedup();
            assert_eq!(systems.len(), row.entries.len(), "{}", row.name);
        }
    }
}
