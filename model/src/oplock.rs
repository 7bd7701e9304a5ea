//! A model of the oplock break rules: which operation breaks which oplock, to what, and whether the
//! breaking operation waits for an acknowledgment.
//!
//! [`break_for`] is the rule for one granted oplock; the sim's file system applies it to each of a
//! stream's holders (several R / RH oplocks, of equal or different keys, may coexist there).
//! [`StreamOplock`] is the single-owner case, kept as a test oracle and for `ferroctl oplock`.
//!
//! Sources: "Checking the Oplock State of an `IRP_MJ_CREATE` / `IRP_MJ_READ` / `IRP_MJ_WRITE`
//! operation" (windows-driver-docs `ifs/irp-mj-create2.md`, `irp-mj-read2.md`,
//! `irp-mj-write2.md`), summarised in REFERENCE.md §4. In short:
//!
//! | held | CREATE (different key, not attribute-only) | READ (different key) | non-paging WRITE |
//! |---|---|---|---|
//! | Level 1, Batch | None if destructive, else Level 2; wait | Level 2; wait | None; wait |
//! | Level 2 | None if destructive, no ack; else no break | no break | None, no ack, **any key** |
//! | R | None if destructive, no ack; else no break | no break | None, no ack |
//! | RH | None if destructive (ack, no wait); R on a sharing violation (wait); else no break | no break | None, ack without waiting |
//! | RW | None if destructive, else R; wait | R; wait | None; wait |
//! | RWH | None if destructive, else RW on a sharing violation, RH otherwise; wait | RH; wait | None; wait |
//!
//! "Destructive" is `FILE_SUPERSEDE`, `FILE_OVERWRITE`, `FILE_OVERWRITE_IF` or
//! `FILE_RESERVE_OPFILTER`. A create whose desired access holds nothing but
//! `FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | SYNCHRONIZE` never breaks unless
//! `FILE_RESERVE_OPFILTER` is set. Paging writes never break. The same key never breaks, with the
//! one documented exception: the write page says a Level 2 oplock "always" breaks to None, so a
//! Level 2 owner's own non-paging write breaks it too.

pub use ferrofilter_core::file::{CreateDisposition, InvalidDisposition, access};
use ferrofilter_core::guid::Guid;
use ferrofilter_core::status::NtStatus;

/// Share-access bits (winnt.h).
pub mod share {
    /// `FILE_SHARE_READ`.
    pub const FILE_SHARE_READ: u32 = 0x1;
    /// `FILE_SHARE_WRITE`.
    pub const FILE_SHARE_WRITE: u32 = 0x2;
    /// `FILE_SHARE_DELETE`.
    pub const FILE_SHARE_DELETE: u32 = 0x4;
    /// All three.
    pub const FILE_SHARE_ALL: u32 = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
}

/// `FILE_RESERVE_OPFILTER` create option (wdm.h / ntifs.h).
pub const FILE_RESERVE_OPFILTER: u32 = 0x0010_0000;

/// `OPLOCK_LEVEL_CACHE_READ`.
pub const OPLOCK_LEVEL_CACHE_READ: u32 = 0x1;
/// `OPLOCK_LEVEL_CACHE_HANDLE`.
pub const OPLOCK_LEVEL_CACHE_HANDLE: u32 = 0x2;
/// `OPLOCK_LEVEL_CACHE_WRITE`.
pub const OPLOCK_LEVEL_CACHE_WRITE: u32 = 0x4;

/// An oplock level. `None` is "no oplock".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OplockLevel {
    /// No oplock.
    #[default]
    None,
    /// Legacy exclusive oplock (caches reads and writes).
    Level1,
    /// Legacy batch oplock (caches reads, writes and the handle).
    Batch,
    /// Legacy shared oplock (caches reads).
    Level2,
    /// R: `OPLOCK_LEVEL_CACHE_READ`.
    Read,
    /// RH: read + handle caching.
    ReadHandle,
    /// RW: read + write caching.
    ReadWrite,
    /// RWH: read + write + handle caching.
    ReadWriteHandle,
}

/// A `OPLOCK_LEVEL_CACHE_*` combination that is not a Windows 7 oplock level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidLevel(pub u32);

impl OplockLevel {
    /// Every level, for exhaustive tests.
    pub const ALL: [Self; 8] = [
        Self::None,
        Self::Level1,
        Self::Batch,
        Self::Level2,
        Self::Read,
        Self::ReadHandle,
        Self::ReadWrite,
        Self::ReadWriteHandle,
    ];

    /// What the level lets its owner cache, as `OPLOCK_LEVEL_CACHE_*` bits. Legacy levels map to
    /// what they cache: Level 1 = RW, Batch = RWH, Level 2 = R.
    #[must_use]
    pub const fn caching(self) -> u32 {
        match self {
            Self::None => 0,
            Self::Level2 | Self::Read => OPLOCK_LEVEL_CACHE_READ,
            Self::ReadHandle => OPLOCK_LEVEL_CACHE_READ | OPLOCK_LEVEL_CACHE_HANDLE,
            Self::Level1 | Self::ReadWrite => OPLOCK_LEVEL_CACHE_READ | OPLOCK_LEVEL_CACHE_WRITE,
            Self::Batch | Self::ReadWriteHandle => {
                OPLOCK_LEVEL_CACHE_READ | OPLOCK_LEVEL_CACHE_WRITE | OPLOCK_LEVEL_CACHE_HANDLE
            }
        }
    }

    /// The Windows 7 level with these `OPLOCK_LEVEL_CACHE_*` bits (`RequestedOplockLevel` of
    /// `REQUEST_OPLOCK_INPUT_BUFFER`). 0 is [`OplockLevel::None`].
    ///
    /// # Errors
    /// [`InvalidLevel`] for H or W without R, and for unknown bits.
    pub const fn from_caching(bits: u32) -> Result<Self, InvalidLevel> {
        const R: u32 = OPLOCK_LEVEL_CACHE_READ;
        const H: u32 = OPLOCK_LEVEL_CACHE_HANDLE;
        const W: u32 = OPLOCK_LEVEL_CACHE_WRITE;
        Ok(match bits {
            0 => Self::None,
            R => Self::Read,
            x if x == R | H => Self::ReadHandle,
            x if x == R | W => Self::ReadWrite,
            x if x == R | W | H => Self::ReadWriteHandle,
            other => return Err(InvalidLevel(other)),
        })
    }

    /// Level 1, Batch and Level 2 (the pre-Windows 7 oplocks).
    #[must_use]
    pub const fn is_legacy(self) -> bool {
        matches!(self, Self::Level1 | Self::Batch | Self::Level2)
    }

    /// Holds write caching (Level 1, Batch, RW, RWH): the levels a read breaks.
    #[must_use]
    pub const fn caches_writes(self) -> bool {
        self.caching() & OPLOCK_LEVEL_CACHE_WRITE != 0
    }
}

/// Whether the operation that broke an oplock waits for the owner's acknowledgment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ack {
    /// No acknowledgment; the operation proceeds at once.
    NotRequired,
    /// The owner must acknowledge, but the operation proceeds without waiting.
    RequiredNoWait,
    /// The operation waits for the acknowledgment.
    RequiredWait,
}

/// The model's answer for one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakDecision {
    /// The oplock stays as it is.
    NoBreak,
    /// The oplock breaks.
    Break {
        /// Level before.
        from: OplockLevel,
        /// Level after.
        to: OplockLevel,
        /// Whether the operation waits.
        ack: Ack,
    },
}

impl BreakDecision {
    /// A break from `from` to `to`, the operation waiting as `ack` says.
    #[must_use]
    pub const fn new(from: OplockLevel, to: OplockLevel, ack: Ack) -> Self {
        Self::Break { from, to, ack }
    }

    /// `true` for [`BreakDecision::Break`].
    #[must_use]
    pub const fn breaks(self) -> bool {
        matches!(self, Self::Break { .. })
    }
}

/// The parameters of an `IRP_MJ_CREATE` the model looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreateParams {
    /// `DesiredAccess`.
    pub desired_access: u32,
    /// `ShareAccess`.
    pub share_access: u32,
    /// `CreateDisposition`.
    pub disposition: CreateDisposition,
    /// `FILE_RESERVE_OPFILTER` was among the create options.
    pub reserve_opfilter: bool,
}

impl CreateParams {
    /// A plain `FILE_OPEN` with this access and share mode.
    #[must_use]
    pub const fn open(desired_access: u32, share_access: u32) -> Self {
        Self {
            desired_access,
            share_access,
            disposition: CreateDisposition::Open,
            reserve_opfilter: false,
        }
    }

    /// Destructive in the oplock sense: an overwriting disposition or `FILE_RESERVE_OPFILTER`.
    #[must_use]
    pub const fn is_destructive(&self) -> bool {
        self.reserve_opfilter || self.disposition.is_destructive()
    }

    /// Asks only for attributes / synchronize, which breaks nothing without
    /// `FILE_RESERVE_OPFILTER`.
    #[must_use]
    pub const fn is_attribute_only(&self) -> bool {
        self.desired_access & !access::ATTRIBUTE_ONLY == 0
    }
}

/// An operation on a stream, as far as oplocks care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `IRP_MJ_CREATE` of the existing stream.
    Create(CreateParams),
    /// `IRP_MJ_READ`.
    Read,
    /// `IRP_MJ_WRITE`.
    Write {
        /// `IRP_PAGING_IO`: paging writes never break.
        paging: bool,
    },
    /// `IRP_MJ_SET_INFORMATION` with `FileRenameInformation` (or a short name or link).
    Rename,
    /// `IRP_MJ_SET_INFORMATION` with `FileDispositionInformation`, `DeleteFile` TRUE.
    Delete,
    /// `IRP_MJ_LOCK_CONTROL`: a byte-range lock or unlock.
    LockControl,
}

/// The share-access bookkeeping of one stream (`SHARE_ACCESS`, as `IoCheckShareAccess` keeps it).
///
/// Opens that ask for none of read (`FILE_READ_DATA | FILE_EXECUTE`), write
/// (`FILE_WRITE_DATA | FILE_APPEND_DATA`) or `DELETE` are not counted at all, as in the kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShareAccess {
    /// Counted opens.
    pub open_count: u32,
    /// Of which reading.
    pub readers: u32,
    /// Of which writing.
    pub writers: u32,
    /// Of which with `DELETE`.
    pub deleters: u32,
    /// Of which sharing read.
    pub shared_read: u32,
    /// Of which sharing write.
    pub shared_write: u32,
    /// Of which sharing delete.
    pub shared_delete: u32,
}

/// The read / write / delete summary `IoCheckShareAccess` derives from an access mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Wants {
    read: bool,
    write: bool,
    delete: bool,
}

impl Wants {
    const fn of(desired_access: u32) -> Self {
        Self {
            read: desired_access & access::SHARE_CHECKED_READ != 0,
            write: desired_access & access::SHARE_CHECKED_WRITE != 0,
            delete: desired_access & access::DELETE != 0,
        }
    }

    const fn any(self) -> bool {
        self.read || self.write || self.delete
    }
}

impl ShareAccess {
    /// `true` when an open with this access and share mode would fail with
    /// `STATUS_SHARING_VIOLATION`.
    #[must_use]
    pub const fn conflicts(&self, desired_access: u32, share_access: u32) -> bool {
        let wants = Wants::of(desired_access);
        if !wants.any() {
            return false;
        }
        (wants.read && self.shared_read < self.open_count)
            || (wants.write && self.shared_write < self.open_count)
            || (wants.delete && self.shared_delete < self.open_count)
            || (self.readers != 0 && share_access & share::FILE_SHARE_READ == 0)
            || (self.writers != 0 && share_access & share::FILE_SHARE_WRITE == 0)
            || (self.deleters != 0 && share_access & share::FILE_SHARE_DELETE == 0)
    }

    /// `true` when `op` is a create these opens' share modes refuse; no other operation is
    /// checked against them.
    #[must_use]
    pub const fn violated_by(&self, op: &Operation) -> bool {
        match op {
            Operation::Create(create) => self.conflicts(create.desired_access, create.share_access),
            Operation::Read
            | Operation::Write { .. }
            | Operation::Rename
            | Operation::Delete
            | Operation::LockControl => false,
        }
    }

    /// `IoCheckShareAccess` with `Update = TRUE`: records the open unless it conflicts.
    ///
    /// # Errors
    /// `STATUS_SHARING_VIOLATION` on a conflict.
    pub fn open(&mut self, desired_access: u32, share_access: u32) -> Result<(), NtStatus> {
        if self.conflicts(desired_access, share_access) {
            return Err(NtStatus::SHARING_VIOLATION);
        }
        self.adjust(desired_access, share_access, true);
        Ok(())
    }

    /// `IoRemoveShareAccess`: forgets an open recorded by [`ShareAccess::open`] with the same
    /// arguments. Saturates at zero, so an unbalanced call cannot wrap.
    pub fn close(&mut self, desired_access: u32, share_access: u32) {
        self.adjust(desired_access, share_access, false);
    }

    fn adjust(&mut self, desired_access: u32, share_access: u32, add: bool) {
        let wants = Wants::of(desired_access);
        if !wants.any() {
            return;
        }
        let step = |field: &mut u32, on: bool| {
            if on {
                *field = if add {
                    field.saturating_add(1)
                } else {
                    field.saturating_sub(1)
                };
            }
        };
        step(&mut self.open_count, true);
        step(&mut self.readers, wants.read);
        step(&mut self.writers, wants.write);
        step(&mut self.deleters, wants.delete);
        step(
            &mut self.shared_read,
            share_access & share::FILE_SHARE_READ != 0,
        );
        step(
            &mut self.shared_write,
            share_access & share::FILE_SHARE_WRITE != 0,
        );
        step(
            &mut self.shared_delete,
            share_access & share::FILE_SHARE_DELETE != 0,
        );
    }
}

/// The break rule for a create, given whether it would hit a sharing violation.
///
/// Pure: this is the table in the module documentation, row by row.
#[must_use]
pub const fn create_break(
    held: OplockLevel,
    create: &CreateParams,
    sharing_violation: bool,
) -> BreakDecision {
    use Ack::{NotRequired, RequiredNoWait, RequiredWait};
    use OplockLevel as L;
    if create.is_attribute_only() && !create.reserve_opfilter {
        return BreakDecision::NoBreak;
    }
    let destructive = create.is_destructive();
    let (to, ack) = match held {
        L::None => return BreakDecision::NoBreak,
        L::Level1 | L::Batch => (if destructive { L::None } else { L::Level2 }, RequiredWait),
        L::Level2 | L::Read => {
            if !destructive {
                return BreakDecision::NoBreak;
            }
            (L::None, NotRequired)
        }
        L::ReadHandle => {
            // Why wait on a sharing violation: the opener can only succeed once the owner has
            // closed its cached handle, which is what the acknowledgment reports. Destructive +
            // sharing violation waits too, since the open fails otherwise.
            let ack = if sharing_violation {
                RequiredWait
            } else {
                RequiredNoWait
            };
            if destructive {
                (L::None, ack)
            } else if sharing_violation {
                (L::Read, ack)
            } else {
                return BreakDecision::NoBreak;
            }
        }
        L::ReadWrite => (if destructive { L::None } else { L::Read }, RequiredWait),
        L::ReadWriteHandle => (
            if destructive {
                L::None
            } else if sharing_violation {
                L::ReadWrite
            } else {
                L::ReadHandle
            },
            RequiredWait,
        ),
    };
    BreakDecision::new(held, to, ack)
}

/// The break rule for a read by a different key.
#[must_use]
pub const fn read_break(held: OplockLevel) -> BreakDecision {
    use OplockLevel as L;
    let to = match held {
        L::Level1 | L::Batch => L::Level2,
        L::ReadWrite => L::Read,
        L::ReadWriteHandle => L::ReadHandle,
        L::None | L::Level2 | L::Read | L::ReadHandle => return BreakDecision::NoBreak,
    };
    BreakDecision::new(held, to, Ack::RequiredWait)
}

/// The break rule for a non-paging write (by a different key, except for Level 2).
#[must_use]
pub const fn write_break(held: OplockLevel) -> BreakDecision {
    use OplockLevel as L;
    let ack = match held {
        L::None => return BreakDecision::NoBreak,
        L::Level2 | L::Read => Ack::NotRequired,
        L::ReadHandle => Ack::RequiredNoWait,
        L::Level1 | L::Batch | L::ReadWrite | L::ReadWriteHandle => Ack::RequiredWait,
    };
    BreakDecision::new(held, L::None, ack)
}

/// The break rule for a rename by a different key ("Checking the Oplock State of an
/// `IRP_MJ_SET_INFORMATION` operation"): Level 1, Level 2, Read and Read-Write are not broken;
/// Batch breaks to None, Read-Handle to Read, Read-Write-Handle to Read-Write; each needs an
/// acknowledgement before the rename continues.
#[must_use]
pub const fn rename_break(held: OplockLevel) -> BreakDecision {
    use OplockLevel as L;
    let to = match held {
        L::Batch => L::None,
        L::ReadHandle => L::Read,
        L::ReadWriteHandle => L::ReadWrite,
        L::None | L::Level1 | L::Level2 | L::Read | L::ReadWrite => {
            return BreakDecision::NoBreak;
        }
    };
    BreakDecision::new(held, to, Ack::RequiredWait)
}

/// The break rule for setting a delete disposition by a different key (the same page): only
/// handle caching is lost, Read-Handle to Read and Read-Write-Handle to Read-Write, and the
/// operation waits for the acknowledgement.
#[must_use]
pub const fn delete_break(held: OplockLevel) -> BreakDecision {
    use OplockLevel as L;
    let to = match held {
        L::ReadHandle => L::Read,
        L::ReadWriteHandle => L::ReadWrite,
        L::None | L::Level1 | L::Batch | L::Level2 | L::Read | L::ReadWrite => {
            return BreakDecision::NoBreak;
        }
    };
    BreakDecision::new(held, to, Ack::RequiredWait)
}

/// The break rule for a byte-range lock operation ("Checking the Oplock State of an
/// `IRP_MJ_LOCK_CONTROL` operation"): everything breaks to None. Read needs no acknowledgement,
/// Read-Handle and Read-Write-Handle need one but the operation goes on at once, Level 1, Batch
/// and Read-Write make the operation wait for it. Level 2 breaks whatever the key (see
/// [`break_for`]); the others only for a different key.
#[must_use]
pub const fn lock_break(held: OplockLevel) -> BreakDecision {
    use OplockLevel as L;
    let ack = match held {
        L::None => return BreakDecision::NoBreak,
        L::Level2 | L::Read => Ack::NotRequired,
        L::ReadHandle | L::ReadWriteHandle => Ack::RequiredNoWait,
        L::Level1 | L::Batch | L::ReadWrite => Ack::RequiredWait,
    };
    BreakDecision::new(held, L::None, ack)
}

/// What `op` does to one oplock granted at `held`: `same_key` when the operation's handle has the
/// holder's key, `sharing_violation` when a create would conflict with the stream's share access.
#[must_use]
pub const fn break_for(
    held: OplockLevel,
    same_key: bool,
    op: &Operation,
    sharing_violation: bool,
) -> BreakDecision {
    if matches!(held, OplockLevel::None) {
        return BreakDecision::NoBreak;
    }
    match op {
        Operation::Write { paging: true } => BreakDecision::NoBreak,
        // The documented exception: Level 2 breaks on every non-paging write.
        Operation::Write { paging: false } if matches!(held, OplockLevel::Level2) => {
            write_break(held)
        }
        // So is a lock operation: "Level 2: always break to None".
        Operation::LockControl if matches!(held, OplockLevel::Level2) => lock_break(held),
        _ if same_key => BreakDecision::NoBreak,
        Operation::Write { paging: false } => write_break(held),
        Operation::Read => read_break(held),
        Operation::Create(create) => create_break(held, create, sharing_violation),
        Operation::Rename => rename_break(held),
        Operation::Delete => delete_break(held),
        Operation::LockControl => lock_break(held),
    }
}

/// Why an oplock request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantError {
    /// Another key holds an oplock on the stream.
    HeldByAnotherKey,
    /// [`OplockLevel::None`] is not something one can request.
    NothingRequested,
    /// Another holder's oplock, or another open on the stream, rules the requested level out
    /// (the "Granting Oplocks" table of windows-driver-docs).
    Incompatible,
}

impl GrantError {
    /// `STATUS_OPLOCK_NOT_GRANTED` for each.
    #[must_use]
    pub const fn status(self) -> NtStatus {
        NtStatus::OPLOCK_NOT_GRANTED
    }
}

/// One stream's oplock and share-access state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamOplock {
    level: OplockLevel,
    owner: Option<Guid>,
    /// The stream's open handles, for the sharing-violation rules.
    pub share: ShareAccess,
}

impl StreamOplock {
    /// A stream with no oplock and no opens.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            level: OplockLevel::None,
            owner: None,
            share: ShareAccess {
                open_count: 0,
                readers: 0,
                writers: 0,
                deleters: 0,
                shared_read: 0,
                shared_write: 0,
                shared_delete: 0,
            },
        }
    }

    /// The current level.
    #[must_use]
    pub const fn level(&self) -> OplockLevel {
        self.level
    }

    /// The owner's key, when an oplock is held.
    #[must_use]
    pub const fn owner(&self) -> Option<Guid> {
        self.owner
    }

    /// Grants `level` to `key`: when no oplock is held, or when `key` already owns it (an upgrade
    /// or downgrade by the same cache).
    ///
    /// # Errors
    /// [`GrantError`]; the state is unchanged.
    pub fn request(&mut self, key: Guid, level: OplockLevel) -> Result<(), GrantError> {
        if level == OplockLevel::None {
            return Err(GrantError::NothingRequested);
        }
        match self.owner {
            Some(owner) if owner != key => Err(GrantError::HeldByAnotherKey),
            _ => {
                self.level = level;
                self.owner = Some(key);
                Ok(())
            }
        }
    }

    /// What `op`, issued through a handle keyed `key`, does to the oplock. Does not change state.
    #[must_use]
    pub fn decide(&self, key: Guid, op: &Operation) -> BreakDecision {
        break_for(
            self.level,
            self.owner == Some(key),
            op,
            self.share.violated_by(op),
        )
    }

    /// Applies a decision taken by [`StreamOplock::decide`] on this state: the level becomes the
    /// break's target and a break to None frees the stream. A decision whose `from` is not the
    /// current level is stale and ignored (returns `false`).
    pub fn apply(&mut self, decision: BreakDecision) -> bool {
        match decision {
            BreakDecision::NoBreak => true,
            BreakDecision::Break { from, to, .. } => {
                if from != self.level {
                    return false;
                }
                self.level = to;
                if to == OplockLevel::None {
                    self.owner = None;
                }
                true
            }
        }
    }

    /// The owner closed its handle: the oplock goes with it.
    pub fn release(&mut self, key: Guid) {
        if self.owner == Some(key) {
            self.level = OplockLevel::None;
            self.owner = None;
        }
    }
}

#[cfg(test)]
mod tests;
