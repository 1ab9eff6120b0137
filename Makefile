# xfrm-nat: build the test kernel, the module and xnatctl, and test them.
#
#   make check          everything, on a fresh Debian 12 (see README.md)
#   make check-debug    the same on a KASAN/lockdep/kmemleak kernel
#   make demo           boot the test kernel and show the module at work
#   make doctor         which required tools are present, where, and which are missing
#   make stress         bounded stress campaign in the VM (debug kernel by default), with figures
#   make install        the module (for the running kernel, or KDIR=), xnatctl, man page,
#                       completions, systemd unit; DESTDIR= and PREFIX= as usual
#   make uninstall      the reverse
#   make dkms-install   register the module with DKMS (rebuilt for every new kernel)
#   make deb            Debian packages xfrm-nat-dkms and xnatctl, built with dpkg-buildpackage
#                       in the Debian 13 root, into ~/.cache/xfrm-nat/deb
#
# KDIR=/path/to/linux builds the module against (and `check` boots) that tree
# instead of the test kernel.  VARIANT=debug picks the debug test kernel for
# kernel/module/vm-test/demo.  T="00-boot 01-module-load" limits the VM tests.
# XNAT_VM_JOBS=N runs them in N guests at once (default 2; 1 on a debug kernel).
#
# KSERIES=7.3 works on Linux 7.3 instead of 6.12 LTS, the default:
#   make check KSERIES=7.3         Debian 13's own kernel, as it ships, and the
#                                  Debian packages; logs in ~/.cache/xfrm-nat/results/base-7.3
#   make check-debug KSERIES=7.3   a 7.3 debug kernel built from Debian's
#                                  trixie-backports source (clang-19, bindgen 0.71)
# (make kernel/module KSERIES=7.3 build and use a 7.3 test kernel likewise.)
# (KVER is taken: it names the kernel release `make install` installs for.)

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

VARIANT ?= base
# The test kernel's series: 6.12 or 7.3 (scripts/build-kernel.sh).
KSERIES ?= 6.12
export KSERIES
XNAT_CACHE ?= $(HOME)/.cache/xfrm-nat
# Where make deps puts bindgen and virtme-ng (.ci/run uses a new one per run).
XNAT_TOOLS ?= $(XNAT_CACHE)
export XNAT_CACHE XNAT_TOOLS
# Tools the project installs (vng, bindgen) and rustup's cargo, even when the
# caller's PATH lacks them.
export PATH := $(XNAT_TOOLS)/bin:$(HOME)/.cargo/bin:$(PATH)
CRATES := module/logic tools/xnatctl
CLI_MANIFEST := tools/xnatctl/Cargo.toml
# The tree module/ was last built against, per checkout.
MODULE_STAMP := $(XNAT_CACHE)/module-kdir.$(shell echo '$(CURDIR)' | sha256sum | cut -c1-8)

# Shell snippet: the kernel tree to use, KDIR if given, else the test kernel
# of $(VARIANT) (built on first use; later an instant cache hit).
kdir = $(if $(KDIR),echo '$(KDIR)',scripts/build-kernel.sh $(VARIANT) | tail -n1)

.PHONY: help doctor deps kernel kernel-debug module cli senders uapi-check unsafe-check host-test vm-test \
	bench check check-debug demo stress clean install install-module install-tools uninstall \
	dkms-source dkms-install dkms-uninstall

help:
	@sed -n 's/^#   //p' Makefile; echo; echo "targets: doctor deps kernel kernel-debug module cli senders uapi-check unsafe-check host-test vm-test bench bench-insns check check-debug demo stress install uninstall dkms-install dkms-uninstall deb clean"

deps:
	scripts/install-deps.sh $(VARIANT)

# What is installed, where it was found, and what is missing (a few seconds).
doctor:
	@scripts/doctor.sh

# build-kernel.sh prints the tree's path as its last line.
kernel:
	@scripts/build-kernel.sh $(VARIANT)

kernel-debug:
	@scripts/build-kernel.sh debug

# A module built against another tree (base vs debug) is cleaned first.
module:
	@kdir=$$($(kdir)); echo "module: KDIR=$$kdir"; \
	old=$$(cat $(MODULE_STAMP) 2>/dev/null || true); \
	if [ -n "$$old" ] && [ "$$old" != "$$kdir" ]; then \
		echo "module: last built against $$old, cleaning"; \
		$(MAKE) -C module KDIR="$$old" clean >/dev/null 2>&1 || \
		$(MAKE) -C module KDIR="$$kdir" clean >/dev/null 2>&1 || true; \
	fi; \
	$(MAKE) -C module KDIR="$$kdir"; \
	mkdir -p $(XNAT_CACHE); echo "$$kdir" >$(MODULE_STAMP)

cli:
	cargo build --release --manifest-path $(CLI_MANIFEST)

# The sender programs of the compatibility tests (tests/vm/37-41), built on
# the host into tests/senders/bin (the guest shares the host's file
# system): csend (C) with the system's gcc, gosend with Debian's Go
# (golang-go, /usr/bin/go, not another go on PATH), its caches under
# $(XNAT_CACHE)/go rather than $$HOME's defaults; no module is fetched.
GO ?= /usr/bin/go
SENDERS_BIN := tests/senders/bin
senders: $(SENDERS_BIN)/csend $(SENDERS_BIN)/gosend

$(SENDERS_BIN)/csend: tests/senders/csend.c
	@mkdir -p $(@D)
	gcc -O2 -Wall -Wextra -Werror -o $@ $<

$(SENDERS_BIN)/gosend: tests/senders/gosend/main.go tests/senders/gosend/go.mod
	@mkdir -p $(@D)
	cd tests/senders/gosend && GOCACHE=$(XNAT_CACHE)/go/cache GOPATH=$(XNAT_CACHE)/go/path \
		GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 $(GO) build -o $(CURDIR)/$@ .

uapi-check:
	python3 scripts/gen-uapi.py --check

# No `unsafe` in module/ outside module/net/ and the bindings.
unsafe-check:
	scripts/check-unsafe.sh

host-test:
	@for c in $(CRATES); do \
		[ -f $$c/Cargo.toml ] || { echo "host-test: $$c/Cargo.toml is missing" >&2; exit 1; }; \
		echo "== cargo test ($$c)"; \
		cargo test --manifest-path $$c/Cargo.toml; \
	done

# Figures, not a test, and not part of check.  bench-host: new-flow lookup
# cost against the number of mappings, side by side in one run, and memory
# per mapping.  bench-vm: xfrm-nat against iptables and nft in one boot of
# the test kernel (tests/bench/run.sh): install and dump times, new NATed
# flows/s and unmapped traffic for 1 to 10,000 mappings/rules/elements, in
# rounds; table, samples and SVG plots in $(XNAT_CACHE)/results/bench.
# BENCH_ROUNDS, BENCH_SECONDS, BENCH_NS, BENCH_PLOTS=DIR (a second copy of
# the plots, e.g. Documentation/perf) tune it.  bench-insns (not part of
# bench): guest instructions per new NATed flow for the three, counted by a
# QEMU plugin in one boot (tests/bench/run-insns.sh), by kernel function.
.PHONY: bench-host bench-vm bench-insns
bench: bench-host bench-vm

bench-host:
	cargo run --quiet --release --manifest-path module/logic/Cargo.toml --example bench_lookup

bench-vm: module cli
	@kdir=$$($(kdir)); tests/bench/run.sh "$$kdir"

bench-insns: module cli
	@kdir=$$($(kdir)); tests/bench/run-insns.sh "$$kdir"

# Only the VM tests (build the module and the CLI first).
vm-test:
	@tests/check.sh $(VARIANT) vm-test

check:
	@tests/check.sh base

check-debug:
	@tests/check.sh debug

# Not part of check: tests/stress/r*.sh (fuzzing, churn, unload and namespace
# teardown under traffic, limits) in one VM boot, on the debug kernel unless
# VARIANT is given; STRESS_SECONDS (default 60) per section; figures and a
# closing line.
stress: VARIANT := $(if $(filter file,$(origin VARIANT)),debug,$(VARIANT))
stress: module cli
	@kdir=$$($(kdir)); tests/stress/run.sh "$$kdir" $(VARIANT)

demo: module
	@kdir=$$($(kdir)); scripts/vm-run.sh -k "$$kdir" -t 300 -- bash tests/demo.sh

# Keeps the kernel builds and tools in $(XNAT_CACHE); delete that to start over.
clean:
	@kdir=$${KDIR:-$$(cat $(MODULE_STAMP) 2>/dev/null || true)}; \
	if [ -f module/Makefile ] && [ -d "$$kdir" ]; then $(MAKE) -C module KDIR="$$kdir" clean; fi
	@for c in $(CRATES); do [ ! -f $$c/Cargo.toml ] || cargo clean --manifest-path $$c/Cargo.toml; done
	rm -rf $(XNAT_CACHE)/results $(MODULE_STAMP)

# ---------------------------------------------------------------- install
# Unlike `make module` (which defaults to the test kernel), installing builds
# for the running kernel, from its headers, as any external module does.
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/xfrm-nat
UNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
SYSCONFDIR ?= /etc
MODPROBE ?= /sbin/modprobe
# The module source to build and install (the tests install from a copy).
MODULE_SRC ?= module
INSTALL_KDIR = $(or $(KDIR),/lib/modules/$(shell uname -r)/build)
# The release the module is for: the tree's, else the running kernel's.
KVER ?= $(or $(shell cat $(INSTALL_KDIR)/include/config/kernel.release 2>/dev/null),$(shell uname -r))
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' $(CLI_MANIFEST) | head -n1)
CLI_BIN := tools/xnatctl/target/release/xnatctl

install: install-module install-tools

install-module:
	$(MAKE) -C $(MODULE_SRC) KDIR=$(INSTALL_KDIR) all
	$(MAKE) -C $(MODULE_SRC) KDIR=$(INSTALL_KDIR) INSTALL_MOD_PATH=$(DESTDIR) modules_install
	@# Kbuild skips depmod without System.map, as in a headers package;
	@# a staged install leaves it to the package's install step.
	if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi

install-tools: cli
	install -D -m 0755 $(CLI_BIN) $(DESTDIR)$(SBINDIR)/xnatctl
	install -D -m 0644 Documentation/xnatctl.8 $(DESTDIR)$(MANDIR)/man8/xnatctl.8
	install -D -m 0644 Documentation/xfrm_nat.rst $(DESTDIR)$(DOCDIR)/xfrm_nat.rst
	install -D -m 0644 tools/systemd/xfrm-nat.conf $(DESTDIR)$(DOCDIR)/xfrm-nat.conf.example
	install -D -m 0644 tools/systemd/modules-load.conf $(DESTDIR)$(DOCDIR)/modules-load.d-xfrm-nat.conf
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	for unit in xfrm-nat xfrm-nat-daemon; do \
		sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@MODPROBE@|$(MODPROBE)|g' \
			tools/systemd/$$unit.service.in >$(DESTDIR)$(UNITDIR)/$$unit.service || exit 1; \
	done
	install -D -m 0644 Documentation/examples/swanctl.conf $(DESTDIR)$(DOCDIR)/examples/swanctl.conf
	install -D -m 0644 Documentation/examples/strongswan.conf $(DESTDIR)$(DOCDIR)/examples/xfrm-nat.d/strongswan.conf
	install -D -m 0644 Documentation/examples/ipsec.conf $(DESTDIR)$(DOCDIR)/examples/ipsec.conf
	install -D -m 0644 Documentation/examples/libreswan.conf $(DESTDIR)$(DOCDIR)/examples/xfrm-nat.d/libreswan.conf
	$(CLI_BIN) completion bash >$(DESTDIR)$(BASHCOMPDIR)/xnatctl
	$(CLI_BIN) completion zsh >$(DESTDIR)$(ZSHCOMPDIR)/_xnatctl
	$(CLI_BIN) completion fish >$(DESTDIR)$(FISHCOMPDIR)/xnatctl.fish
	@# The example becomes the config only where there is none: never
	@# overwrite an operator's mappings.
	[ -e $(DESTDIR)$(SYSCONFDIR)/xfrm-nat.conf ] || \
		install -D -m 0644 tools/systemd/xfrm-nat.conf $(DESTDIR)$(SYSCONFDIR)/xfrm-nat.conf

# Leaves /etc/xfrm-nat.conf: it is the operator's.
uninstall:
	rm -f $(DESTDIR)/lib/modules/$(KVER)/updates/xfrm_nat.ko
	if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi
	rm -f $(DESTDIR)$(SBINDIR)/xnatctl $(DESTDIR)$(MANDIR)/man8/xnatctl.8 \
		$(DESTDIR)$(UNITDIR)/xfrm-nat.service $(DESTDIR)$(UNITDIR)/xfrm-nat-daemon.service \
		$(DESTDIR)$(BASHCOMPDIR)/xnatctl \
		$(DESTDIR)$(ZSHCOMPDIR)/_xnatctl $(DESTDIR)$(FISHCOMPDIR)/xnatctl.fish
	rm -rf $(DESTDIR)$(DOCDIR)

# The DKMS source tree: module/ without build products.
DKMS_SRC ?= /usr/src/xfrm-nat-$(VERSION)
dkms-source:
	rm -rf $(DESTDIR)$(DKMS_SRC) && mkdir -p $(DESTDIR)$(DKMS_SRC)
	tar -C module --exclude-vcs --exclude-vcs-ignores --exclude=target -cf - . | tar -C $(DESTDIR)$(DKMS_SRC) -xf -
	sed -i 's|@VERSION@|$(VERSION)|' $(DESTDIR)$(DKMS_SRC)/dkms.conf

dkms-install: dkms-source
	dkms add xfrm-nat/$(VERSION)
	dkms install xfrm-nat/$(VERSION)

dkms-uninstall:
	dkms remove xfrm-nat/$(VERSION) --all
	rm -rf $(DKMS_SRC)

# ------------------------------------------------------------------- deb
# dpkg-buildpackage in the Debian 13 root (scripts/debian-env.sh), on a copy
# of the work tree's files, tracked or new but not ignored: the checkout's
# build products neither go in nor get cleaned.  Crates are fetched into
# $(DEB_DIR)/cargo and kept.  Cargo gets the host's CA bundle, as the root
# gets the host's resolv.conf: it trusts what the host trusts (a proxy's CA).
# The root has no build-essential (its gcc and make are all the build uses),
# so the Build-Depends are checked without it (-I) rather than by
# dpkg-buildpackage.  DEB_BUILD_OPTIONS (nocheck...) is passed on.
DEB_DIR := $(XNAT_CACHE)/deb
HOST_CA := /etc/ssl/certs/ca-certificates.crt
.PHONY: deb
deb:
	@src=$(DEB_DIR)/build/xfrm-nat-$(VERSION); \
	rm -rf $(DEB_DIR)/build && mkdir -p "$$src" $(DEB_DIR)/cargo; \
	git ls-files -z --cached --others --exclude-standard | \
		while IFS= read -r -d '' f; do [ ! -e "$$f" ] || printf '%s\0' "$$f"; done | \
		tar --null -T - -cf - | tar -C "$$src" -xf -; \
	ca=; if [ -r $(HOST_CA) ]; then cp $(HOST_CA) $(DEB_DIR)/cargo/host-ca.crt; \
		ca=CARGO_HTTP_CAINFO=$(DEB_DIR)/cargo/host-ca.crt; fi; \
	scripts/debian-env.sh run env CARGO_HOME=$(DEB_DIR)/cargo $$ca DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)" \
		sh -c 'cd "$$1" && dpkg-checkbuilddeps -I && dpkg-buildpackage -b -us -uc -d' - "$$src"; \
	cd $(DEB_DIR); rm -f ./*.deb ./*.changes ./*.buildinfo; \
	mv build/*.deb build/*.changes build/*.buildinfo .; rm -rf build; \
	echo "deb: built in $(DEB_DIR):"; ls -1 $(DEB_DIR)/*.deb $(DEB_DIR)/*.changes $(DEB_DIR)/*.buildinfo
