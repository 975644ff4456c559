// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TCP retransmissions. tcp:tcp_retransmit_skb is attached the best way the
 * kernel offers; user space picks one of these programs:
 *   retransmit_btf        tp_btf, kernels >= 6.17 (err argument)
 *   retransmit_btf_noerr  tp_btf, older kernels
 *   retransmit_tracepoint classic tracepoint (needs tracefs)
 *   retransmit_kprobe     kprobe on tcp_retransmit_skb()
 * All of them find the owner the claim hooks recorded (owners.bpf.c).
 */
#include "probe.bpf.h"

/* The skb's TCP control block. A tp_btf skb is read with plain loads, a
 * byte at a time (the verifier takes no wider load inside the char
 * array; a probe read costs ~50 ns); another skb with probe reads. */
static __always_inline __u8 tcp_cb_flags(struct sk_buff *skb, bool trusted)
{
	const struct tcp_skb_cb *cb = (const void *)&skb->cb;

	if (trusted)
		return skb->cb[bpf_core_field_offset(struct tcp_skb_cb, tcp_flags)];
	return BPF_CORE_READ(cb, tcp_flags);
}

/* tcp_gso_segs, a little-endian __u16 (x86-64 and arm64). */
static __always_inline __u16 tcp_cb_gso_segs(struct sk_buff *skb, bool trusted)
{
	const struct tcp_skb_cb *cb = (const void *)&skb->cb;
	__u32 offset = bpf_core_field_offset(struct tcp_skb_cb, tcp_gso_segs);

	if (trusted)
		return (__u8)skb->cb[offset] | (__u16)(__u8)skb->cb[offset + 1] << 8;
	return BPF_CORE_READ(cb, tcp_gso_segs);
}

static __always_inline __u8 retransmit_cause(const struct tcp_sock *tp, struct sk_buff *skb,
					     __u8 ca_state, bool trusted)
{
	const struct inet_connection_sock *icsk = (const void *)tp;

	if (tcp_cb_flags(skb, trusted) & TCPHDR_SYN)
		return ARK_CAUSE_SYN;
	if (ca_state == TCP_CA_Loss)
		return ARK_CAUSE_RTO;
	if (ca_state == TCP_CA_Recovery)
		return ARK_CAUSE_FAST;
	if (READ_KERNEL(trusted, icsk, icsk_pending) == ICSK_TIME_LOSS_PROBE)
		return ARK_CAUSE_TLP;
	return ARK_CAUSE_OTHER;
}

/* `trusted`: sk and skb are tp_btf arguments (READ_KERNEL, tcp_cb_byte). */
static __always_inline struct ark_record *retransmit_record(struct sock *sk, struct sk_buff *skb,
							    int err, bool trusted)
{
	const struct tcp_sock *tp = tcp_socket(sk, trusted);
	const struct inet_connection_sock *icsk = (const void *)tp;
	struct ark_record *record;
	__u32 packets_out;
	__u16 segments;

	if (!tp)
		return 0;
	record = reserve_record(ARK_RECORD_RETRANSMIT);
	if (!record)
		return 0;
	fill_socket(record, sk, trusted);
	segments = tcp_cb_gso_segs(skb, trusted);
	/* tcp_skb_pcount(): an skb not yet split for GSO counts as one. */
	record->segments = segments ? segments : 1;
	record->error = err;
	record->ca_state = trusted ? BPF_CORE_READ_BITFIELD(icsk, icsk_ca_state)
				   : BPF_CORE_READ_BITFIELD_PROBED(icsk, icsk_ca_state);
	record->backoff = READ_KERNEL(trusted, icsk, icsk_backoff);
	packets_out = READ_KERNEL(trusted, tp, packets_out);
	record->old_ca_state = packets_out > 255 ? 255 : packets_out;
	record->cause = retransmit_cause(tp, skb, record->ca_state, trusted);
	fill_timing(record, tp, trusted);
	return record;
}

/* tp_btf: a socket the verifier trusts, so the kernel's cookie helper. */
static __always_inline int submit_btf_retransmit(struct sock *sk, struct sk_buff *skb, int err)
{
	struct ark_record *record = retransmit_record(sk, skb, err, true);
	if (!record)
		return 0;
	record->socket_cookie = trusted_socket_cookie(sk);
	fill_trusted_socket_owner(record, sk);
	submit_record(record);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(retransmit_btf, struct sock *sk, struct sk_buff *skb, int err)
{
	return submit_btf_retransmit(sk, skb, err);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(retransmit_btf_noerr, struct sock *sk, struct sk_buff *skb)
{
	return submit_btf_retransmit(sk, skb, 0);
}

/* Fallback hooks hold an untrusted socket pointer: the owner map is keyed
 * by it all the same, the cookie is read if the kernel has made it. */
static __always_inline void submit_untrusted_retransmit(struct ark_record *record, struct sock *sk)
{
	record->socket_cookie = socket_cookie_made(sk, false);
	fill_recorded_owner(record, sk);
	submit_record(record);
}

SEC("tracepoint/tcp/tcp_retransmit_skb")
int retransmit_tracepoint(struct tcp_retransmit_skb_context *ctx)
{
	struct sock *sk = (struct sock *)ctx->skaddr;
	struct sk_buff *skb = (struct sk_buff *)ctx->skbaddr;
	int err = 0;
	struct ark_record *record;

	if (bpf_core_type_exists(struct trace_event_raw_tcp_retransmit_skb))
		err = ctx->err;
	record = retransmit_record(sk, skb, err, false);
	if (record)
		submit_untrusted_retransmit(record, sk);
	return 0;
}

/* Runs before the retransmit: the outcome (err) is not known. */
SEC("kprobe/tcp_retransmit_skb")
int BPF_KPROBE(retransmit_kprobe, struct sock *sk, struct sk_buff *skb)
{
	struct ark_record *record = retransmit_record(sk, skb, 0, false);
	if (record)
		submit_untrusted_retransmit(record, sk);
	return 0;
}

/* SYN-ACK retransmits of a listener (request sockets); owner: the listener's. */
SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(retransmit_synack, struct sock *sk)
{
	struct ark_record *record = reserve_record(ARK_RECORD_SYNACK_RETRANSMIT);
	if (!record)
		return 0;
	fill_socket(record, sk, true);
	record->socket_cookie = trusted_socket_cookie(sk);
	record->segments = 1;
	record->cause = ARK_CAUSE_SYNACK;
	fill_trusted_socket_owner(record, sk);
	submit_record(record);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
