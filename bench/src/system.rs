//! The systems the suite compares: corio and its peers, one table column each.

/// A runtime, library or language measured by the suite.
///
/// The declaration order is the column order of the table, corio first. Adding a peer
/// (may, tokio, Go...) means adding a variant here and a module under `systems/` whose
/// workloads rows can point at; a peer that cannot run on this machine (e.g. no `go` on
/// PATH) reports a skip from its workload rather than being left out of the enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum System {
    /// This project: `corio-coroutine` today, the `corio` runtime later.
    Corio,
    /// corosensei 0.3, the stackful coroutine library whose API corio-coroutine mirrors.
    Corosensei,
    /// A hand-polled Rust `async` state machine: the stackless baseline.
    Async,
}

impl System {
    /// Every system, in column order.
    pub const ALL: [System; 3] = [System::Corio, System::Corosensei, System::Async];

    /// The name used as the table header and as the JSON `"system"` value.
    pub fn name(self) -> &'static str {
        match self {
            System::Corio => "corio",
            System::Corosensei => "corosensei",
            System::Async => "async",
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

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = System::ALL.iter().map(|s| s.name()).collect();
        names.dedup();
        assert_eq!(names.len(), System::ALL.len());
    }
}
