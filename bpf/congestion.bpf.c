// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Congestion-control state changes per socket (Open, Disorder, CWR,
 * Recovery, Loss). A local drop (qdisc, NIC queue) shows up here as CWR
 * without any retransmission.
 */
#include "probe.bpf.h"

/* Fires before the kernel stores the new state: icsk still holds the old. */
SEC("tp_btf/tcp_cong_state_set")
int BPF_PROG(cong_state_change, struct sock *sk, __u8 new_state)
{
	const struct tcp_sock *tp = tcp_socket(sk, true);
	const struct inet_connection_sock *icsk = (const void *)tp;
	struct ark_record *record;
	__u8 old_state;

	if (!tp)
		return 0;
	old_state = BPF_CORE_READ_BITFIELD(icsk, icsk_ca_state);
	if (old_state == new_state)
		return 0;
	/* Sent: leaving Loss (what ends an RTO stall before its next timer
	 * would) and CWR's changes (local congestion: no retransmit follows).
	 * Entering Loss or Recovery is told by the retransmit that follows
	 * (its cause and ca_state); Disorder, and leaving Recovery (the graph
	 * ends a repair one RTT after its retransmit), add nothing: counted. */
	if (old_state != TCP_CA_Loss && old_state != TCP_CA_CWR && new_state != TCP_CA_CWR) {
		count_in(&congestion_changes_counted_only, 0);
		return 0;
	}
	record = reserve_record(ARK_RECORD_CONG_STATE);
	if (!record)
		return 0;
	fill_socket(record, sk, true);
	record->socket_cookie = trusted_socket_cookie(sk);
	record->ca_state = new_state;
	record->old_ca_state = old_state;
	record->backoff = icsk->icsk_backoff;
	fill_timing(record, tp, true);
	fill_trusted_socket_owner(record, sk);
	submit_record(record);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
