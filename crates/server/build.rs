// The web console is embedded from web/dist (see src/web.rs); a new web build must rebuild this crate even
// when only file names changed (Vite names assets by content hash).
fn main() {
    println!("cargo:rerun-if-changed=../../web/dist");
}
