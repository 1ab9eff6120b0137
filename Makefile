# xfrm-nat: build the test kernel, the module and xnatctl, and test them.
#
#   make check          everything, on a fresh Debian 12 (see README.md)
#   make check-debug    the same on a KASAN/lockdep/kmemleak kernel
#   make demo           boot the test kernel and show the module at work
#   make doctor         which required tools are present, where, and which are missing
#   make stress         bounded stress campaign in the VM (debug kernel by default), with figures
#
# KDIR=/path/to/linux builds the module against (and `check` boots) that tree
# instead of the test kernel.  VARIANT=debug picks the debug test kernel for
# kernel/module/vm-test/demo.  T="00-boot 01-module-load" limits the VM tests.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

VARIANT ?= base
XNAT_CACHE ?= $(HOME)/.cache/xfrm-nat
# Where make deps puts bindgen and virtme-ng (.ci/run uses a new one per run).
XNAT_TOOLS ?= $(XNAT_CACHE)
export XNAT_CACHE XNAT_TOOLS
# Tools the project installs (vng, bindgen) and rustup's cargo, even when the
# caller's PATH lacks them.
export PATH := $(XNAT_TOOLS)/bin:$(HOME)/.cargo/bin:$(PATH)
CRATES := module/core tools/xnatctl
CLI_MANIFEST := tools/xnatctl/Cargo.toml
# The tree module/ was last built against, per checkout.
MODULE_STAMP := $(XNAT_CACHE)/module-kdir.$(shell echo '$(CURDIR)' | sha256sum | cut -c1-8)

# Shell snippet: the kernel tree to use, KDIR if given, else the test kernel
# of $(VARIANT) (built on first use; later an instant cache hit).
kdir = $(if $(KDIR),echo '$(KDIR)',scripts/build-kernel.sh $(VARIANT) | tail -n1)

.PHONY: help doctor deps kernel kernel-debug module cli uapi-check unsafe-check host-test vm-test bench \
	check check-debug demo stress clean

help:
	@sed -n 's/^#   //p' Makefile; echo; echo "targets: doctor deps kernel kernel-debug module cli uapi-check host-test vm-test bench check check-debug demo stress clean"

deps:
	scripts/install-deps.sh

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

# Figures, not a test: new-flow lookup cost against the number of mappings,
# side by side in one run, and memory per mapping.
bench:
	cargo run --quiet --release --manifest-path module/core/Cargo.toml --example bench_lookup

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
