//! The types inside a standard container (`Vec<T>`, `Option<T>`, a map's
//! values, ...), so that a type that can't be a parameter or a result is
//! reported on its own token with the SDK's message, not as serde's plain
//! "`Vec<Report>: Serialize` is not satisfied".
//!
//! Only for diagnostics: each container listed here is `Serialize`,
//! `Deserialize` and `JsonSchema` exactly when its elements are, so the
//! extra check the expansion makes on an element never refuses a type the
//! container's own check would take.

use syn::{GenericArgument, PathArguments, Type};

/// The innermost element types of `ty`, through nested containers (empty
/// when `ty` is not one), primitives left out. `Vec<Option<Report>>`
/// gives `[Report]`; `HashMap<String, Vec<Row>>` gives `[Row]`.
pub(crate) fn elements(ty: &Type) -> Vec<&Type> {
    let mut out = Vec::new();
    if let Some(inner) = contained(ty) {
        for ty in inner {
            collect(ty, &mut out);
        }
    }
    out
}

/// `T` of `Result<T, E>` (any path ending in `Result` with a type
/// argument: `anyhow::Result<T>`, `io::Result<T>`), else `ty` itself.
pub(crate) fn ok_type(ty: &Type) -> &Type {
    match path_args(ty, &["Result"]) {
        Some(args) if !args.is_empty() => args[0],
        _ => ty,
    }
}

fn collect<'a>(ty: &'a Type, out: &mut Vec<&'a Type>) {
    match contained(ty) {
        Some(inner) => inner.into_iter().for_each(|ty| collect(ty, out)),
        // A type the expansion can name (no `impl Trait`, no `_`), and
        // that may lack the traits (a `String` key needs no check).
        None if nameable(ty) && !primitive(ty) => out.push(ty),
        None => {}
    }
}

/// The element types of a container, or `None` when `ty` is not one.
fn contained(ty: &Type) -> Option<Vec<&Type>> {
    match ty {
        Type::Array(array) => Some(vec![&*array.elem]),
        Type::Slice(slice) => Some(vec![&*slice.elem]),
        Type::Group(group) => contained(&group.elem),
        Type::Paren(paren) => contained(&paren.elem),
        Type::Tuple(tuple) if !tuple.elems.is_empty() => Some(tuple.elems.iter().collect()),
        _ => {
            const ONE: &[&str] = &[
                "Vec",
                "VecDeque",
                "LinkedList",
                "BinaryHeap",
                "HashSet",
                "BTreeSet",
                "IndexSet",
                "Option",
                "Box",
            ];
            const MAPS: &[&str] = &["HashMap", "BTreeMap", "IndexMap"];
            if let Some(args) = path_args(ty, ONE) {
                return (args.len() == 1).then_some(args);
            }
            // A map: its keys and values (a hasher type argument aside).
            path_args(ty, MAPS).and_then(|args| (args.len() >= 2).then(|| args[..2].to_vec()))
        }
    }
}

/// The type arguments of a path type whose last segment is one of `names`.
fn path_args<'a>(ty: &'a Type, names: &[&str]) -> Option<Vec<&'a Type>> {
    let segment = match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last()?,
        Type::Group(group) => return path_args(&group.elem, names),
        _ => return None,
    };
    if !names.iter().any(|name| segment.ident == name) {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    Some(
        args.args
            .iter()
            .filter_map(|arg| match arg {
                GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
            .collect(),
    )
}

/// `String`, a number, `bool`, `char` or `serde_json::Value`: a type
/// that is a parameter and a result as it is.
fn primitive(ty: &Type) -> bool {
    const NAMES: &[&str] = &[
        "String", "bool", "char", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32",
        "i64", "i128", "isize", "f32", "f64", "Value",
    ];
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|s| s.arguments.is_none() && NAMES.iter().any(|n| s.ident == n)),
        _ => false,
    }
}

/// A type the expansion can name and check on its own: not `impl Trait`
/// or `_`, and sized (`Box<str>` is a parameter; `str` alone is not).
fn nameable(ty: &Type) -> bool {
    match ty {
        Type::ImplTrait(_)
        | Type::TraitObject(_)
        | Type::Infer(_)
        | Type::Never(_)
        | Type::Macro(_)
        | Type::Slice(_) => false,
        Type::Path(path) => !path.path.segments.last().is_some_and(|s| {
            ["str", "Path", "OsStr", "CStr"]
                .iter()
                .any(|n| s.ident == n)
        }),
        Type::Reference(reference) => nameable(&reference.elem),
        Type::Group(group) => nameable(&group.elem),
        Type::Paren(paren) => nameable(&paren.elem),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;

    fn names(ty: &str) -> Vec<String> {
        let ty: Type = syn::parse_str(ty).unwrap();
        elements(&ty)
            .into_iter()
            .map(|t| t.to_token_stream().to_string())
            .collect()
    }

    #[test]
    fn the_elements_of_nested_containers() {
        assert_eq!(names("Vec<Report>"), ["Report"]);
        assert_eq!(names("Vec<Option<Report>>"), ["Report"]);
        assert_eq!(
            names("std::collections::HashMap<String, Vec<Row>>"),
            ["Row"]
        );
        assert_eq!(names("BTreeMap<Key, u8>"), ["Key"]);
        assert_eq!(names("[Row; 3]"), ["Row"]);
        assert_eq!(names("(Row, Vec<Col>)"), ["Row", "Col"]);
        assert_eq!(names("Box<[Row]>"), ["Row"]);
    }

    #[test]
    fn not_a_container_or_not_nameable() {
        assert!(names("Report").is_empty());
        assert!(names("Vec<(String, u8)>").is_empty());
        assert!(names("()").is_empty());
        assert!(names("Page<Report>").is_empty());
        assert!(names("Vec<impl serde::Serialize>").is_empty());
        assert!(names("Box<str>").is_empty());
        assert!(names("Vec<Box<dyn std::any::Any>>").is_empty());
    }

    #[test]
    fn the_ok_type_of_a_result() {
        let ty: Type = syn::parse_str("anyhow::Result<Vec<Report>>").unwrap();
        assert_eq!(ok_type(&ty).to_token_stream().to_string(), "Vec < Report >");
        let ty: Type = syn::parse_str("Report").unwrap();
        assert_eq!(ok_type(&ty).to_token_stream().to_string(), "Report");
    }
}
