//! Property tests of the models' decoders: GUID text, CF flags and fastfat's FSCTL validation are
//! total on arbitrary input and exact on valid input.

use ferrofilter_core::guid::Guid;
use ferrofilter_core::purge::PurgeModeChange;
use ferrofilter_core::status::NtStatus;
use ferrofilter_model::cf::{CF_OPEN_FILE_FLAGS_VALID, UnknownCfFlags, cf_open};
use ferrofilter_model::fastfat::{OpenKind, RequestorMode, validate_set_purge_failure_mode};
use ferrofilter_model::guid_text::parse_guid;
use ferrofilter_model::oplock::OplockLevel;
use proptest::prelude::*;

fn guid() -> impl Strategy<Value = Guid> {
    any::<[u8; 16]>().prop_map(Guid::from_le_bytes)
}

proptest! {
    #[test]
    fn guid_bytes_and_text_round_trip(g in guid()) {
        prop_assert_eq!(Guid::from_le_bytes(g.to_le_bytes()), g);
        let text = g.to_string();
        prop_assert_eq!(text.len(), 36);
        prop_assert_eq!(parse_guid(&text), Ok(g));
        prop_assert_eq!(parse_guid(&format!("{{{}}}", text.to_uppercase())), Ok(g));
    }

    #[test]
    fn guid_parse_is_total(s in ".{0,40}") {
        if let Ok(g) = parse_guid(&s) {
            // Anything accepted prints back to the same GUID.
            prop_assert_eq!(parse_guid(&g.to_string()), Ok(g));
        }
    }

    #[test]
    fn cf_flags_are_total(flags in any::<u32>()) {
        match cf_open(flags) {
            Ok(open) => {
                prop_assert_eq!(flags & !CF_OPEN_FILE_FLAGS_VALID, 0);
                prop_assert_ne!(open.oplock, Some(OplockLevel::None));
                prop_assert_eq!(open.oplock.is_none(), flags & 0x8 != 0);
                prop_assert_eq!(open.share_access == 0, flags & 0x1 != 0);
            }
            Err(UnknownCfFlags { bits }) => {
                prop_assert_ne!(bits, 0);
                prop_assert_eq!(bits, flags & !CF_OPEN_FILE_FLAGS_VALID);
            }
        }
    }

    #[test]
    fn purge_mode_validation_is_total(
        kernel in any::<bool>(), open in 0u8..3, input in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let requestor = if kernel { RequestorMode::Kernel } else { RequestorMode::User };
        let open = [OpenKind::UserFile, OpenKind::UserDirectory, OpenKind::Other][usize::from(open)];
        let result = validate_set_purge_failure_mode(requestor, open, &input);
        let flags = input.get(..4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
        let expected = if !kernel {
            Err(NtStatus::INVALID_PARAMETER)
        } else if open == OpenKind::UserDirectory {
            Err(NtStatus::FILE_IS_A_DIRECTORY)
        } else if open == OpenKind::Other {
            Err(NtStatus::INVALID_PARAMETER)
        } else {
            match flags {
                None => Err(NtStatus::BUFFER_TOO_SMALL),
                Some(f) if f & 1 != 0 => Ok(PurgeModeChange::Enable),
                Some(f) if f & 2 != 0 => Ok(PurgeModeChange::Disable),
                Some(_) => Err(NtStatus::INVALID_PARAMETER),
            }
        };
        prop_assert_eq!(result, expected);
    }
}
