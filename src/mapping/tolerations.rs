//! Toleration lists in one canonical order, so that a list built from maps and node lists never
//! flaps between reconciles.

use std::cmp::Ordering;

use k8s_openapi::api::core::v1::Toleration;

fn compare(a: &Toleration, b: &Toleration) -> Ordering {
    // Option's ordering puts None first, which is "absent first" for every field.
    a.key
        .cmp(&b.key)
        .then_with(|| a.value.cmp(&b.value))
        .then_with(|| a.operator.cmp(&b.operator))
        .then_with(|| a.effect.cmp(&b.effect))
        .then_with(|| a.toleration_seconds.cmp(&b.toleration_seconds))
}

/// Sorts by key, value, operator, effect and tolerationSeconds (absent first) and removes exact
/// duplicates.
pub fn sorted_tolerations(mut tolerations: Vec<Toleration>) -> Vec<Toleration> {
    tolerations.sort_by(compare);
    tolerations.dedup_by(|a, b| compare(a, b) == Ordering::Equal);
    tolerations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(
        key: &str,
        value: Option<&str>,
        op: Option<&str>,
        effect: Option<&str>,
        secs: Option<i64>,
    ) -> Toleration {
        Toleration {
            key: Some(key.into()),
            value: value.map(Into::into),
            operator: op.map(Into::into),
            effect: effect.map(Into::into),
            toleration_seconds: secs,
        }
    }

    #[test]
    fn tolerations_in_any_order_give_one_sorted_list() {
        let a = t("a", Some("1"), Some("Equal"), Some("NoSchedule"), None);
        let b = t("b", None, Some("Exists"), Some("NoExecute"), Some(30));
        let b_absent = t("b", None, Some("Exists"), Some("NoExecute"), None);
        let c = t("c", Some("x"), None, None, None);
        let expected = vec![a.clone(), b_absent.clone(), b.clone(), c.clone()];
        let orders = [
            vec![c.clone(), b.clone(), a.clone(), b_absent.clone()],
            vec![b.clone(), b_absent.clone(), c.clone(), a.clone()],
            vec![a.clone(), c.clone(), b_absent.clone(), b.clone()],
        ];
        for order in orders {
            assert_eq!(sorted_tolerations(order), expected);
        }
    }

    #[test]
    fn absent_fields_sort_before_present_ones() {
        let none = Toleration {
            key: None,
            ..Toleration::default()
        };
        let some = t("a", None, None, None, None);
        assert_eq!(
            sorted_tolerations(vec![some.clone(), none.clone()]),
            vec![none, some]
        );
    }

    #[test]
    fn exact_duplicates_are_removed() {
        let a = t("a", Some("1"), Some("Equal"), Some("NoSchedule"), None);
        assert_eq!(sorted_tolerations(vec![a.clone(), a.clone()]), vec![a]);
    }

    #[test]
    fn an_empty_list_stays_empty() {
        assert!(sorted_tolerations(Vec::new()).is_empty());
    }
}
