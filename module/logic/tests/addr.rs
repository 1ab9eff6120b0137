// SPDX-License-Identifier: GPL-2.0
//! Addresses to and from the C unions' 32-bit words.

use logic::addr::Addr;

#[test]
fn words_are_the_bytes_in_memory_order() {
    let a = Addr::v4([10, 20, 30, 2]);
    let w = a.ne_words();
    assert_eq!(w[0].to_ne_bytes(), [10, 20, 30, 2]);
    assert_eq!(&w[1..], &[0, 0, 0]);
    assert_eq!(Addr::from_ne_words(w), a);
    let mut v6 = [0u8; 16];
    for (i, b) in v6.iter_mut().enumerate() {
        *b = i as u8 * 17;
    }
    assert_eq!(Addr::from_ne_words(Addr(v6).ne_words()).0, v6);
}
