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
            10006 => &MAC_GREEK,
            10029 => &MAC_CENTRAL_EUROPEAN,
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
    /// them, plus the ids of the dBASE/ESRI table GDAL 3.6 lacks (0x09, 0x7D, 0x7E, 0x98); `None` for 0 (not
    /// said) and for ids no table names.
    pub fn dbase_language_driver(ldid: u8) -> Option<u16> {
        Some(match ldid {
            0x01 | 0x09 | 0x0B | 0x0D | 0x0F | 0x11 | 0x15 | 0x18 | 0x19 | 0x1B => 437,
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
            0x98 => 10006,
            // ESRI's own ids (ArcGIS writes them for Hebrew and Arabic Windows text); GDAL 3.6 leaves them
            // unmapped and passes the bytes through undecoded, which no reader of ours should do
            0x7D => 1255,
            0x7E => 1256,
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

/// Mac OS Central European (Windows code page 10029), from the Unicode Consortium's MICSFT/MAC/LATIN2.TXT:
/// encoding_rs and oem_cp lack it, and dBASE language driver 0x97 names it.
static MAC_CENTRAL_EUROPEAN: [char; 128] = [
    '\u{00C4}', '\u{0100}', '\u{0101}', '\u{00C9}', '\u{0104}', '\u{00D6}', '\u{00DC}', '\u{00E1}',
    '\u{0105}', '\u{010C}', '\u{00E4}', '\u{010D}', '\u{0106}', '\u{0107}', '\u{00E9}', '\u{0179}',
    '\u{017A}', '\u{010E}', '\u{00ED}', '\u{010F}', '\u{0112}', '\u{0113}', '\u{0116}', '\u{00F3}',
    '\u{0117}', '\u{00F4}', '\u{00F6}', '\u{00F5}', '\u{00FA}', '\u{011A}', '\u{011B}', '\u{00FC}',
    '\u{2020}', '\u{00B0}', '\u{0118}', '\u{00A3}', '\u{00A7}', '\u{2022}', '\u{00B6}', '\u{00DF}',
    '\u{00AE}', '\u{00A9}', '\u{2122}', '\u{0119}', '\u{00A8}', '\u{2260}', '\u{0123}', '\u{012E}',
    '\u{012F}', '\u{012A}', '\u{2264}', '\u{2265}', '\u{012B}', '\u{0136}', '\u{2202}', '\u{2211}',
    '\u{0142}', '\u{013B}', '\u{013C}', '\u{013D}', '\u{013E}', '\u{0139}', '\u{013A}', '\u{0145}',
    '\u{0146}', '\u{0143}', '\u{00AC}', '\u{221A}', '\u{0144}', '\u{0147}', '\u{2206}', '\u{00AB}',
    '\u{00BB}', '\u{2026}', '\u{00A0}', '\u{0148}', '\u{0150}', '\u{00D5}', '\u{0151}', '\u{014C}',
    '\u{2013}', '\u{2014}', '\u{201C}', '\u{201D}', '\u{2018}', '\u{2019}', '\u{00F7}', '\u{25CA}',
    '\u{014D}', '\u{0154}', '\u{0155}', '\u{0158}', '\u{2039}', '\u{203A}', '\u{0159}', '\u{0156}',
    '\u{0157}', '\u{0160}', '\u{201A}', '\u{201E}', '\u{0161}', '\u{015A}', '\u{015B}', '\u{00C1}',
    '\u{0164}', '\u{0165}', '\u{00CD}', '\u{017D}', '\u{017E}', '\u{016A}', '\u{00D3}', '\u{00D4}',
    '\u{016B}', '\u{016E}', '\u{00DA}', '\u{016F}', '\u{0170}', '\u{0171}', '\u{0172}', '\u{0173}',
    '\u{00DD}', '\u{00FD}', '\u{0137}', '\u{017B}', '\u{0141}', '\u{017C}', '\u{0122}', '\u{02C7}',
];

/// Mac OS Greek (code page 10006), from Apple's GREEK.TXT, for dBASE language driver 0x98.
static MAC_GREEK: [char; 128] = [
    '\u{00C4}', '\u{00B9}', '\u{00B2}', '\u{00C9}', '\u{00B3}', '\u{00D6}', '\u{00DC}', '\u{0385}',
    '\u{00E0}', '\u{00E2}', '\u{00E4}', '\u{0384}', '\u{00A8}', '\u{00E7}', '\u{00E9}', '\u{00E8}',
    '\u{00EA}', '\u{00EB}', '\u{00A3}', '\u{2122}', '\u{00EE}', '\u{00EF}', '\u{2022}', '\u{00BD}',
    '\u{2030}', '\u{00F4}', '\u{00F6}', '\u{00A6}', '\u{20AC}', '\u{00F9}', '\u{00FB}', '\u{00FC}',
    '\u{2020}', '\u{0393}', '\u{0394}', '\u{0398}', '\u{039B}', '\u{039E}', '\u{03A0}', '\u{00DF}',
    '\u{00AE}', '\u{00A9}', '\u{03A3}', '\u{03AA}', '\u{00A7}', '\u{2260}', '\u{00B0}', '\u{00B7}',
    '\u{0391}', '\u{00B1}', '\u{2264}', '\u{2265}', '\u{00A5}', '\u{0392}', '\u{0395}', '\u{0396}',
    '\u{0397}', '\u{0399}', '\u{039A}', '\u{039C}', '\u{03A6}', '\u{03AB}', '\u{03A8}', '\u{03A9}',
    '\u{03AC}', '\u{039D}', '\u{00AC}', '\u{039F}', '\u{03A1}', '\u{2248}', '\u{03A4}', '\u{00AB}',
    '\u{00BB}', '\u{2026}', '\u{00A0}', '\u{03A5}', '\u{03A7}', '\u{0386}', '\u{0388}', '\u{0153}',
    '\u{2013}', '\u{2015}', '\u{201C}', '\u{201D}', '\u{2018}', '\u{2019}', '\u{00F7}', '\u{0389}',
    '\u{038A}', '\u{038C}', '\u{038E}', '\u{03AD}', '\u{03AE}', '\u{03AF}', '\u{03CC}', '\u{038F}',
    '\u{03CD}', '\u{03B1}', '\u{03B2}', '\u{03C8}', '\u{03B4}', '\u{03B5}', '\u{03C6}', '\u{03B3}',
    '\u{03B7}', '\u{03B9}', '\u{03BE}', '\u{03BA}', '\u{03BB}', '\u{03BC}', '\u{03BD}', '\u{03BF}',
    '\u{03C0}', '\u{03CE}', '\u{03C1}', '\u{03C3}', '\u{03C4}', '\u{03B8}', '\u{03C9}', '\u{03C2}',
    '\u{03C7}', '\u{03C5}', '\u{03B6}', '\u{03CA}', '\u{03CB}', '\u{0390}', '\u{03B0}', '\u{00AD}',
];

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
