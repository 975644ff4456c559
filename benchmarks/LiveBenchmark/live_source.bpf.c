// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The live benchmark's event source (never part of the shipped probe): on
 * every getppid() of one process, a transport retransmit record of the
 * probe's own shape, fake 5-tuple, stamped with bpf_ktime_get_ns() by
 * reserve_record(), into the running agent's ring buffer. User space
 * points the maps below at the agent's maps (bpf_map__reuse_fd), so the
 * records take the agent's real path: decode, graph, rules, JSONL; they wake
 * the agent by the probe's own policy, sharing its reader schedule; and
 * a full ring counts in the agent's own lost-record counter.
 */
#include "probe.bpf.h"

struct ark_records_map ark_records SEC(".maps");
struct ring_reservation_failures_map ring_reservation_failures SEC(".maps");
struct ring_reader_map ring_reader SEC(".maps");

/* Set before load (the only .rodata variable): the driving process and
 * the syscall it issues. */
struct source_config {
	__u32 tgid;
	__u32 syscall;
};
const volatile struct source_config source_config = {};

SEC("tp_btf/sys_enter")
int BPF_PROG(bench_source, void *regs, long id)
{
	struct ark_record *record;

	if (id != source_config.syscall || (bpf_get_current_pid_tgid() >> 32) != source_config.tgid)
		return 0;
	record = reserve_record(ARK_RECORD_RETRANSMIT);
	if (!record)
		return 0;
	/* 10.99.0.1:40000 -> 10.99.0.2:5201, IPv4-mapped like the probe's. */
	record->flow.family = AF_INET;
	record->flow.tcp_state = TCP_ESTABLISHED;
	record->flow.sport = 40000;
	record->flow.dport = 5201;
	record->flow.saddr[10] = 0xff;
	record->flow.saddr[11] = 0xff;
	record->flow.saddr[12] = 10;
	record->flow.saddr[13] = 99;
	record->flow.saddr[15] = 1;
	record->flow.daddr[10] = 0xff;
	record->flow.daddr[11] = 0xff;
	record->flow.daddr[12] = 10;
	record->flow.daddr[13] = 99;
	record->flow.daddr[15] = 2;
	record->socket_cookie = 0xa4b0;
	record->segments = 1;
	record->cause = ARK_CAUSE_FAST;
	record->ca_state = TCP_CA_Recovery;
	fill_current_owner(&record->owner, ARK_OWNER_SOCKET);
	submit_record(record);
	return 0;
}

/* The floor of a hook's cost (benchmarks/kernel-cost, `ark-probe-live-bench
 * floor`): programs that do nothing, on the hooks the probe's costliest
 * programs attach to, measured beside them; and one that only reserves a
 * record in a ring of its own and discards it (what a ring record costs
 * without reading the socket). */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(empty_ring_record)
{
	struct ark_record *record = reserve_record(ARK_RECORD_RETRANSMIT);

	if (record)
		bpf_ringbuf_discard(record, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(empty_retransmit)
{
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(empty_kfree_skb)
{
	return 0;
}

SEC("tp_btf/tcp_cong_state_set")
int BPF_PROG(empty_cong_state)
{
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(empty_process_exit)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
