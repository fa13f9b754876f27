//! Text encodings of legacy files (a shapefile's .dbf): named by a label (`--encoding`, a `.cpg`), by a dBASE
//! language driver id, or assumed as GDAL does. encoding_rs decodes the Windows, ISO and CJK code pages;
//! oem_cp has the DOS ones (437, 850, 852, ...) encoding_rs leaves out. ISO-8859-1 is decoded here as
//! ISO-8859-1: encoding_rs follows the WHATWG standard, which reads that label as Windows-1252 and so would
//! turn bytes 0x80-0x9F into other characters than GDAL does.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use encoding_rs::Encoding;
use oem_cp::code_table as oem;

/// One text encoding the readers can decode.
#[derive(Clone, Copy)]
pub enum TextEncoding {
    Utf8,
    /// ISO-8859-1 proper: every byte is the code point of the same number.
    Latin1,
    Web(&'static Encoding),
    /// A DOS code page: bytes below 0x80 are ASCII, the others this table's.
    Oem(u16, &'static [char; 128]),
    /// A DOS code page some of whose upper bytes mean nothing.
    OemPartial(u16, &'static [Option<char>; 128]),
}

impl PartialEq for TextEncoding {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl fmt::Debug for TextEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for TextEncoding {
    type Err = String;
    fn from_str(label: &str) -> Result<Self, String> {
        Self::from_label(label).ok_or_else(|| {
            format!(
                "unknown text encoding '{label}'; use a name such as UTF-8, ISO-8859-1, windows-1252, \
                 CP437, CP850, Shift_JIS or GBK"
            )
        })
    }
}

impl TextEncoding {
    /// The encoding a label names: a WHATWG label (`utf-8`, `windows-1252`, `shift_jis`), a code page
    /// number as ESRI's `.cpg` files write it (`1252`, `ANSI 1251`, `CP850`, `88591`, `8859_5`), or
    /// `latin1`/`ISO-8859-1`.
    pub fn from_label(label: &str) -> Option<Self> {
        let label = label.trim().trim_start_matches('\u{feff}').trim();
        let upper = label.to_ascii_uppercase().replace(['_', ' '], "-");
        if matches!(
            upper.as_str(),
            "ISO-8859-1"
                | "ISO8859-1"
                | "88591"
                | "8859-1"
                | "LATIN1"
                | "LATIN-1"
                | "ISO-IR-100"
                | "L1"
        ) {
            return Some(Self::Latin1);
        }
        if matches!(upper.as_str(), "UTF-8" | "UTF8") {
            return Some(Self::Utf8);
        }
        // ESRI's numeric forms: "1252", "ANSI-1252", "CP1252", "8859-5" or "88595"
        let number = upper
            .strip_prefix("ANSI-")
            .or_else(|| upper.strip_prefix("CP"))
            .or_else(|| upper.strip_prefix("IBM"))
            .or_else(|| upper.strip_prefix("WINDOWS-"))
            .unwrap_or(&upper);
        if let Some(part) = number
            .strip_prefix("8859-")
            .or_else(|| number.strip_prefix("8859").filter(|p| !p.is_empty()))
        {
            return Encoding::for_label(format!("iso-8859-{part}").as_bytes()).map(Self::Web);
        }
        if let Ok(page) = number.parse::<u16>() {
            return Self::from_code_page(page);
        }
        Encoding::for_label(label.as_bytes()).map(|e| {
            if e == encoding_rs::UTF_8 {
                Self::Utf8
            } else {
                Self::Web(e)
            }
        })
    }

    /// A Windows or DOS code page by number.
    pub fn from_code_page(page: u16) -> Option<Self> {
        let table = match page {
            437 => &oem::DECODING_TABLE_CP437,
            737 => &oem::DECODING_TABLE_CP737,
            775 => &oem::DECODING_TABLE_CP775,
            850 => &oem::DECODING_TABLE_CP850,
            852 => &oem::DECODING_TABLE_CP852,
            855 => &oem::DECODING_TABLE_CP855,
            858 => &oem::DECODING_TABLE_CP858,
            860 => &oem::DECODING_TABLE_CP860,
            861 => &oem::DECODING_TABLE_CP861,
            862 => &oem::DECODING_TABLE_CP862,
            863 => &oem::DECODING_TABLE_CP863,
            865 => &oem::DECODING_TABLE_CP865,
            // encoding_rs has IBM866 too; the table keeps the DOS pages in one place
            866 => &oem::DECODING_TABLE_CP866,
            869 => &oem::DECODING_TABLE_CP869,
            857 => return Some(Self::OemPartial(857, &oem::DECODING_TABLE_CP857)),
            65001 => return Some(Self::Utf8),
            28591 => return Some(Self::Latin1),
            _ => {
                let label = match page {
                    874 => "windows-874",
                    932 => "shift_jis",
                    936 => "gbk",
                    949 => "euc-kr",
                    950 => "big5",
                    1250..=1258 => {
                        return Encoding::for_label(format!("windows-{page}").as_bytes())
                            .map(Self::Web);
                    }
                    10000 => "macintosh",
                    10007 => "x-mac-cyrillic",
                    20866 => "koi8-r",
                    21866 => "koi8-u",
                    28592..=28606 => {
                        return Encoding::for_label(
                            format!("iso-8859-{}", page - 28590).as_bytes(),
                        )
                        .map(Self::Web);
                    }
                    _ => return None,
                };
                return Encoding::for_label(label.as_bytes()).map(Self::Web);
            }
        };
        Some(Self::Oem(page, table))
    }

    /// The code page a dBASE header's language driver id (byte 29) names, as GDAL's shapefile driver maps
    /// them; `None` for 0 (not said) and for ids GDAL does not know either.
    pub fn dbase_language_driver(ldid: u8) -> Option<u16> {
        Some(match ldid {
            0x01 | 0x0B | 0x0D | 0x0F | 0x11 | 0x15 | 0x18 | 0x19 | 0x1B => 437,
            0x02 | 0x0A | 0x0E | 0x10 | 0x12 | 0x14 | 0x16 | 0x1A | 0x1D | 0x25 | 0x37 => 850,
            0x03 | 0x57 | 0x58 | 0x59 => 1252,
            0x04 => 10000,
            0x08 | 0x17 | 0x66 => 865,
            0x13 | 0x7B => 932,
            0x1C | 0x6C => 863,
            0x1F | 0x22 | 0x23 | 0x40 | 0x64 | 0x87 => 852,
            0x24 => 860,
            0x26 | 0x65 => 866,
            0x4D | 0x7A => 936,
            0x4E | 0x79 => 949,
            0x4F | 0x78 => 950,
            0x50 | 0x7C => 874,
            0x67 => 861,
            0x6A | 0x86 => 737,
            0x6B | 0x88 => 857,
            0x96 => 10007,
            0x97 => 10029,
            0xC8 => 1250,
            0xC9 => 1251,
            0xCA => 1254,
            0xCB => 1253,
            0xCC => 1257,
            _ => return None,
        })
    }

    /// The name the encoding is reported by.
    pub fn name(&self) -> String {
        match self {
            Self::Utf8 => "UTF-8".into(),
            Self::Latin1 => "ISO-8859-1".into(),
            Self::Web(e) => e.name().into(),
            Self::Oem(page, _) | Self::OemPartial(page, _) => format!("CP{page}"),
        }
    }

    /// The text of `bytes`; `Err` with U+FFFD in place of what does not decode, for the caller to say where.
    pub fn decode<'a>(&self, bytes: &'a [u8]) -> Result<Cow<'a, str>, String> {
        match self {
            Self::Utf8 => std::str::from_utf8(bytes)
                .map(Cow::Borrowed)
                .map_err(|_| String::from_utf8_lossy(bytes).into_owned()),
            Self::Latin1 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
            Self::Oem(_, table) => Ok(bytes
                .iter()
                .map(|&b| {
                    if b < 0x80 {
                        char::from(b)
                    } else {
                        table[usize::from(b - 0x80)]
                    }
                })
                .collect()),
            Self::OemPartial(_, table) => {
                let mut whole = true;
                let text = bytes
                    .iter()
                    .map(|&b| {
                        if b < 0x80 {
                            char::from(b)
                        } else {
                            table[usize::from(b - 0x80)].unwrap_or_else(|| {
                                whole = false;
                                char::REPLACEMENT_CHARACTER
                            })
                        }
                    })
                    .collect();
                if whole {
                    Ok(Cow::Owned(text))
                } else {
                    Err(text)
                }
            }
            Self::Web(encoding) => encoding
                .decode_without_bom_handling_and_without_replacement(bytes)
                .ok_or_else(|| encoding.decode_without_bom_handling(bytes).0.into_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_as_esri_cpg_files_and_users_write_them() {
        for (label, name) in [
            ("UTF-8", "UTF-8"),
            ("utf8", "UTF-8"),
            ("\u{feff}UTF-8\r\n", "UTF-8"),
            ("1252", "windows-1252"),
            ("ANSI 1251", "windows-1251"),
            ("CP1252", "windows-1252"),
            ("88591", "ISO-8859-1"),
            ("8859_1", "ISO-8859-1"),
            ("ISO-8859-1", "ISO-8859-1"),
            ("latin1", "ISO-8859-1"),
            ("88595", "ISO-8859-5"),
            ("8859_2", "ISO-8859-2"),
            ("437", "CP437"),
            ("cp850", "CP850"),
            ("Shift_JIS", "Shift_JIS"),
            ("936", "GBK"),
            ("koi8-r", "KOI8-R"),
        ] {
            assert_eq!(
                TextEncoding::from_label(label).map(|e| e.name()).as_deref(),
                Some(name),
                "{label:?}"
            );
        }
        assert!(TextEncoding::from_label("klingon").is_none());
        assert!(TextEncoding::from_label("").is_none());
        assert!("12345".parse::<TextEncoding>().is_err());
    }

    #[test]
    fn decodes_each_family_and_reports_what_does_not_decode() {
        let latin1 = TextEncoding::Latin1;
        assert_eq!(latin1.decode(b"\xd1and\xfa").as_deref(), Ok("Ñandú"));
        // true ISO-8859-1: 0x80 is a C1 control, not the euro sign of Windows-1252
        assert_eq!(latin1.decode(b"\x80").as_deref(), Ok("\u{80}"));
        let cp1252 = TextEncoding::from_code_page(1252).expect("cp1252");
        assert_eq!(cp1252.decode(b"M\xe9xico \x80").as_deref(), Ok("México €"));
        let cp437 = TextEncoding::from_code_page(437).expect("cp437");
        assert_eq!(cp437.decode(b"\x82t\x82").as_deref(), Ok("été"));
        let cp850 = TextEncoding::from_code_page(850).expect("cp850");
        assert_eq!(cp850.decode(b"\xa5").as_deref(), Ok("Ñ"));
        let sjis = TextEncoding::from_label("shift_jis").expect("sjis");
        assert_eq!(sjis.decode(b"\x93\x8c\x8b\x9e").as_deref(), Ok("東京"));
        assert_eq!(
            TextEncoding::Utf8.decode(b"M\xe9xico"),
            Err("M\u{fffd}xico".to_string())
        );
    }

    #[test]
    fn language_driver_ids_map_as_gdal_maps_them() {
        let page = |ldid| TextEncoding::dbase_language_driver(ldid);
        assert_eq!(page(0x57), Some(1252));
        assert_eq!(page(0x03), Some(1252));
        assert_eq!(page(0x01), Some(437));
        assert_eq!(page(0x02), Some(850));
        assert_eq!(page(0x64), Some(852));
        assert_eq!(page(0x65), Some(866));
        assert_eq!(page(0x4D), Some(936));
        assert_eq!(page(0x7B), Some(932));
        assert_eq!(page(0xC9), Some(1251));
        assert_eq!(page(0), None);
        for ldid in 0..=u8::MAX {
            if let Some(page) = page(ldid)
                && page != 10029
            {
                assert!(TextEncoding::from_code_page(page).is_some(), "{page}");
            }
        }
    }
}
