//! `sqlx::migrate!` embeds the migrations at compile time but cannot tell cargo to watch
//! them on stable Rust: a new or edited migration must still rebuild the engine.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
