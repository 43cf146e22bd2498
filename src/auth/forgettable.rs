//! A cache of verified credentials that can be emptied while lookups are under way, without a
//! lookup that started before the emptying putting back what it read before.
//!
//! Invariant: after [`Forgettable::forget_all`] returns, no entry whose lookup began before it can be
//! returned by [`Forgettable::get`]. A lookup takes [`Forgettable::epoch`] before it reads, and
//! [`Forgettable::insert`] drops its entry when the epoch has moved since. The insert comes first and
//! the check after it: a `forget_all` that moves the epoch after the check empties the cache after
//! the insert, and one that moved it before is seen by the check.

use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};

use moka::sync::Cache;

pub struct Forgettable<K, V> {
    entries: Cache<K, V>,
    epoch: AtomicU64,
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
        }
    }

    /// To be taken before a lookup reads what it will insert.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get(key)
    }

    pub fn invalidate<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.invalidate(key);
    }

    /// Inserts what a lookup that began at `epoch` found, unless the cache was emptied since.
    pub fn insert(&self, key: K, value: V, epoch: u64)
    where
        K: Clone,
    {
        self.entries.insert(key.clone(), value);
        if self.epoch() != epoch {
            self.entries.invalidate(&key);
        }
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
        let before = cache.epoch();
        cache.insert("kept", 1, before);
        assert_eq!(cache.get("kept"), Some(1));
        let stale = cache.epoch();
        cache.forget_all();
        assert_eq!(cache.get("kept"), None);
        cache.insert("stale", 2, stale);
        assert_eq!(cache.get("stale"), None);
        let fresh = cache.epoch();
        cache.insert("fresh", 3, fresh);
        assert_eq!(cache.get("fresh"), Some(3));
    }
}
