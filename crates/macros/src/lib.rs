//! Attribute macros of the [corio](https://docs.rs/corio) runtime: `#[corio::main]` and
//! `#[corio::test]`. Use them through `corio` (it re-exports both); this crate has no API of
//! its own.
//!
//! Both take an optional `workers = N` (a positive integer literal; the default is one worker
//! per core, or `CORIO_WORKERS`) and turn the function's body into the main coroutine of a new
//! runtime:
//!
//! ```ignore
//! #[corio::main(workers = 4)]
//! fn main() -> std::io::Result<()> {
//!     let listener = corio::net::TcpListener::bind("127.0.0.1:0")?;
//!     println!("listening on {}", listener.local_addr()?);
//!     Ok(())
//! }
//! ```
//!
//! The function must be a plain `fn` without arguments or generics (`async fn` is refused:
//! corio code is blocking-style). A return type other than `()` is reported through
//! [`std::process::Termination`] inside the runtime, exactly as `main` and the test harness
//! report it, so `Result<(), Box<dyn Error>>` works although it is not `Send`.

mod args;
mod expand;

use proc_macro::TokenStream;

/// Runs `fn main` as the main coroutine of a new corio runtime (`workers = N` optional).
///
/// The runtime is dropped when `main`'s body returns: coroutines still running are cancelled.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(expand::Kind::Main, args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Makes the function a `#[test]` that runs on its own new corio runtime (`workers = N`
/// optional). A panic in the body, or in a coroutine whose `join()` the body unwraps, fails
/// the test; `#[should_panic]` and `#[ignore]` work as with `#[test]`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(expand::Kind::Test, args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
