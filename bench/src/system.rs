//! The systems the suite compares: corio and its peers, one table column each.

/// A runtime, library or language measured by the suite.
///
/// The declaration order is the column order of the table, corio first. Adding a peer
/// (may, tokio, Go...) means adding a variant here and a module under `systems/` whose
/// workloads rows can point at; a peer that cannot run on this machine (e.g. no `go` on
/// PATH) reports a skip from its workload rather than being left out of the enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum System {
    /// This project: the `corio-coroutine` crate in the coroutine rows, the `corio` runtime in
    /// the runtime, channel and network rows.
    Corio,
    /// corosensei 0.3, the stackful coroutine library whose API corio-coroutine mirrors.
    Corosensei,
    /// A hand-polled Rust `async` state machine: the stackless baseline.
    Async,
    /// may 0.3, the other stackful-coroutine runtime for Rust (run in child processes: its
    /// scheduler is a process-wide singleton configured once).
    May,
    /// tokio 1.x, multi-thread runtime with the row's worker count.
    Tokio,
    /// Go, built at run time from `go/peers.go` when a `go` toolchain is on PATH.
    Go,
    /// Plain OS threads (crossbeam-channel, `std::sync::Mutex`): the no-runtime baseline.
    Threads,
    /// A hand-written single-threaded `mio` event loop: the floor of the network rows.
    Floor,
}

impl System {
    /// Every system, in column order.
    pub const ALL: [System; 8] = [
        System::Corio,
        System::Corosensei,
        System::Async,
        System::May,
        System::Tokio,
        System::Go,
        System::Threads,
        System::Floor,
    ];

    /// The name used as the table header and as the JSON `"system"` value.
    pub fn name(self) -> &'static str {
        match self {
            System::Corio => "corio",
            System::Corosensei => "corosensei",
            System::Async => "async",
            System::May => "may",
            System::Tokio => "tokio",
            System::Go => "go",
            System::Threads => "threads",
            System::Floor => "floor",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_declaration_order_with_corio_first() {
        let mut sorted = System::ALL;
        sorted.sort();
        assert_eq!(sorted, System::ALL);
        assert_eq!(System::ALL[0], System::Corio);
    }

    /// Whether no name appears twice in `names`; sorted first, since `dedup` only drops
    /// neighbours.
    fn all_unique(names: &[&str]) -> bool {
        let mut deduped = names.to_vec();
        deduped.sort_unstable();
        deduped.dedup();
        deduped.len() == names.len()
    }

    #[test]
    fn names_are_unique() {
        let names: Vec<_> = System::ALL.iter().map(|s| s.name()).collect();
        assert!(all_unique(&names), "{names:?}");
    }

    #[test]
    fn a_duplicate_is_found_wherever_it_sits() {
        assert!(!all_unique(&["corio", "go", "corio"]));
        assert!(!all_unique(&["corio", "corio"]));
        assert!(all_unique(&["corio", "go"]));
    }
}
