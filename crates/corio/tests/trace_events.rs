//! `--features tracing`: the runtime's events reach a subscriber.
#![cfg(feature = "tracing")]

mod util;

use std::fmt::{Debug, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Keeps every event as `target: field=value ...`.
struct Collect(Arc<Mutex<Vec<String>>>);

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Collect {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Line(format!("{}:", event.metadata().target()));
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn spawn_finish_cancel_panic_stall_and_deadlock_are_events() {
    let events = Arc::new(Mutex::new(Vec::new()));
    tracing::subscriber::set_global_default(Collect(events.clone())).unwrap();
    util::watchdog(Duration::from_secs(60), move || {
        let rt = corio::Builder::new()
            .workers(2)
            .stall_threshold(Some(Duration::from_millis(50)))
            .build()
            .unwrap();
        let (child, stuck, spinner) = rt.block_on(|| {
            let child = corio::task::Builder::new().name("child").spawn(|| 1);
            let child_id = child.id().as_u64();
            child.join().unwrap();
            let boom = corio::spawn(|| panic!("boom"));
            assert!(boom.join().is_err());
            let stuck = corio::spawn(corio::task::park);
            let stuck_id = stuck.id().as_u64();
            corio::time::sleep(Duration::from_millis(10));
            stuck.cancel();
            let _ = stuck.join();
            let spinner = corio::spawn(|| {
                let t = Instant::now();
                while t.elapsed() < Duration::from_millis(300) {
                    std::hint::spin_loop();
                }
            });
            let spinner_id = spinner.id().as_u64();
            spinner.join().unwrap();
            (child_id, stuck_id, spinner_id)
        });
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(corio::task::park)
        }));
        assert!(r.is_err(), "expected the deadlock report");
        let events = events.lock().unwrap().clone();
        let has = |parts: &[&str]| events.iter().any(|e| parts.iter().all(|p| e.contains(p)));
        let all = events.join("\n");
        let child = format!("task_id={child}");
        assert!(
            has(&[
                "corio:",
                "message=spawn",
                &child,
                "task_name=\"child\"",
                "parent_id="
            ]),
            "{all}"
        );
        assert!(has(&["message=finish", &child]), "{all}");
        assert!(
            has(&["message=panic", "message=\"boom\""]) || has(&["message=panic", "boom"]),
            "{all}"
        );
        assert!(
            has(&[
                "message=cancel",
                &format!("task_id={stuck}"),
                "started=true"
            ]),
            "{all}"
        );
        assert!(
            has(&["message=stall", &format!("task_id={spinner}")]),
            "{all}"
        );
        assert!(
            has(&["message=deadlock", "all coroutines are asleep"]),
            "{all}"
        );
    });
}
