//! Every row of the suite, grouped by what they compare. Adding a row means adding it to one
//! of these lists (or a new group file here); the CLI, table and JSON pick it up.

mod channels;
mod coroutine;
mod net;
mod runtime;
mod surge;

use crate::row::Row;

/// All rows, in table order.
pub fn all() -> Vec<Row> {
    let mut rows = coroutine::rows();
    rows.extend(runtime::rows());
    rows.extend(channels::rows());
    rows.extend(net::rows());
    rows.extend(surge::rows());
    rows
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
