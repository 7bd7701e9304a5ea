//! ferroctl: drive and inspect the ferrofilter driver.
fn main() {}
