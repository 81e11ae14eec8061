//! The arguments of `#[corio::main(...)]` and `#[corio::test(...)]`.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, MetaNameValue, Token};

/// The parsed arguments; `None` means "the runtime's default".
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Args {
    /// `workers = N`: the number of worker threads.
    pub(crate) workers: Option<usize>,
}

/// Parses `workers = N` (or nothing); anything else is an error pointing at the culprit.
pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Args> {
    let pairs = Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse2(tokens)?;
    let mut args = Args::default();
    for pair in pairs {
        let Some(key) = pair.path.get_ident() else {
            return Err(unknown(&pair.path));
        };
        match key.to_string().as_str() {
            "workers" => {
                if args.workers.is_some() {
                    return Err(syn::Error::new_spanned(key, "`workers` is given twice"));
                }
                args.workers = Some(positive_int(&pair.value)?);
            }
            _ => return Err(unknown(&pair.path)),
        }
    }
    Ok(args)
}

fn unknown(path: &syn::Path) -> syn::Error {
    syn::Error::new_spanned(path, "unknown argument; the only one is `workers = N`")
}

fn positive_int(value: &Expr) -> syn::Result<usize> {
    let err = || syn::Error::new_spanned(value, "`workers` takes a positive integer literal");
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(n), ..
        }) => match n.base10_parse::<usize>() {
            Ok(0) | Err(_) => Err(err()),
            Ok(n) => Ok(n),
        },
        _ => Err(err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn error(tokens: TokenStream) -> String {
        parse(tokens).unwrap_err().to_string()
    }

    #[test]
    fn empty_means_defaults() {
        assert_eq!(parse(quote!()).unwrap(), Args::default());
    }

    #[test]
    fn workers_is_read() {
        assert_eq!(parse(quote!(workers = 3)).unwrap().workers, Some(3));
        assert_eq!(parse(quote!(workers = 1,)).unwrap().workers, Some(1));
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(error(quote!(threads = 2)).contains("unknown argument"));
        assert!(error(quote!(a::b = 2)).contains("unknown argument"));
        assert!(error(quote!(workers = 0)).contains("positive integer"));
        assert!(error(quote!(workers = "2")).contains("positive integer"));
        assert!(error(quote!(workers = n)).contains("positive integer"));
        assert!(error(quote!(workers = 1, workers = 2)).contains("twice"));
        assert!(parse(quote!(workers)).is_err());
        assert!(parse(quote!(workers = 2 flavor = 1)).is_err());
    }
}
