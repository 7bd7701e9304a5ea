use super::validate_target_name;
use crate::status::NtStatus;

fn utf16(text: &str) -> alloc::vec::Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}
extern crate alloc;

#[test]
fn only_pipes_are_targets() {
    assert_eq!(validate_target_name(&utf16("\\??\\pipe\\ferro-1")), Ok(()));
    assert_eq!(
        validate_target_name(&utf16("\\Device\\NamedPipe\\x")),
        Ok(())
    );
    assert_eq!(validate_target_name(&utf16("\\??\\PIPE\\x")), Ok(()));
    for bad in [
        "\\??\\C:\\secret.txt",
        "\\??\\pipe\\",
        "\\??\\pipe\\a\\..\\b",
        "pipe\\x",
        "",
    ] {
        assert_eq!(
            validate_target_name(&utf16(bad)),
            Err(NtStatus::INVALID_PARAMETER),
            "{bad}"
        );
    }
    assert_eq!(
        validate_target_name(&[0x00, 0xD8]),
        Err(NtStatus::INVALID_PARAMETER)
    );
    assert_eq!(
        validate_target_name(&[1, 2, 3]),
        Err(NtStatus::INVALID_PARAMETER)
    );
}
