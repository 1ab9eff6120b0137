// SPDX-License-Identifier: GPL-2.0
//! The destination index's hash trie against a map of sorted runs.

use std::collections::BTreeMap;

use logic::htrie::HashTrie;

#[test]
fn inserts_and_removes_agree_with_a_model_and_leave_the_old_trie_alone() {
    let mut trie: HashTrie<(u32, u32)> = HashTrie::new();
    let mut model: BTreeMap<u32, Vec<(u32, u32)>> = BTreeMap::new();
    let mut x = 99u32;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for round in 0..20_000u32 {
        let r = next();
        // Few distinct hashes that share long prefixes of bits, so that
        // leaves split deep and branches collapse.
        let hash = (r % 61).wrapping_mul(0x0400_0001) ^ ((r >> 20) & 3);
        let value = (next() % 8, round);
        let run = model.entry(hash).or_default();
        let before = trie.clone();
        let old = before.get(hash).to_vec();
        if r % 3 == 0 && !run.is_empty() {
            let gone = run.remove((next() as usize) % run.len());
            trie = trie.remove(hash, |e| *e == gone).unwrap();
        } else {
            // Ordered by the first field; equal first fields replace.
            match run.iter().position(|e| e.0 >= value.0) {
                Some(i) if run[i].0 == value.0 => run[i] = value,
                Some(i) => run.insert(i, value),
                None => run.push(value),
            }
            trie = trie.insert(hash, value, |e| e.0 == value.0, |e| value.0 < e.0).unwrap();
        }
        assert_eq!(trie.get(hash), &run[..], "round {round}, hash {hash:#x}");
        assert_eq!(before.get(hash), &old[..], "the old trie changed in round {round}");
        if round % 500 == 0 {
            for (h, run) in &model {
                assert_eq!(trie.get(*h), &run[..]);
            }
            assert_eq!(trie.len(), model.values().map(Vec::len).sum::<usize>());
        }
    }
    assert!(trie.get(0xdead_beef).is_empty());
}
