//! How a general turns several reported values into one plan.

use std::collections::BTreeSet;

use crate::messages::Plan;

/// OM(m)'s majority: ATTACK only if strictly more votes say attack than retreat;
/// a tie (no majority) gives the default, RETREAT.
pub fn majority(votes: impl IntoIterator<Item = Plan>) -> Plan {
    let (attack, retreat) = votes
        .into_iter()
        .fold((0usize, 0usize), |(a, r), v| match v {
            Plan::Attack => (a + 1, r),
            Plan::Retreat => (a, r + 1),
        });
    if attack > retreat {
        Plan::Attack
    } else {
        Plan::DEFAULT
    }
}

/// SM(m)'s choice(V): the order itself when V holds exactly one order; RETREAT when V is
/// empty (no order came) or holds both (the commander signed two orders, so it is a traitor).
pub fn choice(orders: &BTreeSet<Plan>) -> Plan {
    match orders.len() {
        1 => *orders.first().expect("one element"),
        _ => Plan::DEFAULT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Plan::{Attack, Retreat};

    #[test]
    fn majority_needs_strictly_more_attacks() {
        assert_eq!(majority([Attack, Attack, Retreat]), Attack);
        assert_eq!(majority([Attack, Retreat]), Retreat);
        assert_eq!(majority([Retreat, Retreat, Attack]), Retreat);
        assert_eq!(majority([]), Retreat);
    }

    #[test]
    fn choice_follows_a_single_order_only() {
        assert_eq!(choice(&BTreeSet::from([Attack])), Attack);
        assert_eq!(choice(&BTreeSet::from([Retreat])), Retreat);
        assert_eq!(choice(&BTreeSet::from([Attack, Retreat])), Retreat);
        assert_eq!(choice(&BTreeSet::new()), Retreat);
    }
}
