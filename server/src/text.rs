//! Vietnamese text keys: NFC normalisation (uploads arrive NFC or NFD, from Excel or from
//! systems), case and space folding for matching names, and diacritic folding for "did you mean"
//! hints only — never for matching, since "Hà Nam" and "Hà Nậm" are different places.

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

#[cfg(test)]
mod tests {
    use super::*;

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
