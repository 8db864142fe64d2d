//! Which encoding a file is in, and refusing what is not a CSV at all.

use learning_core::spreadsheet::outside_cp950;

/// How the bytes of a file are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 with a byte-order mark (what Excel writes and needs).
    Utf8Bom,
    /// UTF-8, strict: an invalid sequence refuses its row.
    Utf8,
    /// Big5 as Windows writes it (CP950), decoded by the WHATWG decoder.
    Big5,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why a whole file is refused, as programs read it: the import log's
/// `error.code`, the summary's, the API's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileCode {
    /// `file_empty`
    Empty,
    /// `file_is_zip`
    IsZip,
    /// `file_binary`
    Binary,
    /// `file_undecodable`
    Undecodable,
    /// `header_duplicate`
    HeaderDuplicate,
    /// `header_missing`
    HeaderMissing,
    /// `missing_columns`
    MissingColumns,
    /// `file_too_large`
    TooLarge,
    /// `file_replaced`
    Replaced,
    /// `too_many_rejections`
    TooManyRejections,
    /// `import_stalled`
    Stalled,
    /// `key_outside_uploads`
    KeyOutsideUploads,
    /// `invalid_agency_prefix`
    InvalidAgencyPrefix,
}

impl FileCode {
    pub fn as_str(self) -> &'static str {
        match self {
            FileCode::Empty => "file_empty",
            FileCode::IsZip => "file_is_zip",
            FileCode::Binary => "file_binary",
            FileCode::Undecodable => "file_undecodable",
            FileCode::HeaderDuplicate => "header_duplicate",
            FileCode::HeaderMissing => "header_missing",
            FileCode::MissingColumns => "missing_columns",
            FileCode::TooLarge => "file_too_large",
            FileCode::Replaced => "file_replaced",
            FileCode::TooManyRejections => "too_many_rejections",
            FileCode::Stalled => "import_stalled",
            FileCode::KeyOutsideUploads => "key_outside_uploads",
            FileCode::InvalidAgencyPrefix => "invalid_agency_prefix",
        }
    }
}

impl std::fmt::Display for FileCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for FileCode {
    fn eq(&self, code: &&str) -> bool {
        self.as_str() == *code
    }
}

/// A whole file refused: a stable code and a message for staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub code: FileCode,
    pub message: String,
}

impl FileProblem {
    pub fn new(code: FileCode, message: impl Into<String>) -> Self {
        FileProblem {
            code,
            message: message.into(),
        }
    }
}

/// Why [`open`](crate::open) gave up on a file.
#[derive(Debug)]
pub enum OpenError {
    /// The file is refused: staff fix it and upload it again.
    Refused(FileProblem),
    /// Reading stopped (the connection to S3, say): nothing is known to be
    /// wrong with the file, and reading it again may succeed.
    Read(std::io::Error),
}

impl From<FileProblem> for OpenError {
    fn from(problem: FileProblem) -> Self {
        OpenError::Refused(problem)
    }
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Refused(problem) => problem.fmt(f),
            OpenError::Read(_) => f.write_str("reading the file's first bytes failed"),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::Refused(_) => None,
            OpenError::Read(e) => Some(e),
        }
    }
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)
    }
}

/// Decides from the first bytes of a file (a few KiB is plenty): a BOM
/// means UTF-8; bytes that are valid UTF-8 (a sequence cut off at the end
/// of the sample allowed) mean UTF-8; anything else is read as Big5.
/// Refuses an empty file, a ZIP (an .xlsx renamed .csv) and binary data.
pub fn sniff(prefix: &[u8]) -> Result<Encoding, FileProblem> {
    if prefix.is_empty() || prefix == BOM {
        return Err(FileProblem::new(FileCode::Empty, "檔案是空的"));
    }
    if prefix.starts_with(b"PK\x03\x04") {
        return Err(FileProblem::new(
            FileCode::IsZip,
            "檔案是壓縮檔或 Excel 活頁簿（.xlsx），請在 Excel 另存為「CSV UTF-8」或 CSV 後再上傳",
        ));
    }
    if prefix.contains(&0) {
        return Err(FileProblem::new(
            FileCode::Binary,
            "檔案不是文字檔（含有二進位資料），請上傳 CSV 檔",
        ));
    }
    if prefix.starts_with(BOM) {
        return Ok(Encoding::Utf8Bom);
    }
    match std::str::from_utf8(prefix) {
        Ok(_) => Ok(Encoding::Utf8),
        // Only a sequence cut off by the end of the sample is forgiven.
        Err(e) if e.error_len().is_none() => Ok(Encoding::Utf8),
        Err(_) => Ok(Encoding::Big5),
    }
}

impl Encoding {
    /// Bytes to skip at the start of the file.
    pub fn preamble(self) -> usize {
        match self {
            Encoding::Utf8Bom => BOM.len(),
            _ => 0,
        }
    }

    /// Decodes one field; `None` when a byte does not map to a character
    /// (counted by the caller, and the row refused).
    pub fn decode(self, bytes: &[u8]) -> Option<String> {
        let mut text = String::new();
        self.decode_into(bytes, &mut text).then_some(text)
    }

    /// Decodes one field into `out` (cleared first), reusing its memory;
    /// `false` when a byte does not map.
    pub fn decode_into(self, bytes: &[u8], out: &mut String) -> bool {
        out.clear();
        match self {
            Encoding::Utf8Bom | Encoding::Utf8 => match std::str::from_utf8(bytes) {
                Ok(text) => {
                    out.push_str(text);
                    true
                }
                Err(_) => false,
            },
            Encoding::Big5 if outside_cp950(bytes) => false,
            Encoding::Big5 => {
                match encoding_rs::BIG5.decode_without_bom_handling_and_without_replacement(bytes) {
                    Some(text) => {
                        out.push_str(&text);
                        true
                    }
                    None => false,
                }
            }
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Encoding::Utf8Bom => "UTF-8 (BOM)",
            Encoding::Utf8 => "UTF-8",
            Encoding::Big5 => "Big5",
        }
    }

    pub fn from_label(label: &str) -> Option<Encoding> {
        [Encoding::Utf8Bom, Encoding::Utf8, Encoding::Big5]
            .into_iter()
            .find(|e| e.label() == label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big5(text: &str) -> Vec<u8> {
        encoding_rs::BIG5.encode(text).0.into_owned()
    }

    #[test]
    fn tells_the_encodings_apart() {
        assert_eq!(
            sniff("\u{feff}身分證字號,姓名".as_bytes()),
            Ok(Encoding::Utf8Bom)
        );
        assert_eq!(sniff("身分證字號,姓名".as_bytes()), Ok(Encoding::Utf8));
        assert_eq!(sniff(&big5("身分證字號,姓名\r\n")), Ok(Encoding::Big5));
        assert_eq!(sniff(b"id_no,name\r\n"), Ok(Encoding::Utf8));
        // A UTF-8 character cut by the end of the sample is still UTF-8.
        let text = "姓名".as_bytes();
        assert_eq!(sniff(&text[..text.len() - 1]), Ok(Encoding::Utf8));
    }

    #[test]
    fn refuses_what_is_not_a_csv() {
        assert_eq!(sniff(b"").unwrap_err().code, "file_empty");
        assert_eq!(sniff(BOM).unwrap_err().code, "file_empty");
        assert_eq!(
            sniff(b"PK\x03\x04\x14\x00").unwrap_err().code,
            "file_is_zip"
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\x00\x00").unwrap_err().code,
            "file_binary"
        );
    }

    #[test]
    fn decodes_big5_and_counts_what_does_not_map() {
        assert_eq!(
            Encoding::Big5.decode(&big5("林怡君")).as_deref(),
            Some("林怡君")
        );
        // 0x80 is not a Big5 lead byte; a lone lead byte has no trail.
        assert_eq!(Encoding::Big5.decode(b"\x80\x40"), None);
        assert_eq!(Encoding::Big5.decode(b"\xAA"), None);
        assert_eq!(Encoding::Utf8.decode(b"\xE6\x9E"), None);
    }

    #[test]
    fn refuses_agency_made_characters() {
        // 0xFA40 is in CP950's user-defined area: an agency's own glyph.
        let mut name = big5("林");
        name.extend_from_slice(b"\xFA\x40");
        assert_eq!(Encoding::Big5.decode(&name), None);
        // 堃 is not in CP950; tools that write it anyway put it in the same
        // area (Hong Kong extensions), so it is refused too: staff save the
        // file as UTF-8, where every name fits.
        assert_eq!(Encoding::Big5.decode(&big5("堃")), None);
        assert_eq!(
            Encoding::Utf8.decode("堃".as_bytes()).as_deref(),
            Some("堃")
        );
    }
}
