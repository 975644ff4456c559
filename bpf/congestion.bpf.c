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
	if (old_state <= TCP_CA_Disorder && new_state <= TCP_CA_Disorder) {
		count_in(&disorder_changes_counted_only, 0);
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
	fill_recorded_owner(record, sk);
	submit_record(record);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
