//! Turns an annotated `fn` into one that builds a runtime and runs the body as its main
//! coroutine.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, ReturnType, Type};

use crate::args;

/// Which attribute is being expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[corio::main]`
    Main,
    /// `#[corio::test]`
    Test,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Main => "#[corio::main]",
            Kind::Test => "#[corio::test]",
        }
    }
}

/// Expands `#[corio::main(args)]` / `#[corio::test(args)]` on `item`.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = args::parse(args)?;
    let func: ItemFn = syn::parse2(item)?;
    check_signature(kind, &func)?;

    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let name = &sig.ident;
    let workers = args.workers.map(|n| quote!(.workers(#n)));
    let runtime = quote! {
        ::corio::Builder::new() #workers .build().expect("corio: cannot start the runtime")
    };
    let test_attr = (kind == Kind::Test).then(|| quote!(#[::core::prelude::v1::test]));

    // The body becomes a closure so `return` and `?` keep their meaning. A non-unit result is
    // reported (`Termination::report`) inside the coroutine: only the `Send` exit code leaves.
    // `-> ()` is treated as no return type (so `#[should_panic]` still accepts the test).
    let ret = match &sig.output {
        ReturnType::Type(_, ty) if matches!(&**ty, Type::Tuple(t) if t.elems.is_empty()) => {
            ReturnType::Default
        }
        other => other.clone(),
    };
    let body = match &ret {
        ReturnType::Default => quote! {
            #runtime.block_on(move || #block)
        },
        ReturnType::Type(_, ty) => quote_spanned! {ty.span()=>
            let __corio_body = move || -> #ty #block;
            #runtime.block_on(move || ::std::process::Termination::report(__corio_body()))
        },
    };
    let output = match &ret {
        ReturnType::Default => quote!(),
        ReturnType::Type(..) => quote!(-> ::std::process::ExitCode),
    };
    Ok(quote! {
        #test_attr
        #(#attrs)*
        #vis fn #name() #output {
            #body
        }
    })
}

/// Refuses what cannot become a main coroutine, with an error on the offending part.
fn check_signature(kind: Kind, func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    let refuse = |span: &dyn quote::ToTokens, what: &str| {
        Err(syn::Error::new_spanned(
            span,
            format!("{} {what}", kind.name()),
        ))
    };
    if let Some(a) = &sig.asyncness {
        return refuse(
            a,
            "takes a plain `fn`: corio code is blocking-style, remove `async`",
        );
    }
    if !sig.inputs.is_empty() {
        return refuse(&sig.inputs, "takes a function without arguments");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return refuse(&sig.generics, "takes a function without generics");
    }
    if let Some(c) = &sig.constness {
        return refuse(c, "cannot run a `const fn`");
    }
    if let Some(u) = &sig.unsafety {
        return refuse(u, "cannot run an `unsafe fn`");
    }
    if kind == Kind::Test {
        if let Some(a) = func.attrs.iter().find(|a| a.path().is_ident("test")) {
            return refuse(a, "already makes the function a test: remove `#[test]`");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(kind: Kind, args: TokenStream, item: TokenStream) -> Result<String, String> {
        expand(kind, args, item)
            .map(|t| t.to_string())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn main_builds_a_runtime_with_the_workers() {
        let out = expand_str(
            Kind::Main,
            quote!(workers = 2),
            quote!(
                fn main() {
                    run();
                }
            ),
        )
        .unwrap();
        assert!(out.contains("workers (2usize)"), "{out}");
        assert!(out.contains("block_on"), "{out}");
        assert!(!out.contains("test"), "{out}");
    }

    #[test]
    fn a_result_is_reported_inside_the_runtime() {
        let out = expand_str(
            Kind::Main,
            quote!(),
            quote!(
                fn main() -> Result<(), E> {
                    Ok(())
                }
            ),
        )
        .unwrap();
        assert!(out.contains("-> :: std :: process :: ExitCode"), "{out}");
        assert!(out.contains("Termination :: report"), "{out}");
    }

    #[test]
    fn an_explicit_unit_return_is_no_return_type() {
        let out = expand_str(
            Kind::Test,
            quote!(),
            quote!(
                fn t() -> () {}
            ),
        )
        .unwrap();
        assert!(!out.contains("ExitCode"), "{out}");
    }

    #[test]
    fn test_adds_the_test_attribute_and_keeps_the_others() {
        let item = quote!(
            #[should_panic(expected = "boom")]
            fn t() {
                panic!("boom")
            }
        );
        let out = expand_str(Kind::Test, quote!(), item).unwrap();
        let test = out.find(":: core :: prelude :: v1 :: test").unwrap();
        let should_panic = out.find("should_panic").unwrap();
        assert!(test < should_panic, "{out}");
    }

    #[test]
    fn bad_functions_are_refused() {
        let refused = |kind, item: TokenStream| expand_str(kind, quote!(), item).unwrap_err();
        assert!(refused(
            Kind::Main,
            quote!(
                async fn main() {}
            )
        )
        .contains("remove `async`"));
        assert!(refused(
            Kind::Test,
            quote!(
                fn t(x: u8) {}
            )
        )
        .contains("without arguments"));
        assert!(refused(
            Kind::Test,
            quote!(
                fn t<T>() {}
            )
        )
        .contains("without generics"));
        assert!(refused(
            Kind::Test,
            quote!(
                #[test]
                fn t() {}
            )
        )
        .contains("remove `#[test]`"));
        assert!(refused(
            Kind::Main,
            quote!(
                struct S;
            )
        )
        .contains("expected"));
    }
}
