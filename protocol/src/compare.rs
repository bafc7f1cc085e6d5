//! How a total is compared with the same period last year while some of the units it adds up
//! from have not reported: over the same units in both years. Last year's full total against
//! this year's partial one would read as a fall (or hide a rise) by the missing units' share.
//! One rule for the server's figures and the wall's tiles, so the two never disagree.

/// The share of the units below a total that must be matched for a like-for-like comparison;
/// with fewer, the comparison is left as the totals make it.
pub const MIN_MATCHED_SHARE: f64 = 0.8;

/// This period's and last year's values summed over the units both complete, with their
/// number: one pair `(now, last year)` for each unit below the total, a value given only when
/// the unit's own figure is complete. `None` when fewer than [`MIN_MATCHED_SHARE`] of the
/// units match.
pub fn like_for_like(
    pairs: impl IntoIterator<Item = (Option<f64>, Option<f64>)>,
) -> Option<(f64, f64, u32)> {
    let (mut now, mut before, mut n, mut units) = (0.0, 0.0, 0u32, 0u32);
    for pair in pairs {
        units += 1;
        if let (Some(a), Some(b)) = pair {
            now += a;
            before += b;
            n += 1;
        }
    }
    (n > 0 && f64::from(n) >= MIN_MATCHED_SHARE * f64::from(units)).then_some((now, before, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_units_are_summed_in_both_years_when_enough_match() {
        // Nine of ten units in both years; the tenth has not reported this year.
        let mut pairs = vec![(Some(110.0), Some(100.0)); 9];
        pairs.push((None, Some(100.0)));
        assert_eq!(like_for_like(pairs.clone()), Some((990.0, 900.0, 9)));
        // Three of ten: too few to stand for the total.
        pairs.truncate(3);
        pairs.extend(vec![(None, Some(100.0)); 7]);
        assert_eq!(like_for_like(pairs), None);
        assert_eq!(like_for_like(Vec::new()), None);
    }
}
