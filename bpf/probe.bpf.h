/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every ArkProbe program shares: the maps (defined once in
 * maps.bpf.c, extern elsewhere; the build links the objects with libbpf's
 * static linker) and the small inline helpers that fill a record.
 */
#ifndef ARK_PROBE_BPF_H
#define ARK_PROBE_BPF_H

#include "kernel.bpf.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "ark_probe.h"

/* Records for user space; user space sets the size before load. */
struct ark_records_map {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
};
extern struct ark_records_map ark_records SEC(".maps");

/* Socket (its kernel address) -> owning process. Claimed in process
 * context, removed when the socket reaches TCP_CLOSE; the LRU bound keeps
 * sockets whose close was missed from piling up. A hash map, not socket
 * storage: tracing programs may use socket storage only from 5.11, and not
 * on the untrusted socket pointers of the classic tracepoint, kprobe,
 * kfree_skb and the start-up walk, which must find the same owners. */
struct socket_owners_map {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, __u64);
	__type(value, struct ark_owner);
};
extern struct socket_owners_map socket_owners SEC(".maps");

/* A listening port in a network namespace. */
struct listener_key {
	__u32 netns;
	__u32 port;
};

/* Listening socket's port -> its owner: a connection accepted from it
 * belongs to the listener's process until someone else claims it. */
struct listener_owners_map {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct listener_key);
	__type(value, struct ark_owner);
};
extern struct listener_owners_map listener_owners SEC(".maps");

/* What socket storage remembers of a socket its owner keeps sending on
 * (owners.bpf.c), freed with the socket: the task whose send last claimed
 * it, which lets the send hook skip the owner table, and a copy of the
 * owner's table entry, which lets the hooks that get the socket as a
 * trusted pointer (retransmit, congestion) skip it too: a hash lookup in a
 * table that is cold when a timer fires costs ~400 ns, socket storage ~150.
 * A claim that changes the owner clears the copy (source ARK_OWNER_NONE). */
struct send_claim {
	__u64 pid_tgid;
	__u32 sends_until_recheck;
	__u32 pad;
	struct ark_owner owner;
};

struct send_claims_map {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct send_claim);
};
extern struct send_claims_map send_claims SEC(".maps");

/* Processes that own (or owned) a TCP socket: their exit is reported. */
struct socket_owner_processes_map {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32); /* the atomic exchange's smallest size */
};
extern struct socket_owner_processes_map socket_owner_processes SEC(".maps");

/* Where a process's environment is assembled before it is sent: too big
 * for the BPF stack. One per CPU: the hooks that send it run in process
 * context with preemption off. */
struct process_environment_buffers_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ark_process_environment);
};
extern struct process_environment_buffers_map process_environment_buffers SEC(".maps");

/* The reader's schedule (ark_probe.h), mapped by user space (and shared
 * with the live benchmark's source). */
struct ring_reader_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ark_reader_schedule);
};
extern struct ring_reader_map ring_reader SEC(".maps");

/* What the programs count instead of sending a record, per CPU: drops by
 * reason (probe_config.counted_only_drop_reasons), and congestion changes
 * that carry no news (congestion.bpf.c). */
struct drops_counted_only_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ARK_DROP_REASONS);
	__type(key, __u32);
	__type(value, __u64);
};
extern struct drops_counted_only_map drops_counted_only SEC(".maps");

struct congestion_changes_counted_only_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
};
extern struct congestion_changes_counted_only_map congestion_changes_counted_only SEC(".maps");

/* Records that found the ring buffer full, per CPU. */
struct ring_reservation_failures_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
};
extern struct ring_reservation_failures_map ring_reservation_failures SEC(".maps");

/* Set by user space before load, per kernel (read-only to the programs, so
 * the verifier drops the branches a kernel cannot run). */
extern const volatile struct ark_probe_config probe_config;

static __always_inline void count_in(void *per_cpu_counters, __u32 key)
{
	__u64 *count = bpf_map_lookup_elem(per_cpu_counters, &key);
	if (count)
		__atomic_fetch_add(count, 1, __ATOMIC_RELAXED);
}

static __always_inline void count_ring_reservation_failure(void)
{
	count_in(&ring_reservation_failures, 0);
}

static __always_inline struct ark_record *reserve_record(__u32 kind)
{
	struct ark_record *record = bpf_ringbuf_reserve(&ark_records, sizeof(*record), 0);
	if (!record) {
		count_ring_reservation_failure();
		return 0;
	}
	__builtin_memset(record, 0, sizeof(*record));
	record->kind = kind;
	record->ktime_ns = bpf_ktime_get_ns();
	return record;
}

/* How a record is submitted: without a wake-up while the reader is inside
 * the window it promised to read in and the ring is not filling up, else
 * with one (ark_probe.h). Races between CPUs only add wake-ups. */
static __always_inline __u64 ring_wakeup_flags(__u64 now)
{
	__u32 zero = 0;
	struct ark_reader_schedule *reader = bpf_map_lookup_elem(&ring_reader, &zero);

	if (!reader)
		return 0;
	if (now + ARK_WAKEUP_MARGIN_NS < reader->reads_until_ns) {
		__u64 limit = reader->wake_when_queued_bytes;

		if (limit == 0 || bpf_ringbuf_query(&ark_records, BPF_RB_AVAIL_DATA) < limit)
			return BPF_RB_NO_WAKEUP;
		return BPF_RB_FORCE_WAKEUP;
	}
	reader->reads_until_ns = now + ARK_WAKEUP_GRACE_NS;
	return BPF_RB_FORCE_WAKEUP;
}

static __always_inline void submit_record(struct ark_record *record)
{
	bpf_ringbuf_submit(record, ring_wakeup_flags(record->ktime_ns));
}

/* A field of a kernel object, read the cheapest way the hook allows. A
 * tp_btf argument, and what is reached from it, is a pointer the verifier
 * knows: a plain load (a fault reads 0). Any other pointer (classic
 * tracepoint, kprobe) needs bpf_probe_read_kernel(), a helper call per
 * field. Callers pass a constant, so only one of the two is compiled. */
#define READ_KERNEL(trusted, src, a, ...) \
	((trusted) ? ___arrow(src, a, ##__VA_ARGS__) : BPF_CORE_READ(src, a, ##__VA_ARGS__))

/* The 5-tuple, state, netns and cgroup of a socket. */
static __always_inline void fill_socket(struct ark_record *record, struct sock *sk, bool trusted)
{
	struct ark_flow *flow = &record->flow;
	__u16 family = READ_KERNEL(trusted, sk, __sk_common.skc_family);

	flow->family = family;
	flow->tcp_state = READ_KERNEL(trusted, sk, __sk_common.skc_state);
	flow->sport = READ_KERNEL(trusted, sk, __sk_common.skc_num);
	flow->dport = bpf_ntohs(READ_KERNEL(trusted, sk, __sk_common.skc_dport));
	if (family == AF_INET6) {
		/* Read whole either way: a plain load may not span the
		 * elements of the kernel's byte array. */
		BPF_CORE_READ_INTO(&flow->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&flow->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		flow->saddr[10] = 0xff;
		flow->saddr[11] = 0xff;
		flow->daddr[10] = 0xff;
		flow->daddr[11] = 0xff;
		*(__u32 *)&flow->saddr[12] = READ_KERNEL(trusted, sk, __sk_common.skc_rcv_saddr);
		*(__u32 *)&flow->daddr[12] = READ_KERNEL(trusted, sk, __sk_common.skc_daddr);
	}
	record->netns = READ_KERNEL(trusted, sk, __sk_common.skc_net.net, ns.inum);
	record->socket_cgroup_id = READ_KERNEL(trusted, sk, sk_cgrp_data.cgroup, kn, id);
}

/* The TCP socket behind a socket pointer, to read its TCP fields. A tp_btf
 * argument is typed struct sock, and plain loads may reach only as far as
 * that type, so the kernel converts it: one helper call instead of a probe
 * read per field. NULL if it is not a full TCP socket. */
static __always_inline const struct tcp_sock *tcp_socket(struct sock *sk, bool trusted)
{
	return trusted ? bpf_skc_to_tcp_sock(sk) : (const void *)sk;
}

/* The timing a stall is dated with: the smoothed RTT and the RTO the
 * kernel derives from it (icsk_rto before backoff, without the jiffies). */
static __always_inline void fill_timing(struct ark_record *record, const struct tcp_sock *tp, bool trusted)
{
	__u32 srtt = READ_KERNEL(trusted, tp, srtt_us) >> 3;

	record->srtt_us = srtt;
	record->rto_us = srtt + READ_KERNEL(trusted, tp, rttvar_us);
}

/* For a socket pointer of unknown provenance (read with probe_read). */
static __always_inline bool is_tcp_socket(struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	return BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP &&
	       (family == AF_INET || family == AF_INET6);
}

/* The same test for a socket the verifier knows the type of (a tp_btf or
 * iterator argument): plain loads instead of two bpf_probe_read_kernel()
 * calls, which matters on the send path (every tcp_sendmsg_locked). */
static __always_inline bool is_tcp_socket_btf(struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;
	return sk->sk_protocol == IPPROTO_TCP && (family == AF_INET || family == AF_INET6);
}

/* The calling task as owner; valid only in process context. */
static __always_inline void fill_current_owner(struct ark_owner *owner, __u8 source)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	owner->tgid = pid_tgid >> 32;
	owner->tid = (__u32)pid_tgid;
	owner->uid = (__u32)bpf_get_current_uid_gid();
	owner->cgroup_id = bpf_get_current_cgroup_id();
	owner->source = source;
	bpf_get_current_comm(owner->comm, sizeof(owner->comm));
}

static __always_inline __u64 socket_key(const struct sock *sk)
{
	return (__u64)sk;
}

static __always_inline struct ark_owner *claimed_owner(const struct sock *sk)
{
	__u64 key = socket_key(sk);
	return bpf_map_lookup_elem(&socket_owners, &key);
}

/* The owner claimed for a socket. Without claim hooks (user space says so),
 * the task on the CPU stands in, marked as such. Any socket pointer; for
 * hooks that run where the sending process may be on the CPU. */
static __always_inline void fill_recorded_owner(struct ark_record *record, struct sock *sk)
{
	struct ark_owner *owner = claimed_owner(sk);

	if (owner) {
		record->owner = *owner;
		record->owner.settled_claims = 0;
	} else if (probe_config.owner_from_current_task)
		fill_current_owner(&record->owner, ARK_OWNER_CURRENT);
}

/* The same for a socket the verifier trusts (a tp_btf argument): the copy
 * the send hook keeps in socket storage, if it has made one. */
static __always_inline void fill_trusted_socket_owner(struct ark_record *record, struct sock *sk)
{
	if (probe_config.owners_in_socket_storage) {
		struct send_claim *claim = bpf_sk_storage_get(&send_claims, sk, 0, 0);

		if (claim && claim->owner.source != ARK_OWNER_NONE) {
			record->owner = claim->owner;
			return;
		}
	}
	fill_recorded_owner(record, sk);
}

/* The kernel's cookie of a socket the verifier trusts (a tp_btf argument),
 * where tracing programs may ask for it (5.12+; it is made on first use). */
static __always_inline __u64 trusted_socket_cookie(struct sock *sk)
{
	return probe_config.socket_cookie_helper ? bpf_get_socket_cookie(sk) : 0;
}

/* The cookie of any socket pointer: the value the kernel made, if any. */
static __always_inline __u64 socket_cookie_made(struct sock *sk, bool trusted)
{
	return READ_KERNEL(trusted, sk, __sk_common.skc_cookie.counter);
}

#endif /* ARK_PROBE_BPF_H */
