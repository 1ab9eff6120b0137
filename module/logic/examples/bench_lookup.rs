// SPDX-License-Identifier: GPL-2.0
//! Benchmark of the new-flow decision: lookup cost against the number of
//! mappings, side by side in one run, and memory per mapping.
//!
//!     cargo run --release --example bench_lookup
//!
//! Prints figures and ratios; asserts nothing (see `make bench`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use logic::addr::{Addr, Family};
use logic::policy::{Reqids, SeenPolicy};
use logic::selector::{DestSelector, Flow, Selector};
use logic::stats::Stats;
use logic::table::{Binding, Inactive, MapKey, Mapping, Table};
use logic::vec::AllocError;

type BenchMapping = Mapping<Arc<[u64; 2]>>;

/// `n` mappings to distinct /24 office networks under 10/8, each with its
/// own NAT address, like many road-warrior policies on one gateway, and
/// some to /16 and /32 networks so that several prefix lengths are in use.
fn table(n: u32) -> Result<Table<Arc<[u64; 2]>>, AllocError> {
    let (ms, ps) = contents(n);
    Table::build(ms, &ps)
}

/// The policies of `table(n)`, and `extra`.
fn table_policies(n: u32, extra: &SeenPolicy) -> Vec<SeenPolicy> {
    let mut ps = contents(n).1;
    ps.push(*extra);
    ps
}

/// The mappings and policies of `table(n)`.
fn contents(n: u32) -> (Vec<BenchMapping>, Vec<SeenPolicy>) {
    let mut ms = Vec::new();
    let mut ps = Vec::new();
    for i in 0..n {
        let plen = match i % 10 {
            0 => 16,
            1 => 32,
            _ => 24,
        };
        let dst = Addr::v4([10, (i >> 8) as u8, i as u8, 1]).masked(plen);
        let nat = Addr::v4([172, 16 + (i >> 16) as u8, (i >> 8) as u8, i as u8]);
        let dest = DestSelector { prefixlen_s: 32, daddr: dst, prefixlen_d: plen, ..Default::default() };
        let index = 1 + 8 * i;
        ps.push(SeenPolicy { index, family: Family::V4, selector: Selector { saddr: nat, dest }, priority: 0, reqids: Reqids::new([1 + i]) });
        // Half by spid, half by reqid (one policy each, as a reqid of an
        // IKE child with one remote subnet).
        let key = if i % 2 == 0 { MapKey::Spid(index) } else { MapKey::Reqid(1 + i) };
        ms.push(Mapping { key, family: Family::V4, nat, nat_len: 32, from: None, pending: Default::default(), inbound: false, remote: None, name: None, stats: Arc::new([0; 2]) });
    }
    (ms, ps)
}

fn flows(n: u32) -> Vec<Flow> {
    // Half of the flows hit a mapping, half miss (Internet traffic).
    (0..4096u32)
        .map(|k| {
            let i = k.wrapping_mul(2_654_435_761) % n.max(1);
            let daddr = if k % 2 == 0 { Addr::v4([10, (i >> 8) as u8, i as u8, 1]) } else { Addr::v4([93, 184, (k >> 8) as u8, k as u8]) };
            Flow { saddr: Addr::v4([192, 168, 1, 17]), daddr, proto: 17, sport: 40000u16.to_be(), dport: 53u16.to_be(), oif: 2 }
        })
        .collect()
}

fn ns_per_lookup(t: &Table<Arc<[u64; 2]>>, fs: &[Flow]) -> f64 {
    let rounds = 200;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let mut hits = 0usize;
        for _ in 0..rounds {
            for f in fs {
                hits += black_box(t.lookup(Family::V4, black_box(f))).is_some() as usize;
            }
        }
        black_box(hits);
        best = best.min(start.elapsed().as_nanos() as f64 / (rounds * fs.len()) as f64);
    }
    best
}

/// The kmalloc cache an allocation of `size` bytes comes from.
fn slab_size(size: usize) -> usize {
    [8, 16, 32, 64, 96, 128, 192, 256].into_iter().find(|&s| s >= size).unwrap_or(size.next_power_of_two())
}

fn main() -> Result<(), AllocError> {
    let sizes = [1u32, 100, 1_000, 10_000];
    println!("new-flow lookup, best of 5 runs of {} lookups (half hits, half misses)", 200 * 4096);
    println!("{:>8}  {:>8}  {:>10}  {:>8}  {:>12}", "mappings", "prefixes", "ns/lookup", "ratio", "build ms");
    let mut base = None;
    for &n in &sizes {
        let start = Instant::now();
        let t = table(n)?;
        let build = start.elapsed().as_secs_f64() * 1e3;
        let ns = ns_per_lookup(&t, &flows(n));
        let b = *base.get_or_insert(ns);
        // Prefix lengths in use: the number of binary searches per lookup.
        let prefixes = n.min(3);
        println!("{n:>8}  {prefixes:>8}  {ns:>10.1}  {:>8.2}  {build:>12.2}", ns / b);
    }
    // The module's shared part: the counters' handle and the optional
    // hold queue's.
    let mapping = std::mem::size_of::<Mapping<(Arc<[u64; 2]>, Option<Arc<()>>)>>();
    // Its status: where its bindings are, and why it has none.
    let status = 8 + size_of::<Option<Inactive>>();
    // One binding: the policy's selector and priority.
    let binding = size_of::<Binding>();
    // Index: an 8-byte destination and a 4-byte policy entry per binding,
    // at most one 4-byte destination bucket bound per binding, a 4-byte
    // address entry per mapping; and the binding's 8-byte SA readiness.
    // Counters: the kernel's `Arc` puts a 4-byte refcount before them
    // (padded to their alignment), served from the smallest kmalloc cache
    // that fits.
    let counters = slab_size(4usize.next_multiple_of(align_of::<Stats>()) + size_of::<Stats>());
    let per = mapping + status + binding + 28 + counters;
    println!(
        "memory per mapping with one binding: {mapping} (snapshot entry) + {status} (status) + {binding} (binding) + 28 (indexes, SA readiness) + {counters} (counters, slab) = {per} bytes"
    );
    one_mapping_edits()?;
    Ok(())
}

/// What a writer does to map one more key into a table of n: rebuild the
/// whole table, or `with_one`.  Best of 5.
fn one_mapping_edits() -> Result<(), AllocError> {
    println!();
    println!("map one more key into a table of n mappings, best of 5 runs, ms");
    println!("{:>8}  {:>10}  {:>10}  {:>8}", "mappings", "rebuild", "with_one", "ratio");
    for n in [1u32, 100, 1_000, 10_000] {
        let t = table(n)?;
        let nat = Addr::v4([100, 127, 0, 1]);
        let dest = DestSelector { prefixlen_s: 32, daddr: Addr::v4([12, 0, 0, 0]), prefixlen_d: 24, ..Default::default() };
        let p = SeenPolicy { index: 7993, family: Family::V4, selector: Selector { saddr: nat, dest }, priority: 0, reqids: Reqids::new([7993]) };
        let m = Mapping { key: MapKey::Spid(7993), family: Family::V4, nat, nat_len: 32, from: None, pending: Default::default(), inbound: false, remote: None, name: None, stats: Arc::new([0; 2]) };
        let best = |f: &mut dyn FnMut() -> Result<Table<Arc<[u64; 2]>>, AllocError>| -> Result<f64, AllocError> {
            let mut best = f64::MAX;
            for _ in 0..5 {
                let start = Instant::now();
                black_box(f()?);
                best = best.min(start.elapsed().as_secs_f64() * 1e3);
            }
            Ok(best)
        };
        // The rebuild needs every policy; the table keeps none, so they
        // are made again, outside the timing.
        let policies = table_policies(n, &p);
        let rebuild = best(&mut || {
            let mut ms = t.edited(|m| Some(m.clone()))?;
            ms.push(m.clone());
            Table::build(ms, &policies)
        })?;
        let one = best(&mut || t.with_one(m.key, Some(m.clone()), std::slice::from_ref(&p)))?;
        println!("{n:>8}  {rebuild:>10.3}  {one:>10.3}  {:>8.1}", rebuild / one);
    }
    Ok(())
}
