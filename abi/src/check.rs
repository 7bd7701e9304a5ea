//! The comparison helper: a project value against Microsoft's, for a whole table at once.
//!
//! Build the table with [`check!`](crate::check!) (which names both sides after the expressions
//! written), compare it with [`mismatches`], and assert the list is empty; [`report`] formats
//! whatever is left, one line per item, so a failing test names every wrong item, not only the
//! first.

use core::fmt;

/// A value as one side declares it. Integers of any width and signedness are widened to `i128`
/// without loss; a test converts a signed declaration to the other side's signedness itself
/// (an `NTSTATUS` is `i32` in `windows-sys` and `u32` in core) so the bit pattern is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// An integer, a size or an offset.
    Int(i128),
    /// A name, such as the symbolic name of a status.
    Text(&'static str),
}

macro_rules! int_value {
    ($($t:ty),*) => {
        $(impl From<$t> for Value {
            fn from(value: $t) -> Self {
                Self::Int(i128::from(value))
            }
        })*
    };
}

int_value!(u8, u16, u32, u64, i8, i16, i32, i64);

impl From<usize> for Value {
    fn from(value: usize) -> Self {
        // A usize is at most 64 bits on every target Rust supports.
        Self::Int(i128::try_from(value).unwrap_or(i128::MAX))
    }
}

impl From<&'static str> for Value {
    fn from(value: &'static str) -> Self {
        Self::Text(value)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Int(n) if n < 0 => write!(f, "{n}"),
            Self::Int(n) => write!(f, "{n:#X} ({n})"),
            Self::Text(text) => write!(f, "{text:?}"),
        }
    }
}

/// One row: an item the project declares, its value, and the value Microsoft gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Check {
    /// The project's item (an expression such as `NtStatus::PURGE_FAILED.0`).
    pub item: &'static str,
    /// The project's value.
    pub project: Value,
    /// Microsoft's value.
    pub microsoft: Value,
    /// Where Microsoft's value comes from (a `windows-sys` path or a [`crate::documented`] item).
    pub source: &'static str,
}

impl Check {
    /// A row comparing `project` with `microsoft`.
    pub fn new(
        item: &'static str,
        project: impl Into<Value>,
        microsoft: impl Into<Value>,
        source: &'static str,
    ) -> Self {
        Self {
            item,
            project: project.into(),
            microsoft: microsoft.into(),
            source,
        }
    }
}

/// A row whose two values differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The project's item.
    pub item: &'static str,
    /// The project's value.
    pub project: Value,
    /// Microsoft's value.
    pub microsoft: Value,
    /// Where Microsoft's value comes from.
    pub source: &'static str,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: project has {}, Microsoft has {} ({})",
            self.item, self.project, self.microsoft, self.source
        )
    }
}

/// Every row of `checks` whose values differ, in table order.
#[must_use]
pub fn mismatches(checks: &[Check]) -> Vec<Mismatch> {
    checks
        .iter()
        .filter(|check| check.project != check.microsoft)
        .map(|check| Mismatch {
            item: check.item,
            project: check.project,
            microsoft: check.microsoft,
            source: check.source,
        })
        .collect()
}

/// The mismatches, one per line, for an assertion message.
#[must_use]
pub fn report(mismatches: &[Mismatch]) -> String {
    let mut out = format!("{} ABI mismatch(es):", mismatches.len());
    for mismatch in mismatches {
        out.push_str("\n  ");
        out.push_str(&mismatch.to_string());
    }
    out
}

/// Panics with [`report`] unless every row of `checks` matches; returns the number of rows.
///
/// # Panics
/// When any row's values differ, naming each such row.
#[track_caller]
pub fn assert_all(checks: &[Check]) -> usize {
    let found = mismatches(checks);
    assert!(found.is_empty(), "{}", report(&found));
    checks.len()
}

/// A [`Check`] named after the two expressions: `check!(project_expr, microsoft_expr)`.
#[macro_export]
macro_rules! check {
    ($project:expr, $microsoft:expr $(,)?) => {
        $crate::check::Check::new(
            stringify!($project),
            $project,
            $microsoft,
            stringify!($microsoft),
        )
    };
}

/// The four field checks of a GUID: `guid_checks!(project, microsoft)` where `project` has
/// `data1`..`data4` fields (core's `Guid`) and `microsoft` is a `windows_sys::core::GUID`.
/// `Data4` is compared as one big-endian number, so it reads as in the text form.
#[macro_export]
macro_rules! guid_checks {
    ($project:expr, $microsoft:expr $(,)?) => {
        [
            $crate::check::Check::new(
                concat!(stringify!($project), ".Data1"),
                $project.data1,
                $microsoft.data1,
                stringify!($microsoft),
            ),
            $crate::check::Check::new(
                concat!(stringify!($project), ".Data2"),
                $project.data2,
                $microsoft.data2,
                stringify!($microsoft),
            ),
            $crate::check::Check::new(
                concat!(stringify!($project), ".Data3"),
                $project.data3,
                $microsoft.data3,
                stringify!($microsoft),
            ),
            $crate::check::Check::new(
                concat!(stringify!($project), ".Data4"),
                u64::from_be_bytes($project.data4),
                u64::from_be_bytes($microsoft.data4),
                stringify!($microsoft),
            ),
        ]
    };
}
