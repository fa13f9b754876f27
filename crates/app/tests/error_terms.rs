//! Every command-line flag a library error names has its API spelling, so an HTTP client is never told to
//! pass a flag it cannot pass. A new flag in a message without an entry in `FLAGS_AND_FIELDS` fails here.

use std::path::Path;

use geoconsole_app::terms::{FLAGS_AND_FIELDS, in_api_terms};

/// The rooms whose errors reach HTTP clients as well as the command line.
const LIBRARY_ROOMS: &[&str] = &[
    "access",
    "analytics",
    "app",
    "feeds",
    "formats",
    "gpkg",
    "index",
    "model",
    "postgis",
    "query",
    "store",
    "tiles",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_flag_in_a_library_message_has_an_api_name() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut unknown = Vec::new();
    let mut seen = 0;
    for room in LIBRARY_ROOMS {
        let mut files = Vec::new();
        rust_files(&crates.join(room).join("src"), &mut files);
        // The translator's own examples include a flag it must leave alone.
        for file in files
            .into_iter()
            .filter(|f| !f.ends_with("app/src/terms.rs"))
        {
            let text = std::fs::read_to_string(&file).expect("source");
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") || !code.contains('"') {
                    continue;
                }
                // Only flags inside string literals are what a caller reads.
                for literal in code.split('"').skip(1).step_by(2) {
                    let translated = in_api_terms(literal);
                    for word in translated.split(|c: char| c.is_whitespace() || c == '`') {
                        if let Some(flag) = word.strip_prefix("--") {
                            let flag: String = flag
                                .chars()
                                .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                                .collect();
                            if !flag.is_empty() {
                                unknown.push(format!("{}:{}: --{flag}", file.display(), n + 1));
                            }
                        }
                    }
                    seen += literal.matches("--").count();
                }
            }
        }
    }
    assert!(
        seen > 10,
        "the scan found only {seen} flags: is it reading the sources?"
    );
    assert!(
        unknown.is_empty(),
        "flags without an API name in FLAGS_AND_FIELDS:\n{}",
        unknown.join("\n")
    );
    assert!(FLAGS_AND_FIELDS.iter().all(|(f, _)| f.starts_with("--")));
}
