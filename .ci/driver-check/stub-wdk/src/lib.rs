#![no_std]
pub use wdk_sys::PAGED_CODE as paged_code;
pub mod fmt {
    use core::ffi::CStr;
    pub struct FormatBuffer<const N: usize> { buffer: [u8; N], used: usize }
    impl<const N: usize> FormatBuffer<N> {
        pub const fn new() -> Self { Self { buffer: [0; N], used: 0 } }
        pub fn as_c_str(&self) -> &CStr { CStr::from_bytes_until_nul(&self.buffer[..self.used + 1]).unwrap() }
    }
    impl<const N: usize> core::fmt::Write for FormatBuffer<N> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result { let _ = s; Ok(()) }
    }
}
