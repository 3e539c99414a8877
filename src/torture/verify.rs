//! The check: what the writers were told against what sluice holds.
//!
//! The DynamoDB stream decides the unknown writes: walking a key's writes in version
//! order, each write implies one change (new version, version it replaced) — none for a
//! delete of an absent item — and the stream must hold the change of every acknowledged
//! write, in that order; an unknown write counts as applied exactly when its change is
//! there. That walk gives each key's expected chain of changes and final state; the items
//! must show the final states and every destination must hold the chain, in order, each
//! change once (a remote destination is at-least-once: its copies are counted apart, and
//! must carry the same eventID so a consumer can drop them).

use std::collections::{BTreeMap, HashMap};

use super::feeds::Event;
use super::workload::{Op, Outcome, Write};

/// A change's identity: (new version, old version). Versions are unique, so no two
/// changes of a key share one.
type Change = (Option<u64>, Option<u64>);

/// What one feed showed.
#[derive(Debug, Default, Clone)]
pub struct FeedTally {
    /// Records read.
    pub records: usize,
    /// Changes of acknowledged (or applied unknown) writes missing.
    pub lost: usize,
    /// Extra copies of a change.
    pub duplicated: usize,
    /// Extra copies whose eventID differs from the first copy's (no consumer could drop
    /// them).
    pub duplicated_new_id: usize,
    /// Changes of a key out of version order.
    pub out_of_order: usize,
    /// Changes no write explains.
    pub unexpected: usize,
    /// Some examples, for the report.
    pub examples: Vec<String>,
}

impl FeedTally {
    fn note(&mut self, what: String) {
        if self.examples.len() < 5 {
            self.examples.push(what);
        }
    }

    /// Whether the feed broke exactly-once (`exactly_once`) or at-least-once delivery.
    pub fn violations(&self, exactly_once: bool) -> usize {
        let dup = if exactly_once { self.duplicated } else { self.duplicated_new_id };
        self.lost + dup + self.out_of_order + self.unexpected
    }
}

/// What the check of one table found.
#[derive(Debug, Default, Clone)]
pub struct TableCheck {
    pub writes_acked: usize,
    pub writes_refused: usize,
    pub writes_unknown: usize,
    pub unknown_applied: usize,
    pub unknown_absent: usize,
    /// Unknown deletes of an item already absent: no change either way.
    pub unknown_noop: usize,
    /// Items whose stored state is not the expected final state.
    pub items_wrong: usize,
    pub items_checked: usize,
    pub stream: FeedTally,
    pub item_examples: Vec<String>,
}

/// A feed's events by key, each key's in feed order; copies counted and dropped (the
/// last copy kept: a resent chunk's last copy is the one in order).
fn by_key(events: &[Event], tally: &mut FeedTally) -> HashMap<String, Vec<Change>> {
    tally.records += events.len();
    let mut keys: HashMap<String, Vec<(Change, &str)>> = HashMap::new();
    for e in events {
        let list = keys.entry(e.key.clone()).or_default();
        let change = (e.new, e.old);
        if let Some(at) = list.iter().position(|(c, _)| *c == change) {
            tally.duplicated += 1;
            if list[at].1 != e.event_id {
                tally.duplicated_new_id += 1;
                tally.note(format!("{}: copy of {change:?} with another eventID", e.key));
            }
            list.remove(at);
        }
        list.push((change, &e.event_id));
    }
    keys.into_iter().map(|(k, v)| (k, v.into_iter().map(|(c, _)| c).collect())).collect()
}

/// Checks `table`'s writes against its items and stream; returns the tally and each
/// key's expected chain for the destinations.
pub fn table(
    writes: &[&Write],
    items: &HashMap<String, u64>,
    stream: &[Event],
) -> (TableCheck, BTreeMap<String, Vec<Change>>) {
    let mut check = TableCheck::default();
    let observed = by_key(stream, &mut check.stream);
    let mut per_key: BTreeMap<&str, Vec<&Write>> = BTreeMap::new();
    for w in writes {
        match w.outcome {
            Outcome::Acked => check.writes_acked += 1,
            Outcome::Refused => check.writes_refused += 1,
            Outcome::Unknown => check.writes_unknown += 1,
        }
        if w.outcome != Outcome::Refused {
            per_key.entry(&w.key).or_default().push(w);
        }
    }
    let mut chains = BTreeMap::new();
    let empty = Vec::new();
    for (key, mut writes) in per_key {
        writes.sort_by_key(|w| w.version);
        let seen = observed.get(key).unwrap_or(&empty);
        let position: HashMap<Change, usize> =
            seen.iter().enumerate().map(|(i, c)| (*c, i)).collect();
        let mut matched = vec![false; seen.len()];
        let mut last: Option<usize> = None;
        let mut state: Option<u64> = None;
        let mut chain = Vec::new();
        for w in writes {
            let change = match w.op {
                Op::Put | Op::Update => Some((Some(w.version), state)),
                Op::Delete => state.map(|old| (None, Some(old))),
            };
            let Some(change) = change else {
                if w.outcome == Outcome::Unknown {
                    check.unknown_noop += 1;
                }
                continue;
            };
            match position.get(&change) {
                Some(&at) => {
                    if last.is_some_and(|l| at < l) {
                        check.stream.out_of_order += 1;
                        check.stream.note(format!("{key}: {change:?} out of order"));
                    }
                    last = Some(at);
                    matched[at] = true;
                    if w.outcome == Outcome::Unknown {
                        check.unknown_applied += 1;
                    }
                }
                None if w.outcome == Outcome::Acked => {
                    check.stream.lost += 1;
                    check
                        .stream
                        .note(format!("{key}: acknowledged {:?} v{} missing", w.op, w.version));
                }
                None => {
                    check.unknown_absent += 1;
                    continue;
                }
            }
            state = change.0;
            chain.push(change);
        }
        let unexpected = matched.iter().filter(|m| !**m).count();
        if unexpected > 0 {
            check.stream.unexpected += unexpected;
            check.stream.note(format!("{key}: {unexpected} changes no write explains"));
        }
        check.items_checked += 1;
        if items.get(key).copied() != state {
            check.items_wrong += 1;
            if check.item_examples.len() < 5 {
                let got = items.get(key);
                check.item_examples.push(format!("{key}: holds {got:?}, expected {state:?}"));
            }
        }
        chains.insert(key.to_string(), chain);
    }
    for key in items.keys() {
        if !chains.contains_key(key) {
            check.items_wrong += 1;
            check.item_examples.push(format!("{key}: present but never written"));
        }
    }
    (check, chains)
}

/// Checks a destination's events against the expected chains.
pub fn destination(chains: &BTreeMap<String, Vec<Change>>, events: &[Event]) -> FeedTally {
    let mut tally = FeedTally::default();
    let observed = by_key(events, &mut tally);
    let empty = Vec::new();
    for (key, chain) in chains {
        let seen = observed.get(key).unwrap_or(&empty);
        let position: HashMap<Change, usize> =
            seen.iter().enumerate().map(|(i, c)| (*c, i)).collect();
        let mut last: Option<usize> = None;
        for change in chain {
            match position.get(change) {
                Some(&at) => {
                    if last.is_some_and(|l| at < l) {
                        tally.out_of_order += 1;
                        tally.note(format!("{key}: {change:?} out of order"));
                    }
                    last = Some(at);
                }
                None => {
                    tally.lost += 1;
                    tally.note(format!("{key}: {change:?} missing"));
                }
            }
        }
        let unexpected = seen.iter().filter(|c| !chain.contains(c)).count();
        if unexpected > 0 {
            tally.unexpected += unexpected;
            tally.note(format!("{key}: {unexpected} changes the stream does not hold"));
        }
    }
    for key in observed.keys().filter(|k| !chains.contains_key(*k)) {
        tally.unexpected += observed[key].len();
        tally.note(format!("{key}: changes of a key never written"));
    }
    tally
}

/// How many of a destination's distinct changes are in (to wait for a lagging bridge).
pub fn distinct(events: &[Event]) -> usize {
    let mut set = std::collections::HashSet::new();
    events.iter().filter(|e| set.insert((&e.key, e.new, e.old))).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(key: &str, version: u64, op: Op, outcome: Outcome) -> Write {
        Write { table: "t".into(), key: key.into(), version, op, outcome }
    }

    fn e(key: &str, new: Option<u64>, old: Option<u64>, id: &str) -> Event {
        Event { key: key.into(), new, old, event_id: id.into() }
    }

    #[test]
    fn unknown_writes_are_decided_by_the_stream_and_acked_ones_must_be_there() {
        let writes = [
            w("a", 1, Op::Put, Outcome::Acked),
            w("a", 2, Op::Update, Outcome::Unknown),
            w("a", 3, Op::Delete, Outcome::Acked),
            w("a", 4, Op::Put, Outcome::Unknown),
            w("b", 5, Op::Put, Outcome::Acked),
            w("b", 6, Op::Delete, Outcome::Refused),
        ];
        let refs: Vec<&Write> = writes.iter().collect();
        let stream = [
            e("a", Some(1), None, "e1"),
            e("b", Some(5), None, "e5"),
            e("a", Some(2), Some(1), "e2"),
            e("a", None, Some(2), "e3"),
        ];
        let items = HashMap::from([("b".to_string(), 5)]);
        let (check, chains) = table(&refs, &items, &stream);
        assert_eq!((check.unknown_applied, check.unknown_absent), (1, 1));
        assert_eq!(check.stream.violations(true), 0, "{:?}", check.stream);
        assert_eq!(check.items_wrong, 0, "{:?}", check.item_examples);
        assert_eq!(chains["a"], [(Some(1), None), (Some(2), Some(1)), (None, Some(2))]);

        // The destination: a copy (same eventID), and one order swap.
        let dest = [
            e("a", Some(1), None, "e1"),
            e("a", Some(2), Some(1), "e2"),
            e("a", Some(1), None, "e1"),
            e("a", None, Some(2), "e3"),
            e("b", Some(5), None, "e5"),
        ];
        let t = destination(&chains, &dest);
        // Last copy kept: e1 now follows e2.
        assert_eq!((t.duplicated, t.duplicated_new_id, t.out_of_order, t.lost), (1, 0, 1, 0));

        // A lost acknowledged change and a wrong item are found.
        let (check, _) = table(&refs, &HashMap::new(), &stream[..2]);
        assert_eq!(check.stream.lost, 1, "{:?}", check.stream);
        assert_eq!(check.items_wrong, 1);
    }
}
