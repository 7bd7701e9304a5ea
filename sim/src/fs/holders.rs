//! A stream's oplock holders and share access, and the grant rules of the "Granting Oplocks"
//! table.

use ferrofilter_core::guid::Guid;
use ferrofilter_model::oplock::{GrantError, OplockLevel, ShareAccess};

use super::{BreakAction, FileObjectId};

/// One granted oplock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OplockHolder {
    /// The file object it was granted on.
    pub file_object: FileObjectId,
    /// That file object's oplock key.
    pub key: Guid,
    /// Its level now.
    pub level: OplockLevel,
    /// What the holder does when it breaks with an acknowledgment required.
    pub on_break: BreakAction,
    /// A break of this oplock waits for the holder's acknowledgment (`level` is the level it
    /// breaks to, possibly `None`).
    pub ack_due: bool,
}

/// An operation pended by an oplock break, and the holders it waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Wait {
    pub(super) id: u64,
    /// The waiting operation's file object (none for a create: it has none yet).
    pub(super) waiter: Option<FileObjectId>,
    pub(super) waiting_for: Vec<FileObjectId>,
}

/// A stream's oplocks, one entry per holder in the order granted, and its share access.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamOplocks {
    pub(super) holders: Vec<OplockHolder>,
    /// The stream's open handles, for the sharing-violation rules.
    pub share: ShareAccess,
}

impl StreamOplocks {
    /// The holders, oldest grant first.
    #[must_use]
    pub fn holders(&self) -> &[OplockHolder] {
        &self.holders
    }

    /// The oplock held through `file_object`.
    #[must_use]
    pub fn holder(&self, file_object: FileObjectId) -> Option<&OplockHolder> {
        self.holders.iter().find(|h| h.file_object == file_object)
    }

    /// The stream's level as one value, for records: the exclusive oplock when there is one
    /// (it is then the only holder), else RH over Level 2 over R, as RH is what a create with a
    /// sharing conflict has to wait for.
    #[must_use]
    pub fn level(&self) -> OplockLevel {
        const RANK: [OplockLevel; 7] = [
            OplockLevel::Level1,
            OplockLevel::Batch,
            OplockLevel::ReadWrite,
            OplockLevel::ReadWriteHandle,
            OplockLevel::ReadHandle,
            OplockLevel::Level2,
            OplockLevel::Read,
        ];
        RANK.into_iter()
            .find(|level| self.holders.iter().any(|h| h.level == *level))
            .unwrap_or(OplockLevel::None)
    }

    /// `FSCTL_REQUEST_OPLOCK` (or a legacy request) for `level` through `file_object`, keyed
    /// `key`; `other_keys` are the keys of the stream's other opens. On a grant, returns the
    /// holders of the requester's key whose oplock moved to it, already removed.
    ///
    /// The "Granting Oplocks" table, request by request (another holder is one on another file
    /// object):
    /// - Level 1 / Batch: no other open on the stream at all.
    /// - Level 2: no other holder of Level 1, Batch, RH, RW or RWH.
    /// - R: no other holder of Level 1, Batch, RW or RWH, nor of RH under the requester's key; a
    ///   same-key R moves to the requester.
    /// - RH: no other holder of Level 2, Level 1, Batch, RW or RWH; a same-key R (an upgrade)
    ///   moves to the requester. The table lists no RH state for an RH request; as RH is
    ///   shareable, a different-key RH stays and a same-key one moves, as a same-key R does.
    /// - RW: every other open has the requester's key; other holders may only be a same-key R or
    ///   RW, which move to the requester.
    /// - RWH: as RW, and a same-key RH or RWH moves too.
    ///
    /// A handle that already holds an oplock and asks again has it replaced by the new level (the
    /// rules above are checked against the other holders only). The table would refuse some of
    /// those, such as RH to RW on one handle; `inspect_breaks_nothing.json` asks for that after a
    /// break and its records expect the grant, so the earlier behaviour is kept.
    ///
    /// # Errors
    /// [`GrantError`] (`STATUS_OPLOCK_NOT_GRANTED`); nothing changes.
    pub fn grant(
        &mut self,
        file_object: FileObjectId,
        key: Guid,
        level: OplockLevel,
        on_break: BreakAction,
        other_keys: &[Guid],
    ) -> Result<Vec<FileObjectId>, GrantError> {
        use OplockLevel as L;
        if level == L::None {
            return Err(GrantError::NothingRequested);
        }
        // MS-FSA 2.1.5.18 refuses an exclusive request while RH breaks are outstanding, and an
        // R / RH request by a key whose RH break is outstanding; the sim applies both to every
        // unacknowledged break.
        let exclusive = matches!(
            level,
            L::Level1 | L::Batch | L::ReadWrite | L::ReadWriteHandle
        );
        if self
            .holders
            .iter()
            .any(|h| h.ack_due && (exclusive || h.key == key))
        {
            return Err(GrantError::Incompatible);
        }
        let others = || self.holders.iter().filter(|h| h.file_object != file_object);
        let held_by_others = |levels: &[OplockLevel]| others().any(|h| levels.contains(&h.level));
        let movable_levels: &[OplockLevel] = match level {
            L::Level1 | L::Batch => {
                if !other_keys.is_empty() || others().next().is_some() {
                    return Err(GrantError::Incompatible);
                }
                &[]
            }
            L::Level2 => {
                if held_by_others(&[
                    L::Level1,
                    L::Batch,
                    L::ReadHandle,
                    L::ReadWrite,
                    L::ReadWriteHandle,
                ]) {
                    return Err(GrantError::Incompatible);
                }
                &[]
            }
            L::Read => {
                if held_by_others(&[L::Level1, L::Batch, L::ReadWrite, L::ReadWriteHandle])
                    || others().any(|h| h.level == L::ReadHandle && h.key == key)
                {
                    return Err(GrantError::Incompatible);
                }
                &[L::Read]
            }
            L::ReadHandle => {
                if held_by_others(&[
                    L::Level2,
                    L::Level1,
                    L::Batch,
                    L::ReadWrite,
                    L::ReadWriteHandle,
                ]) {
                    return Err(GrantError::Incompatible);
                }
                &[L::Read, L::ReadHandle]
            }
            L::ReadWrite | L::ReadWriteHandle => {
                let movable: &[OplockLevel] = if level == L::ReadWrite {
                    &[L::Read, L::ReadWrite]
                } else {
                    &[L::Read, L::ReadHandle, L::ReadWrite, L::ReadWriteHandle]
                };
                if other_keys.iter().any(|k| *k != key)
                    || others().any(|h| h.key != key || !movable.contains(&h.level))
                {
                    return Err(GrantError::Incompatible);
                }
                movable
            }
            L::None => return Err(GrantError::NothingRequested),
        };
        let mut switched = Vec::new();
        self.holders.retain(|h| {
            if h.file_object == file_object {
                return false;
            }
            let moved = h.key == key && movable_levels.contains(&h.level);
            if moved {
                switched.push(h.file_object);
            }
            !moved
        });
        self.holders.push(OplockHolder {
            file_object,
            key,
            level,
            on_break,
            ack_due: false,
        });
        Ok(switched)
    }

    /// The holder closed its handle: its oplock goes with it.
    pub(super) fn release(&mut self, file_object: FileObjectId) {
        self.holders.retain(|h| h.file_object != file_object);
    }
}
