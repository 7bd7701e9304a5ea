//! ferrofilter: the Windows kernel driver. It builds only on Windows; elsewhere it is empty and the
//! logic it wraps is exercised through `ferrofilter-sim`.
#![cfg_attr(windows, no_std)]
