// SPDX-License-Identifier: GPL-2.0
//! xfrm_nat: source NAT of outgoing traffic into an IPsec policy chosen by
//! its index.
//!
//! `xnatctl map spid=305 to 10.20.30.2` makes every new outgoing flow that
//! policy 305 would carry once its source is 10.20.30.2 leave with that
//! source, through policy 305's tunnel.  See Documentation/xfrm_nat.rst.

use kernel::prelude::*;

mod bindings;
mod explain;
mod hold;
mod km;
mod logic;
mod namespace;
mod nat;
// The `net` layer is written as a public API, sound for any caller, hence
// `pub` items that this crate does not re-export; net/mod.rs says which of
// the crate's types it still uses.
#[allow(unreachable_pub)]
mod net;
mod netlink;
mod snapshot;
mod state;

// `module!`, spelt for the kernel being built against (net/compat.rs).
net::compat::module_one_author! {
    type: XfrmNatModule,
    name: "xfrm_nat",
    author: "xfrm-nat developers",
    description: "Source NAT into IPsec policies by policy index",
    license: "GPL",
    // MODULE_ALIAS_GENL_FAMILY("xfrm_nat"): the genetlink controller loads
    // an installed module on the first request for the family.
    alias: ["net-pf-16-proto-16-family-xfrm_nat"],
}

/// Fields drop in declaration order: key-manager events stop first; then
/// the netlink family goes, which waits for every running request, and
/// with it the pernet subsystem, so every namespace's state (and hooks)
/// goes; then the connect aborts drain; last, the RCU callbacks that free
/// retired objects, which run module code, complete.
struct XfrmNatModule {
    _km: net::xfrm::KeyManager<km::PolicyEvents>,
    _genl: netlink::Published,
    _aborts: nat::Aborts,
    _rcu: net::rcu::BarrierOnDrop,
}

impl kernel::Module for XfrmNatModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        net::layout::check()?;
        let rcu = net::rcu::BarrierOnDrop;
        let aborts = nat::Aborts::new()?;
        let pernet = state::Pernet::register()?;
        let genl = netlink::Published::register(module, pernet)?;
        let km = net::xfrm::KeyManager::register()?;
        Ok(Self { _km: km, _genl: genl, _aborts: aborts, _rcu: rcu })
    }
}
