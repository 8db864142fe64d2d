//! Text that staff open in a spreadsheet (Excel on Traditional Chinese
//! Windows).

use std::borrow::Cow;

/// A cell as a spreadsheet shows it, never as a formula: text starting
/// with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
/// apostrophe (CSV injection).
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// Whether Big5 bytes hold a code outside what Windows (CP950) shows: its
/// user-defined areas, where agencies put their own characters (造字) and
/// where the WHATWG codec puts Hong Kong characters. Read, such a code would
/// be the wrong name; written, Excel would show it as another character.
pub fn outside_cp950(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        let lead = bytes[i];
        if lead < 0x80 {
            i += 1;
            continue;
        }
        let Some(&trail) = bytes.get(i + 1) else {
            return false;
        };
        let code = u16::from(lead) << 8 | u16::from(trail);
        if matches!(code, 0x8140..=0xA0FE | 0xC6A1..=0xC8FE | 0xFA40..=0xFEFE) {
            return true;
        }
        i += 2;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formulas_come_out_as_text() {
        assert_eq!(neutralise("=1+1"), "'=1+1");
        assert_eq!(neutralise("+886"), "'+886");
        assert_eq!(neutralise("-3"), "'-3");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("\tx"), "'\tx");
        assert_eq!(neutralise("\rx"), "'\rx");
        assert_eq!(neutralise("林*君"), "林*君");
    }
}
