// SPDX-License-Identifier: GPL-2.0
//! A persistent hash trie: the destination index of the table, which the
//! packet path searches once per prefix length in use for each new flow.
//!
//! A [`crate::pmap::PMap`] descends O(log n) nodes per search; this trie
//! descends at most 7, one per 5 bits of a 32-bit hash (about 3 for ten
//! thousand entries), each a small array of the present children behind a
//! bitmap.  A change copies the nodes on one path, at most 7 of at most 32
//! pointers, and shares the rest with the old trie, which stays valid for
//! its RCU readers; recursion is bounded by the same 7.
//!
//! The entries of one hash sit in one leaf, sorted by the caller's order.

use super::rc::{self, Rc};
use super::vec::{self, AllocError, Vec};

/// Bits of the hash per level.
const BITS: u32 = 5;

enum Node<T> {
    /// The children present among the 32 of this level, by `bitmap`.
    Branch { bitmap: u32, children: Vec<Rc<Node<T>>> },
    /// The entries of one hash, in order.
    Leaf { hash: u32, entries: Vec<T> },
}

/// A persistent map from a 32-bit hash to a sorted run of entries.
pub struct HashTrie<T> {
    root: Option<Rc<Node<T>>>,
    len: usize,
}

impl<T> Clone for HashTrie<T> {
    fn clone(&self) -> Self {
        Self { root: self.root.clone(), len: self.len }
    }
}

impl<T> Default for HashTrie<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Where `hash` goes at `shift`: its bit in a branch's bitmap.
fn bit_of(hash: u32, shift: u32) -> u32 {
    1 << (hash.checked_shr(shift).unwrap_or(0) & ((1 << BITS) - 1))
}

/// The position among a branch's children of the child of `bit`.
fn position(bitmap: u32, bit: u32) -> usize {
    (bitmap & (bit - 1)).count_ones() as usize
}

fn leaf<T>(hash: u32, entries: Vec<T>) -> Result<Rc<Node<T>>, AllocError> {
    rc::new(Node::Leaf { hash, entries })
}

/// `children` with `new` at `at`, in place of the child there if
/// `replace`, else inserted before it.
fn with_child<T>(children: &[Rc<Node<T>>], at: usize, new: Option<Rc<Node<T>>>, replace: bool) -> Result<Vec<Rc<Node<T>>>, AllocError> {
    let mut out = vec::with_capacity(children.len() + 1)?;
    for (i, c) in children.iter().enumerate() {
        if i == at {
            if let Some(n) = &new {
                vec::push(&mut out, n.clone())?;
            }
            if replace {
                continue;
            }
        }
        vec::push(&mut out, c.clone())?;
    }
    if at >= children.len() {
        if let Some(n) = new {
            vec::push(&mut out, n)?;
        }
    }
    Ok(out)
}

/// A branch at `shift` over two leaves of different hashes.
fn fork<T>(shift: u32, a: Rc<Node<T>>, a_hash: u32, b: Rc<Node<T>>, b_hash: u32) -> Result<Rc<Node<T>>, AllocError> {
    let (bit_a, bit_b) = (bit_of(a_hash, shift), bit_of(b_hash, shift));
    let mut children = vec::with_capacity(2)?;
    if bit_a == bit_b {
        // Hashes differ, so some later level tells them apart.
        vec::push(&mut children, fork(shift + BITS, a, a_hash, b, b_hash)?)?;
    } else if bit_a < bit_b {
        vec::push(&mut children, a)?;
        vec::push(&mut children, b)?;
    } else {
        vec::push(&mut children, b)?;
        vec::push(&mut children, a)?;
    }
    rc::new(Node::Branch { bitmap: bit_a | bit_b, children })
}

impl<T> HashTrie<T> {
    /// The empty trie.
    pub const fn new() -> Self {
        Self { root: None, len: 0 }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entries of `hash`, in order.
    pub fn get(&self, hash: u32) -> &[T] {
        let mut at = self.root.as_deref();
        let mut shift = 0;
        while let Some(node) = at {
            match node {
                Node::Leaf { hash: h, entries } => return if *h == hash { entries } else { &[] },
                Node::Branch { bitmap, children } => {
                    let bit = bit_of(hash, shift);
                    if bitmap & bit == 0 {
                        return &[];
                    }
                    at = children.get(position(*bitmap, bit)).map(|c| &**c);
                    shift += BITS;
                }
            }
        }
        &[]
    }

    /// The bytes an entry takes, alone in its leaf, as the module
    /// allocates them: the leaf behind the kernel `Arc`'s refcount, and
    /// its vector of one, each from the smallest kmalloc cache that fits
    /// (the branches above it are shared by up to 32 entries each).
    pub const fn leaf_size() -> usize {
        super::table::slab_size(super::pmap::arc_size::<Node<T>>()) + super::table::slab_size(core::mem::size_of::<T>())
    }

    /// The addresses of the nodes, to tell which two tries share.
    #[cfg(not(MODULE))]
    pub fn nodes(&self) -> alloc::collections::BTreeSet<usize> {
        fn walk<T>(n: &Rc<Node<T>>, out: &mut alloc::collections::BTreeSet<usize>) {
            out.insert(Rc::as_ptr(n) as *const () as usize);
            if let Node::Branch { children, .. } = &**n {
                children.iter().for_each(|c| walk(c, out));
            }
        }
        let mut out = alloc::collections::BTreeSet::new();
        if let Some(r) = &self.root {
            walk(r, &mut out);
        }
        out
    }
}

impl<T: Clone> HashTrie<T> {
    /// This trie with `entry` among those of `hash`, before the first
    /// that `before` says it goes before; an entry `same` says is the same
    /// is replaced.
    pub fn insert(&self, hash: u32, entry: T, same: impl Fn(&T) -> bool, before: impl Fn(&T) -> bool) -> Result<Self, AllocError> {
        let mut added = true;
        let root = insert(self.root.as_ref(), 0, hash, entry, &same, &before, &mut added)?;
        Ok(Self { root: Some(root), len: self.len + usize::from(added) })
    }

    /// This trie without the entry of `hash` that `same` picks (the same
    /// trie if there is none).
    pub fn remove(&self, hash: u32, same: impl Fn(&T) -> bool) -> Result<Self, AllocError> {
        if !self.get(hash).iter().any(&same) {
            return Ok(self.clone());
        }
        let root = match &self.root {
            Some(r) => remove(r, 0, hash, &same)?,
            None => None,
        };
        Ok(Self { root, len: self.len - 1 })
    }
}

fn insert<T: Clone>(
    node: Option<&Rc<Node<T>>>,
    shift: u32,
    hash: u32,
    entry: T,
    same: &dyn Fn(&T) -> bool,
    before: &dyn Fn(&T) -> bool,
    added: &mut bool,
) -> Result<Rc<Node<T>>, AllocError> {
    let Some(node) = node else {
        let mut entries = vec::with_capacity(1)?;
        vec::push(&mut entries, entry)?;
        return leaf(hash, entries);
    };
    match &**node {
        Node::Leaf { hash: h, entries } if *h == hash => {
            let mut out = vec::with_capacity(entries.len() + 1)?;
            let mut entry = Some(entry);
            for e in entries.iter() {
                if same(e) {
                    *added = false;
                    if let Some(new) = entry.take() {
                        vec::push(&mut out, new)?;
                    }
                    continue;
                }
                if before(e) {
                    if let Some(new) = entry.take() {
                        vec::push(&mut out, new)?;
                    }
                }
                vec::push(&mut out, e.clone())?;
            }
            if let Some(new) = entry {
                vec::push(&mut out, new)?;
            }
            leaf(hash, out)
        }
        Node::Leaf { hash: h, .. } => {
            let fresh = insert(None, shift, hash, entry, same, before, added)?;
            fork(shift, node.clone(), *h, fresh, hash)
        }
        Node::Branch { bitmap, children } => {
            let bit = bit_of(hash, shift);
            let at = position(*bitmap, bit);
            let present = bitmap & bit != 0;
            let child = if present { children.get(at) } else { None };
            let new = insert(child, shift + BITS, hash, entry, same, before, added)?;
            rc::new(Node::Branch { bitmap: bitmap | bit, children: with_child(children, at, Some(new), present)? })
        }
    }
}

fn remove<T: Clone>(node: &Rc<Node<T>>, shift: u32, hash: u32, same: &dyn Fn(&T) -> bool) -> Result<Option<Rc<Node<T>>>, AllocError> {
    match &**node {
        Node::Leaf { hash: h, entries } if *h == hash => {
            let mut out = vec::with_capacity(entries.len())?;
            for e in entries.iter().filter(|e| !same(e)) {
                vec::push(&mut out, e.clone())?;
            }
            if out.is_empty() {
                Ok(None)
            } else {
                Ok(Some(leaf(hash, out)?))
            }
        }
        Node::Leaf { .. } => Ok(Some(node.clone())),
        Node::Branch { bitmap, children } => {
            let bit = bit_of(hash, shift);
            if bitmap & bit == 0 {
                return Ok(Some(node.clone()));
            }
            let at = position(*bitmap, bit);
            let Some(child) = children.get(at) else { return Ok(Some(node.clone())) };
            let new = remove(child, shift + BITS, hash, same)?;
            let bitmap = if new.is_some() { *bitmap } else { bitmap & !bit };
            let children = with_child(children, at, new, true)?;
            // A branch left with one leaf gives way to it: a search stops at
            // a leaf and compares the whole hash.
            if let [only] = &children[..] {
                if matches!(**only, Node::Leaf { .. }) {
                    return Ok(Some(only.clone()));
                }
            }
            if children.is_empty() {
                return Ok(None);
            }
            Ok(Some(rc::new(Node::Branch { bitmap, children })?))
        }
    }
}
