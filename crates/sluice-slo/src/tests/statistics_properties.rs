//! Property tests of the Mann-Whitney U test and of the statistical criterion's judge:
//! identical samples never fail, a large shift always fails, p-values are probabilities,
//! U1 + U2 = n1·n2, and nothing depends on the order of the values.

use crate::judge::{Outcome, Verdict, judge};
use crate::statistics::{Alternative, Method, mann_whitney_u, mann_whitney_u_with};
use proptest::prelude::*;
use sluice_model::slo::{Direction, EffectMeasure, Outliers, Statistical};

fn sample(min: usize, max: usize) -> impl Strategy<Value = Vec<f64>> {
    // Rounded values so that ties occur too.
    proptest::collection::vec(
        (0.0f64..1000.0).prop_map(|v| (v * 10.0).round() / 10.0),
        min..max,
    )
}

fn alternative() -> impl Strategy<Value = Alternative> {
    prop_oneof![
        Just(Alternative::TwoSided),
        Just(Alternative::Greater),
        Just(Alternative::Less)
    ]
}

fn criterion() -> impl Strategy<Value = Statistical> {
    (
        prop_oneof![
            Just(Direction::Increase),
            Just(Direction::Decrease),
            Just(Direction::Either)
        ],
        prop_oneof![Just(0.001), Just(0.01), Just(0.05), Just(0.1), Just(0.5)],
        prop_oneof![
            Just(None),
            Just(Some(1.0)),
            Just(Some(1.2)),
            Just(Some(1.5))
        ],
        prop_oneof![
            Just(EffectMeasure::MedianRatio),
            Just(EffectMeasure::MeanRatio)
        ],
        prop_oneof![Just(Outliers::Keep), Just(Outliers::Remove)],
    )
        .prop_map(
            |(direction, alpha, effect_size, effect_measure, outliers)| Statistical {
                direction,
                alpha,
                effect_size,
                effect_measure,
                outliers,
                ..Statistical::default()
            },
        )
}

/// A deterministic permutation of `v` driven by `seed`.
fn permuted(v: &[f64], seed: u64) -> Vec<f64> {
    let mut out = v.to_vec();
    let mut state = seed | 1;
    for i in (1..out.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.swap(i, (state % (i as u64 + 1)) as usize);
    }
    out
}

proptest! {
    #[test]
    fn identical_samples_never_fail(values in sample(1, 120), c in criterion(), seed in any::<u64>()) {
        let other = permuted(&values, seed);
        let outcome = judge(&c, Some(&values), Some(&other));
        prop_assert!(
            !matches!(&outcome, Outcome::Compared(j) if j.verdict == Verdict::Fail),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_large_shift_always_fails(
        baseline in sample(10, 80),
        current in sample(10, 80),
        alpha in prop_oneof![Just(0.01), Just(0.05)],
        effect_size in prop_oneof![Just(None), Just(Some(1.2)), Just(Some(1.5))],
        measure in prop_oneof![Just(EffectMeasure::MedianRatio), Just(EffectMeasure::MeanRatio)],
        outliers in prop_oneof![Just(Outliers::Keep), Just(Outliers::Remove)],
    ) {
        // Every current value lies above every baseline value, and at least twice as high.
        let shifted: Vec<f64> = current.iter().map(|v| v + 3000.0).collect();
        for (direction, cur, base) in [
            (Direction::Increase, &shifted, &baseline),
            (Direction::Either, &shifted, &baseline),
            (Direction::Decrease, &baseline, &shifted),
            (Direction::Either, &baseline, &shifted),
        ] {
            let c = Statistical { direction, alpha, effect_size, effect_measure: measure, outliers, ..Statistical::default() };
            let outcome = judge(&c, Some(cur), Some(base));
            prop_assert!(
                matches!(&outcome, Outcome::Compared(j) if j.verdict == Verdict::Fail),
                "{direction:?}: {outcome:?}"
            );
        }
    }

    #[test]
    fn a_shift_in_the_harmless_direction_never_fails(baseline in sample(3, 60), current in sample(3, 60), c in criterion()) {
        prop_assume!(c.direction != Direction::Either);
        let (cur, base): (Vec<f64>, Vec<f64>) = match c.direction {
            Direction::Increase => (current.clone(), baseline.iter().map(|v| v + 3000.0).collect()),
            _ => (current.iter().map(|v| v + 3000.0).collect(), baseline.clone()),
        };
        let outcome = judge(&c, Some(&cur), Some(&base));
        prop_assert!(!matches!(&outcome, Outcome::Compared(j) if j.verdict == Verdict::Fail), "{outcome:?}");
    }

    #[test]
    fn p_value_is_a_probability_and_u_adds_up(x in sample(1, 60), y in sample(1, 60), alt in alternative()) {
        for method in [Method::Auto, Method::Exact, Method::Asymptotic] {
            let r = mann_whitney_u_with(&x, &y, alt, method).unwrap();
            prop_assert!((0.0..=1.0).contains(&r.p_value), "{r:?}");
            prop_assert_eq!(r.u1 + r.u2, (x.len() * y.len()) as f64);
            prop_assert!(r.u1 >= 0.0 && r.u2 >= 0.0);
        }
    }

    #[test]
    fn swapping_the_samples_mirrors_the_test(x in sample(1, 40), y in sample(1, 40)) {
        let a = mann_whitney_u(&x, &y, Alternative::Greater).unwrap();
        let b = mann_whitney_u(&y, &x, Alternative::Less).unwrap();
        prop_assert_eq!(a.u1, b.u2);
        prop_assert!((a.p_value - b.p_value).abs() < 1e-12, "{a:?} {b:?}");
        let a = mann_whitney_u(&x, &y, Alternative::TwoSided).unwrap();
        let b = mann_whitney_u(&y, &x, Alternative::TwoSided).unwrap();
        prop_assert!((a.p_value - b.p_value).abs() < 1e-12, "{a:?} {b:?}");
    }

    #[test]
    fn order_of_values_does_not_matter(x in sample(1, 60), y in sample(1, 60), alt in alternative(), c in criterion(), s1 in any::<u64>(), s2 in any::<u64>()) {
        let (px, py) = (permuted(&x, s1), permuted(&y, s2));
        prop_assert_eq!(mann_whitney_u(&x, &y, alt).unwrap(), mann_whitney_u(&px, &py, alt).unwrap());
        prop_assert_eq!(judge(&c, Some(&x), Some(&y)), judge(&c, Some(&px), Some(&py)));
    }

    #[test]
    fn nan_values_are_dropped(x in sample(3, 30), y in sample(3, 30), c in criterion(), at in 0usize..30) {
        let mut with_nan = x.clone();
        with_nan.insert(at.min(x.len()), f64::NAN);
        let a = judge(&c, Some(&x), Some(&y));
        let b = judge(&c, Some(&with_nan), Some(&y));
        match (a, b) {
            (Outcome::Compared(a), Outcome::Compared(b)) => {
                prop_assert_eq!(b.current.dropped, 1);
                prop_assert_eq!(a.p_value, b.p_value);
                prop_assert_eq!(a.verdict, b.verdict);
            }
            (Outcome::NoData(_), Outcome::NoData(_)) => {}
            (a, b) => prop_assert!(false, "{a:?} vs {b:?}"),
        }
    }
}
