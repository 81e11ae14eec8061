//! Command-line arguments.

/// Usage text for `--help` and argument errors.
pub const USAGE: &str = "\
usage: corio-bench [--json] [--quick] [--repeat N] [--only NAME] [--list] [--raise-map-limit]

Measures corio beside its peers in one run and prints a table (figures are medians of
several repetitions after a warm-up, marked * when the repetitions spread wider than 25%;
ratio = corio / peer, median over median).

  --json       one JSON object per line: {\"bench\", \"system\", \"value\" (the median), \"min\",
               \"max\", \"unit\", ...}; peers' lines add \"corio_ratio\" (corio's value / theirs);
               notes go to stderr
  --quick      smoke run: tiny sizes, one repetition, finishes in seconds (for CI)
  --repeat N   N measured repetitions per figure (default 5, 1 with --quick); the network
               rows measure N intervals of 1 s (0.2 s with --quick)
  --only NAME  run only the row NAME (see --list); NAME,NAME,... runs several, in the
               table's order (to reproduce how one row affects the next)
  --list       print the rows and what they measure, then exit
  --raise-map-limit
               let rows whose coroutine stacks need more memory mappings than
               vm.max_map_count allows raise it while they measure (root only; restored
               after, and noted)
  -h, --help   print this help

The bench changes no kernel setting unless --raise-map-limit is given. Stackful systems
whose stacks cost kernel mappings each (may, corosensei, corio on kernels without
MADV_GUARD_INSTALL) may need more than the default vm.max_map_count allows for 100k+
coroutines: without the flag, parked-memory parks only as many as fit, the runtime rows
skip those systems, and the output says so. max-live always measures at the machine's
limit. CORIO_BENCH_NO_SYSCTL=1 forbids raising even with the flag.

Peers: may, tokio and the floor (a hand-written mio event loop, network rows only) are built
in; Go rows need `go` on PATH (the Go program is built at run time) and the http and
http-cpu rows need `wrk`; without them those entries are skipped with a note.
Workloads that need a fresh process run as children of this binary (hidden subcommands).";

/// Parsed arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// Print JSON lines instead of the table.
    pub json: bool,
    /// Smoke run.
    pub quick: bool,
    /// Measured repetitions per figure, if not the default.
    pub repeat: Option<usize>,
    /// Run only this row.
    pub only: Option<String>,
    /// List the rows and exit.
    pub list: bool,
    /// Let rows raise `vm.max_map_count` while they measure.
    pub raise_map_limit: bool,
    /// Print usage and exit.
    pub help: bool,
}

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => parsed.json = true,
            "--quick" => parsed.quick = true,
            "--list" => parsed.list = true,
            "--raise-map-limit" => parsed.raise_map_limit = true,
            "-h" | "--help" => parsed.help = true,
            "--only" => {
                let name = args.next().ok_or("--only needs a row name")?;
                parsed.only = Some(name);
            }
            "--repeat" => {
                let n = args.next().ok_or("--repeat needs a count")?;
                parsed.repeat = Some(repeat_count(&n)?);
            }
            other => {
                if let Some(name) = other.strip_prefix("--only=") {
                    parsed.only = Some(name.to_owned());
                } else if let Some(n) = other.strip_prefix("--repeat=") {
                    parsed.repeat = Some(repeat_count(n)?);
                } else {
                    return Err(format!("unknown argument `{other}`"));
                }
            }
        }
    }
    Ok(parsed)
}

/// Parses the count of `--repeat`: a whole number of at least 1.
fn repeat_count(n: &str) -> Result<usize, String> {
    match n.parse() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("--repeat needs a count of at least 1, not `{n}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Args, String> {
        parse(s.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn no_arguments_means_full_table_run() {
        assert_eq!(parse_str(""), Ok(Args::default()));
    }

    #[test]
    fn flags_combine() {
        let args = parse_str("--json --quick --only switch").unwrap();
        assert_eq!(
            args,
            Args {
                json: true,
                quick: true,
                only: Some("switch".to_owned()),
                ..Args::default()
            }
        );
    }

    #[test]
    fn raising_the_map_limit_is_opt_in() {
        assert!(!parse_str("--quick").unwrap().raise_map_limit);
        assert!(parse_str("--raise-map-limit").unwrap().raise_map_limit);
    }

    #[test]
    fn only_accepts_equals_form() {
        assert_eq!(
            parse_str("--only=create").unwrap().only.as_deref(),
            Some("create")
        );
    }

    #[test]
    fn repeat_takes_a_positive_count_in_either_form() {
        assert_eq!(parse_str("--repeat 10").unwrap().repeat, Some(10));
        assert_eq!(parse_str("--repeat=3").unwrap().repeat, Some(3));
        assert!(parse_str("--repeat 0").is_err());
        assert!(parse_str("--repeat x").is_err());
        assert!(parse_str("--repeat").is_err());
    }

    #[test]
    fn only_without_name_is_an_error() {
        assert!(parse_str("--only").is_err());
    }

    #[test]
    fn unknown_argument_is_an_error() {
        assert_eq!(
            parse_str("--fast"),
            Err("unknown argument `--fast`".to_owned())
        );
    }
}
