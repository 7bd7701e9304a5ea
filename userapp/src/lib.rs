//! ferroctl's library: commands shared by the binary and the end-to-end tests.
