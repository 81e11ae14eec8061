//! Rows comparing bare coroutines: corio-coroutine, corosensei and a stackless state machine.

use crate::row::{Entry, Row, Unit};
use crate::system::System;
use crate::systems::{corio_coroutine, corosensei, stackless};

/// The coroutine rows, in table order.
pub fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "switch",
            unit: Unit::Ns,
            about: "resume + suspend round trip",
            entries: vec![
                Entry {
                    system: System::Corio,
                    run: corio_coroutine::switch,
                },
                Entry {
                    system: System::Corosensei,
                    run: corosensei::switch,
                },
            ],
        },
        Row {
            name: "create",
            unit: Unit::Ns,
            about: "create + run to completion + drop, pooled or reused stack",
            entries: vec![
                Entry {
                    system: System::Corio,
                    run: corio_coroutine::create,
                },
                Entry {
                    system: System::Corosensei,
                    run: corosensei::create,
                },
            ],
        },
        Row {
            name: "create-with-stack",
            unit: Unit::Ns,
            about: "create + run + drop via with_stack/into_stack on one reused stack",
            entries: vec![
                Entry {
                    system: System::Corio,
                    run: corio_coroutine::create_with_stack,
                },
                Entry {
                    system: System::Corosensei,
                    run: corosensei::create_with_stack,
                },
            ],
        },
        Row {
            name: "stackless-switch",
            unit: Unit::Ns,
            about: "the switch loop as a hand-polled async state machine (corio: stackful switch)",
            // corio's stackful switch again, so the row carries its own ratio.
            entries: vec![
                Entry {
                    system: System::Corio,
                    run: corio_coroutine::switch,
                },
                Entry {
                    system: System::Async,
                    run: stackless::switch,
                },
            ],
        },
        Row {
            name: "parked-memory",
            unit: Unit::BytesPerCoroutine,
            about: "resident bytes per suspended coroutine that touched its stack, 100k parked",
            entries: vec![
                Entry {
                    system: System::Corio,
                    run: corio_coroutine::parked_memory,
                },
                Entry {
                    system: System::Corosensei,
                    run: corosensei::parked_memory,
                },
            ],
        },
    ]
}
