//! Compiles the simulated kernel's variadic `DbgPrintEx` / `DbgPrint` (C, since stable Rust
//! cannot define C variadic functions).

fn main() {
    println!("cargo::rerun-if-changed=src/kernel/dbgprint.c");
    cc::Build::new()
        .file("src/kernel/dbgprint.c")
        .warnings(true)
        .compile("ferrofilter_sim_dbgprint");
}
