//! The `starvation` row: a ticker's longest gap beside a loop of operations that never block
//! (method in [`crate::measure::starvation`]).

use crate::measure::starvation;
use crate::row::{Entry, Row, Unit};
use crate::system::System;

/// The starvation row.
pub fn rows() -> Vec<Row> {
    vec![Row {
        name: "starvation",
        unit: Unit::WallMs,
        about: "ticker's longest gap (1 ms sleeps) beside a loop of ready channel receives on its worker, 2 workers",
        entries: vec![
            Entry {
                system: System::Corio,
                run: starvation::corio,
            },
            Entry {
                system: System::Tokio,
                run: starvation::tokio,
            },
            Entry {
                system: System::Go,
                run: starvation::go,
            },
        ],
    }]
}
