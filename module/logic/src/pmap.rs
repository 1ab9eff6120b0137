// SPDX-License-Identifier: GPL-2.0
//! A persistent ordered map: each change makes a new map that shares all
//! but O(log n) of its nodes with the old one, which stays valid.
//!
//! The table's indexes are such maps, so that a writer that changes one
//! mapping of many copies a few tree paths instead of the whole table,
//! while RCU readers go on reading the old snapshot: its nodes are freed
//! with it, after a grace period, unless the new one shares them.
//!
//! It is a treap: a binary search tree by key that is a heap by a random
//! priority, drawn from a generator each map carries, so its depth is
//! O(log n) with high probability whatever the order of the keys.  Readers
//! descend it without a stack (the packet path does not allocate), so
//! walking in order costs one descent per step ([`PMap::after`]).

use core::cmp::Ordering;

use super::rc::{self, Rc};
use super::vec::AllocError;

struct Node<K, V> {
    key: K,
    value: V,
    priority: u32,
    left: Link<K, V>,
    right: Link<K, V>,
}

type Link<K, V> = Option<Rc<Node<K, V>>>;

/// A persistent map from `K` to `V`.
pub struct PMap<K, V> {
    root: Link<K, V>,
    len: usize,
    /// The state of the priority generator (xorshift32, never 0).
    seed: u32,
}

impl<K, V> Clone for PMap<K, V> {
    fn clone(&self) -> Self {
        Self { root: self.root.clone(), len: self.len, seed: self.seed }
    }
}

impl<K, V> Default for PMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> PMap<K, V> {
    /// The empty map.
    pub const fn new() -> Self {
        Self { root: None, len: 0, seed: 0x9e37_79b9 }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A copy of `n` with other children.
fn with_children<K: Clone, V: Clone>(n: &Node<K, V>, left: Link<K, V>, right: Link<K, V>) -> Result<Link<K, V>, AllocError> {
    Ok(Some(rc::new(Node { key: n.key.clone(), value: n.value.clone(), priority: n.priority, left, right })?))
}

/// The entries of `t` below `key`, and those above it; an entry of `key`
/// is left out.
fn split<K: Ord + Clone, V: Clone>(t: &Link<K, V>, key: &K) -> Result<(Link<K, V>, Link<K, V>), AllocError> {
    let Some(n) = t else { return Ok((None, None)) };
    Ok(match key.cmp(&n.key) {
        Ordering::Less => {
            let (below, above) = split(&n.left, key)?;
            (below, with_children(n, above, n.right.clone())?)
        }
        Ordering::Greater => {
            let (below, above) = split(&n.right, key)?;
            (with_children(n, n.left.clone(), below)?, above)
        }
        Ordering::Equal => (n.left.clone(), n.right.clone()),
    })
}

/// The union of `a` and `b`, every key of `a` below every key of `b`.
fn join<K: Clone, V: Clone>(a: &Link<K, V>, b: &Link<K, V>) -> Result<Link<K, V>, AllocError> {
    match (a, b) {
        (None, t) | (t, None) => Ok(t.clone()),
        (Some(x), Some(y)) if x.priority >= y.priority => with_children(x, x.left.clone(), join(&x.right, b)?),
        (Some(_), Some(y)) => with_children(y, join(a, &y.left)?, y.right.clone()),
    }
}

fn insert<K: Ord + Clone, V: Clone>(t: &Link<K, V>, key: K, value: V, priority: u32) -> Result<Link<K, V>, AllocError> {
    let Some(n) = t else {
        return Ok(Some(rc::new(Node { key, value, priority, left: None, right: None })?));
    };
    if priority > n.priority {
        let (left, right) = split(t, &key)?;
        return Ok(Some(rc::new(Node { key, value, priority, left, right })?));
    }
    match key.cmp(&n.key) {
        Ordering::Less => with_children(n, insert(&n.left, key, value, priority)?, n.right.clone()),
        Ordering::Greater => with_children(n, n.left.clone(), insert(&n.right, key, value, priority)?),
        Ordering::Equal => {
            Ok(Some(rc::new(Node { key, value, priority: n.priority, left: n.left.clone(), right: n.right.clone() })?))
        }
    }
}

fn remove<K: Ord + Clone, V: Clone>(t: &Link<K, V>, key: &K) -> Result<Link<K, V>, AllocError> {
    let Some(n) = t else { return Ok(None) };
    match key.cmp(&n.key) {
        Ordering::Less => with_children(n, remove(&n.left, key)?, n.right.clone()),
        Ordering::Greater => with_children(n, n.left.clone(), remove(&n.right, key)?),
        Ordering::Equal => join(&n.left, &n.right),
    }
}

impl<K, V> PMap<K, V> {
    /// The bytes one entry takes: its node, behind the kernel `Arc`'s
    /// 4-byte refcount padded to the node's alignment.
    pub const fn entry_size() -> usize {
        arc_size::<Node<K, V>>()
    }
}

/// The bytes the kernel's `Arc` of a `T` allocates: the value behind a
/// 4-byte refcount padded to its alignment.
pub const fn arc_size<T>() -> usize {
    4usize.next_multiple_of(core::mem::align_of::<T>()) + core::mem::size_of::<T>()
}

impl<K: Ord + Clone, V: Clone> PMap<K, V> {
    /// This map with `value` under `key`, replacing any value there.
    pub fn insert(&self, key: K, value: V) -> Result<Self, AllocError> {
        let mut seed = self.seed;
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let len = if self.get(&key).is_some() { self.len } else { self.len + 1 };
        Ok(Self { root: insert(&self.root, key, value, seed)?, len, seed })
    }

    /// This map without `key`'s entry (the same map if there is none).
    pub fn remove(&self, key: &K) -> Result<Self, AllocError> {
        if self.get(key).is_none() {
            return Ok(self.clone());
        }
        Ok(Self { root: remove(&self.root, key)?, len: self.len - 1, seed: self.seed })
    }
}

impl<K: Ord + Clone, V: Clone> PMap<K, V> {
    /// A map of `entries`, which must be sorted by key with no key twice
    /// (else it is built one insertion at a time): in O(n), a balanced
    /// tree, for a writer that builds a whole table.
    pub fn from_sorted(entries: &[(K, V)]) -> Result<Self, AllocError> {
        if !entries.windows(2).all(|w| w[0].0 < w[1].0) {
            let mut map = Self::new();
            for (k, v) in entries {
                map = map.insert(k.clone(), v.clone())?;
            }
            return Ok(map);
        }
        /// The middle entry is the root, a level above the others: as a
        /// heap by priority, each level's priority is below its parent's,
        /// and later insertions, with random priorities, mostly land in
        /// the lower levels.
        fn balanced<K: Clone, V: Clone>(entries: &[(K, V)], depth: u32) -> Result<Link<K, V>, AllocError> {
            let mid = entries.len() / 2;
            let Some((key, value)) = entries.get(mid) else { return Ok(None) };
            let left = balanced(entries.get(..mid).unwrap_or_default(), depth + 1)?;
            let right = balanced(entries.get(mid + 1..).unwrap_or_default(), depth + 1)?;
            let priority = u32::MAX.saturating_sub(depth.saturating_mul(1 << 26));
            Ok(Some(rc::new(Node { key: key.clone(), value: value.clone(), priority, left, right })?))
        }
        Ok(Self { root: balanced(entries, 0)?, len: entries.len(), seed: Self::new().seed })
    }
}

impl<K: Ord, V> PMap<K, V> {
    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        let mut at = self.root.as_deref();
        while let Some(n) = at {
            at = match key.cmp(&n.key) {
                Ordering::Less => n.left.as_deref(),
                Ordering::Greater => n.right.as_deref(),
                Ordering::Equal => return Some(&n.value),
            };
        }
        None
    }

    /// The first entry whose key `past` is false for, `past` being true of
    /// a prefix of the keys in order (as for `partition_point`).
    fn first_where_not(&self, past: impl Fn(&K) -> bool) -> Option<(&K, &V)> {
        let mut at = self.root.as_deref();
        let mut found = None;
        while let Some(n) = at {
            if past(&n.key) {
                at = n.right.as_deref();
            } else {
                found = Some((&n.key, &n.value));
                at = n.left.as_deref();
            }
        }
        found
    }

    /// The last entry whose key `upto` is true of, `upto` being true of a
    /// prefix of the keys in order.
    fn last_where(&self, upto: impl Fn(&K) -> bool) -> Option<(&K, &V)> {
        let mut at = self.root.as_deref();
        let mut found = None;
        while let Some(n) = at {
            if upto(&n.key) {
                found = Some((&n.key, &n.value));
                at = n.right.as_deref();
            } else {
                at = n.left.as_deref();
            }
        }
        found
    }

    /// The first entry with a key of at least `key`.
    pub fn at_or_after(&self, key: &K) -> Option<(&K, &V)> {
        self.first_where_not(|k| k < key)
    }

    /// The first entry with a key above `key`.
    pub fn after(&self, key: &K) -> Option<(&K, &V)> {
        self.first_where_not(|k| k <= key)
    }

    /// The last entry with a key of at most `key`.
    pub fn at_or_before(&self, key: &K) -> Option<(&K, &V)> {
        self.last_where(|k| k <= key)
    }

    /// The last entry with a key below `key`.
    pub fn before(&self, key: &K) -> Option<(&K, &V)> {
        self.last_where(|k| k < key)
    }

    /// The first entry.
    pub fn first(&self) -> Option<(&K, &V)> {
        self.first_where_not(|_| false)
    }

    /// The entries with a key of at least `key`, in order.
    pub fn iter_from<'a>(&'a self, key: &K) -> Iter<'a, K, V> {
        Iter { map: self, next: self.at_or_after(key), started: true }
    }

    /// All entries, in order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter { map: self, next: self.first(), started: true }
    }

    /// The addresses of the nodes, to tell which two maps share.
    #[cfg(not(MODULE))]
    pub fn nodes(&self) -> alloc::collections::BTreeSet<usize> {
        fn walk<K, V>(t: &Link<K, V>, out: &mut alloc::collections::BTreeSet<usize>) {
            if let Some(n) = t {
                out.insert(Rc::as_ptr(n) as usize);
                walk(&n.left, out);
                walk(&n.right, out);
            }
        }
        let mut out = alloc::collections::BTreeSet::new();
        walk(&self.root, &mut out);
        out
    }
}

/// An in-order walk of a [`PMap`]: each step is one descent from the root,
/// taken only when the step is asked for, so a reader that stops after an
/// entry pays for no more.
pub struct Iter<'a, K, V> {
    map: &'a PMap<K, V>,
    /// The entry to yield next, if known (`started`), else the last one
    /// yielded, whose successor comes next.
    next: Option<(&'a K, &'a V)>,
    started: bool,
}

impl<K, V> Clone for Iter<'_, K, V> {
    fn clone(&self) -> Self {
        Self { map: self.map, next: self.next, started: self.started }
    }
}

impl<'a, K: Ord, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        if !self.started {
            self.next = self.map.after(self.next?.0);
        }
        self.started = false;
        self.next
    }
}
