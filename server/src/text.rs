//! Vietnamese text keys: NFC normalisation (uploads arrive NFC or NFD, from Excel or from
//! systems), case and space folding for matching names, and diacritic folding for "did you mean"
//! hints only — never for matching, since "Hà Nam" and "Hà Nậm" are different places. Also
//! moments written in Vietnam's time, as people there read them.

use unicode_normalization::UnicodeNormalization;

/// The text in Unicode NFC.
pub fn nfc(text: &str) -> String {
    text.nfc().collect()
}

/// A matching key: NFC, lower case, inner whitespace collapsed to one space, trimmed.
pub fn fold_key(text: &str) -> String {
    let lower = nfc(text).to_lowercase();
    lower.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The key with diacritics removed (`đ` → `d`), for suggestions when an exact match fails.
pub fn fold_diacritics(text: &str) -> String {
    fold_key(text)
        .nfd()
        .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'd',
            other => other,
        })
        .collect()
}

/// A moment (ms since 1970) written in Vietnam's time — UTC+7 all year — with chrono's
/// `format` ("%H:%M %d/%m/%Y"); the number itself when it is no date chrono can hold.
pub fn vietnam_time(ms: i64, format: &str) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .zip(chrono::FixedOffset::east_opt(7 * 3600))
        .map_or_else(
            || ms.to_string(),
            |(t, vn)| t.with_timezone(&vn).format(format).to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_read_in_vietnams_time() {
        assert_eq!(vietnam_time(0, "%H:%M %d/%m/%Y"), "07:00 01/01/1970");
        // 17:30 UTC on 30/11 is past midnight in Hà Nội.
        let ms = 1_796_059_800_000;
        assert_eq!(vietnam_time(ms, "%d/%m/%Y %H:%M"), "01/12/2026 00:30");
        assert_eq!(vietnam_time(i64::MAX, "%H:%M"), i64::MAX.to_string());
    }

    #[test]
    fn nfd_input_matches_nfc_key() {
        let nfd: String = "Thành phố Hồ Chí Minh".nfd().collect();
        assert_ne!(nfd, "Thành phố Hồ Chí Minh");
        assert_eq!(fold_key(&nfd), "thành phố hồ chí minh");
    }

    #[test]
    fn diacritic_folding_keeps_letters() {
        assert_eq!(fold_diacritics("  Đắk  Lắk "), "dak lak");
        assert_ne!(fold_key("Hà Nam"), fold_key("Hà Nậm"));
    }
}
