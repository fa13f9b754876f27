//! The words an error uses for the choices a caller can make. Library messages name them the way the
//! command line spells them (`--id-field`), the one spelling they can share; an HTTP client sees the name of
//! the body field or query parameter instead (`id_field`), since it has no flags to pass.

/// Each command-line flag a library message may name, with the API field that makes the same choice.
pub const FLAGS_AND_FIELDS: &[(&str, &str)] = &[
    ("--allow-column", "allow_columns"),
    ("--area-code-field", "code_field"),
    ("--areas", "areas"),
    ("--drop-column", "drop_columns"),
    ("--encoding", "encoding"),
    ("--fields", "source.fields"),
    ("--id-field", "id_field"),
    ("--key-field", "source.id_field"),
    ("--lat", "lat"),
    ("--layer", "layer"),
    ("--lon", "lon"),
    ("--max-vertices", "max_vertices"),
    ("--mode", "mode"),
    ("--skip-invalid", "skip_invalid"),
    ("--source-crs", "source_crs"),
    ("--wkt", "wkt"),
    // Choices only the command line offers: the API has another way, said instead.
    ("--replace", "a PUT to its address"),
    ("--dataset", "another dataset"),
];

/// `message` as an HTTP client should read it: every flag it names becomes the API's field.
pub fn in_api_terms(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("--") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let end = after[2..]
            .find(|c: char| !(c.is_ascii_lowercase() || c == '-'))
            .map_or(after.len(), |e| e + 2);
        let flag = &after[..end];
        match FLAGS_AND_FIELDS.iter().find(|(f, _)| *f == flag) {
            Some((_, field)) => out.push_str(field),
            None => out.push_str(flag),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_fields_and_other_dashes_stay() {
        assert_eq!(
            in_api_terms("dataset 'x' already exists; choose --mode append, or another id"),
            "dataset 'x' already exists; choose mode append, or another id"
        );
        assert_eq!(
            in_api_terms("remove it with --drop-column contact"),
            "remove it with drop_columns contact"
        );
        assert_eq!(in_api_terms("--lat and --lon."), "lat and lon.");
        assert_eq!(
            in_api_terms("a -- b --unknown-flag"),
            "a -- b --unknown-flag"
        );
        assert_eq!(in_api_terms("ends with --"), "ends with --");
    }
}
