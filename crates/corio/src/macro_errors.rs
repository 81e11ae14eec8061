//! Compile-fail checks of `#[corio::main]` / `#[corio::test]` misuse, run as doctests (the
//! macro crate cannot depend on corio to run them itself).

/// Bad `workers`:
/// ```compile_fail
/// #[corio::main(workers = 0)]
/// fn main() {}
/// ```
/// ```compile_fail
/// #[corio::main(workers = "2")]
/// fn main() {}
/// ```
/// An unknown argument:
/// ```compile_fail
/// #[corio::main(flavor = 1)]
/// fn main() {}
/// ```
/// `async fn`:
/// ```compile_fail
/// #[corio::main]
/// async fn main() {}
/// ```
/// Arguments, and a second `#[test]`:
/// ```compile_fail
/// #[corio::test]
/// fn t(x: u32) {}
/// ```
/// ```compile_fail
/// #[corio::test]
/// #[test]
/// fn t() {}
/// ```
/// The same shapes compile when well-formed:
/// ```
/// #[corio::main(workers = 2)]
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     Ok(())
/// }
/// ```
pub struct MacroErrors;
