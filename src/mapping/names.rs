//! Cluster names: which mgmt names are legacy, and the generated `c-m-` name of a prov cluster.

use sha2::{Digest, Sha256};

/// The characters Rancher uses for generated mgmt names (no vowels, no look-alikes).
pub const GENERATED_NAME_ALPHABET: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";
/// Prefix of every mgmt name generated for a prov cluster.
pub const GENERATED_NAME_PREFIX: &str = "c-m-";
const GENERATED_SUFFIX_LEN: usize = 8;

/// Legacy mgmt names are `c-` followed by exactly five of `[a-z0-9]`, or `local`.
/// `c-m-abcdefgh` (a generated name) is not legacy.
pub fn is_legacy_name(name: &str) -> bool {
    if name == crate::consts::LOCAL_CLUSTER {
        return true;
    }
    name.strip_prefix("c-").is_some_and(|rest| {
        rest.len() == 5
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// Whether `name` is a DNS-1123 label: 1–63 characters of `[-a-z0-9]`, alphanumeric at both
/// ends. Every mgmt name drover pairs a prov cluster with must be one, because it is also the
/// value of the Fleet label `management.cattle.io/cluster-name`.
pub fn is_dns_label(name: &str) -> bool {
    let b = name.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 63
        && b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
        && b.iter().all(|c| alnum(c) || *c == b'-')
}

/// The mgmt name for a prov cluster, derived from its UID: the same UID always gives the same
/// name, so a retry after a crash can never create a second mgmt cluster.
///
/// The eight characters are the base-27 digits of the first 128 bits of SHA-256(uid); with 128
/// bits of input the bias of taking 8 digits is far below anything measurable, so names spread
/// evenly over the alphabet.
pub fn generated_mgmt_name(uid: &str) -> String {
    let digest = Sha256::digest(uid.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let mut n = u128::from_be_bytes(bytes);
    let base = GENERATED_NAME_ALPHABET.len() as u128;
    let mut name = String::with_capacity(GENERATED_NAME_PREFIX.len() + GENERATED_SUFFIX_LEN);
    name.push_str(GENERATED_NAME_PREFIX);
    for _ in 0..GENERATED_SUFFIX_LEN {
        let digit = (n % base) as usize;
        n /= base;
        name.push(char::from(GENERATED_NAME_ALPHABET[digit]));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_character_c_names_and_local_are_legacy() {
        assert!(is_legacy_name("c-ab12c"));
        assert!(is_legacy_name("c-00000"));
        assert!(is_legacy_name("local"));
    }

    #[test]
    fn generated_and_malformed_names_are_not_legacy() {
        for name in [
            "c-m-abcdefgh",
            "c-abcd",
            "c-abcdef",
            "c-ABCDE",
            "c-ab_cd",
            "d-abcde",
            "localhost",
            "prod",
            "",
        ] {
            assert!(!is_legacy_name(name), "{name} must not be legacy");
        }
    }

    #[test]
    fn dns_labels_are_short_lower_case_and_alphanumeric_at_both_ends() {
        for name in ["c-m-abcdefgh", "a", "prod-1", &"a".repeat(63)] {
            assert!(is_dns_label(name), "{name}");
        }
        for name in ["", "-a", "a-", "Prod", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!is_dns_label(name), "{name}");
        }
    }

    #[test]
    fn the_same_uid_always_gives_the_same_name() {
        let uid = "6c1f6d0c-3f0e-4a53-9d1c-1f2b3c4d5e6f";
        assert_eq!(generated_mgmt_name(uid), generated_mgmt_name(uid));
    }

    #[test]
    fn generated_names_are_c_m_and_eight_characters_of_the_alphabet() {
        for i in 0..1000 {
            let name = generated_mgmt_name(&format!("uid-{i}"));
            let suffix = name.strip_prefix("c-m-").expect("prefix");
            assert_eq!(suffix.len(), 8, "{name}");
            assert!(
                suffix.bytes().all(|b| GENERATED_NAME_ALPHABET.contains(&b)),
                "{name}"
            );
            assert!(!is_legacy_name(&name));
        }
    }

    #[test]
    fn different_uids_give_different_names() {
        let names: std::collections::HashSet<_> = (0..20_000)
            .map(|i| generated_mgmt_name(&format!("00000000-0000-0000-0000-{i:012}")))
            .collect();
        assert_eq!(names.len(), 20_000);
    }

    #[test]
    fn generated_characters_spread_evenly_over_the_alphabet() {
        // 27 symbols x 8 positions; 10,000 names give 80,000 characters, about 2,963 per symbol.
        let mut counts = [0usize; 27];
        for i in 0..10_000 {
            let name = generated_mgmt_name(&format!("uid-{i}"));
            for b in name.bytes().skip(4) {
                let idx = GENERATED_NAME_ALPHABET
                    .iter()
                    .position(|&a| a == b)
                    .expect("in alphabet");
                counts[idx] += 1;
            }
        }
        let expected = 80_000.0 / 27.0;
        // Chi-squared with 26 degrees of freedom: 54.05 is the 0.999 quantile.
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        assert!(
            chi2 < 54.05,
            "uneven spread, chi2 = {chi2}, counts = {counts:?}"
        );
    }
}
