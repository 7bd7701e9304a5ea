//! Compiles the simulated kernel's variadic `DbgPrintEx` / `DbgPrint` (C, since stable Rust
//! cannot define C variadic functions).

fn main() {
    println!("cargo::rerun-if-changed=src/kernel/dbgprint.c");
    // Built for Windows there is no driver to load on the simulated kernel (see Cargo.toml).
    if std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "windows") {
        return;
    }
    cc::Build::new()
        .file("src/kernel/dbgprint.c")
        .warnings(true)
        .compile("ferrofilter_sim_dbgprint");
}
