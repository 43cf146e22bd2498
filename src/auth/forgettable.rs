//! A cache of what was read from the database that can be emptied, wholly or one key at a time,
//! while lookups are under way, without a lookup that started before the emptying putting back what
//! it read before.
//!
//! Invariant: after [`Forgettable::forget_all`] returns, no entry whose lookup began before it can
//! be returned by [`Forgettable::get`]; after [`Forgettable::forget`] returns, the same holds for
//! that key. A lookup takes a [`Ticket`] before it reads, and [`Forgettable::insert`] drops its
//! entry when the epoch (`forget_all`) or the key's generation (`forget`) has moved since. The
//! insert comes first and the check after it: a forgetting that moves the counter after the check
//! removes the entry after the insert, and one that moved it before is seen by the check.
//!
//! A key's generation lives in one of [`SLOTS`] counters chosen by its hash: forgetting one key may
//! also turn away a concurrent insert of another key in the same slot, which only costs that key one
//! more read.

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};

use moka::sync::Cache;

/// Counters of key generations (a power of two).
const SLOTS: usize = 64;

pub struct Forgettable<K, V> {
    entries: Cache<K, V>,
    epoch: AtomicU64,
    generations: [AtomicU64; SLOTS],
    hasher: std::collections::hash_map::RandomState,
}

/// Taken before a lookup reads what it will insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    epoch: u64,
    slot: usize,
    generation: u64,
}

impl<K, V> Forgettable<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(entries: Cache<K, V>) -> Self {
        Self {
            entries,
            epoch: AtomicU64::new(0),
            generations: std::array::from_fn(|_| AtomicU64::new(0)),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    fn slot<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        // The low bits of a 64-bit hash; SLOTS is a power of two.
        (self.hasher.hash_one(key) as usize) & (SLOTS - 1)
    }

    /// To be taken before a lookup of `key` reads what it will insert.
    pub fn ticket<Q>(&self, key: &Q) -> Ticket
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.slot(key);
        Ticket {
            epoch: self.epoch.load(Ordering::SeqCst),
            slot,
            generation: self.generations[slot].load(Ordering::SeqCst),
        }
    }

    fn still_valid(&self, ticket: Ticket) -> bool {
        self.epoch.load(Ordering::SeqCst) == ticket.epoch
            && self.generations[ticket.slot].load(Ordering::SeqCst) == ticket.generation
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get(key)
    }

    /// Drops an entry that is no longer good (expired by its own rule), without turning away
    /// lookups under way: what they read is as good as what was there. Use [`Forgettable::forget`]
    /// when the data changed.
    pub fn invalidate<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.invalidate(key);
    }

    /// Inserts what a lookup holding `ticket` found, unless its key or the whole cache was forgotten
    /// since the ticket was taken.
    pub fn insert(&self, key: K, value: V, ticket: Ticket)
    where
        K: Clone,
    {
        self.entries.insert(key.clone(), value);
        if !self.still_valid(ticket) {
            self.entries.invalidate(&key);
        }
    }

    /// Forgets `key` (its data changed): later `get`s miss until a lookup that began after this
    /// call inserts.
    pub fn forget<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.generations[self.slot(key)].fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate(key);
    }

    /// Empties the cache: every later `get` misses until a lookup that began after this call inserts.
    pub fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_that_began_before_forgetting_inserts_nothing() {
        let cache = Forgettable::new(Cache::new(10));
        let before = cache.ticket("kept");
        cache.insert("kept", 1, before);
        assert_eq!(cache.get("kept"), Some(1));
        let stale = cache.ticket("stale");
        cache.forget_all();
        assert_eq!(cache.get("kept"), None);
        cache.insert("stale", 2, stale);
        assert_eq!(cache.get("stale"), None);
        let fresh = cache.ticket("fresh");
        cache.insert("fresh", 3, fresh);
        assert_eq!(cache.get("fresh"), Some(3));
    }

    #[test]
    fn forgetting_one_key_turns_away_its_lookups_under_way_only() {
        let cache = Forgettable::new(Cache::new(10));
        let stale = cache.ticket("user_1");
        let other = cache.ticket("user_2");
        cache.forget("user_1");
        cache.insert("user_1", 1, stale);
        assert_eq!(cache.get("user_1"), None);
        // Another key is turned away only when it shares the slot.
        cache.insert("user_2", 2, other);
        let shares_slot = cache.slot("user_1") == cache.slot("user_2");
        assert_eq!(cache.get("user_2"), (!shares_slot).then_some(2));
        let fresh = cache.ticket("user_1");
        cache.insert("user_1", 3, fresh);
        assert_eq!(cache.get("user_1"), Some(3));
        cache.forget("user_1");
        assert_eq!(cache.get("user_1"), None);
    }

    #[test]
    fn invalidating_an_expired_entry_does_not_turn_away_a_lookup() {
        let cache = Forgettable::new(Cache::new(10));
        let ticket = cache.ticket("key");
        cache.invalidate("key");
        cache.insert("key", 1, ticket);
        assert_eq!(cache.get("key"), Some(1));
    }
}
