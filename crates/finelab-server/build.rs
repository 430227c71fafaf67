//! Release builds embed `ui/dist` (rust-embed); tell cargo to rebuild when the UI is rebuilt or
//! first appears. Debug builds read the folder at run time and need no rebuild.

fn main() {
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        println!("cargo:rerun-if-changed=../../ui/dist");
    } else {
        println!("cargo:rerun-if-changed=build.rs");
    }
}
