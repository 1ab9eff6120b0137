/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Generated from Documentation/netlink/specs/xfrm_nat.yaml by scripts/gen-uapi.py. Do not edit. */
#ifndef XNAT_UAPI_H
#define XNAT_UAPI_H

/* The most mappings one network namespace may hold, and the default of the max_mappings module parameter, which can only lower it. */
#define XNAT_MAX_MAPPINGS 65536
/* Default of the max_hold_bytes module parameter: bytes the hold queues of one network namespace may reserve (64 MiB). */
#define XNAT_MAX_HOLD_BYTES_DEFAULT 67108864
/* Default of the max_hold_bytes_total module parameter: bytes the hold queues of all network namespaces together may reserve (256 MiB). */
#define XNAT_MAX_HOLD_BYTES_TOTAL_DEFAULT 268435456

#endif
