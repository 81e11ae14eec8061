//! `surge-return`: resident memory a runtime still holds seconds after a surge of tasks
//! (method in `systems/surge.rs`). One fresh process per system; one run each, since every
//! run waits out the settling time.

use std::time::Duration;

use crate::hidden::in_child;
use crate::infra::timing::Config;
use crate::row::{Entry, Outcome, Row, Unit};
use crate::system::System;
use crate::systems::surge::{self, TOUCH, WAVE};

/// Time allowed to one system's child.
const TIMEOUT: Duration = Duration::from_secs(180);

/// The surge rows.
pub fn rows() -> Vec<Row> {
    vec![Row {
        name: "surge-return",
        unit: Unit::MiB,
        about: "RSS above the baseline 5 s after 200k tasks (10k live at once) touching 64 KiB",
        entries: vec![
            Entry {
                system: System::Corio,
                run: |c| in_child("corio-surge", c, TIMEOUT)?.sample(),
            },
            Entry {
                system: System::Tokio,
                run: |c| in_child("tokio-surge", c, TIMEOUT)?.sample(),
            },
            Entry {
                system: System::Go,
                run: go,
            },
        ],
    }]
}

/// Go: goroutines touching `TOUCH` bytes of stack.
fn go(config: &Config) -> Outcome {
    let args: Vec<String> = [
        "surge".to_owned(),
        surge::surge_tasks(config).to_string(),
        WAVE.to_string(),
        TOUCH.to_string(),
        surge::settle(config).as_secs().to_string(),
    ]
    .into();
    let sample = crate::infra::go_program::sample(&args, TIMEOUT)?;
    Ok(sample.note(format!(
        "surge-return (go): goroutines each touching a {} KiB stack frame",
        TOUCH / 1024
    )))
}
