// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kernel packet drops of TCP packets, with the kernel's drop reason.
 * User space resolves reason names from the running kernel's BTF.
 */
#include "probe.bpf.h"

/* Fills the flow from the packet headers; returns false if not TCP. */
static __always_inline bool fill_packet_flow(struct ark_flow *flow, struct sk_buff *skb)
{
	unsigned char *head = skb->head;
	__u16 network = skb->network_header;
	__u16 transport = skb->transport_header;
	__u16 protocol = bpf_ntohs(skb->protocol);
	struct tcphdr tcp;

	if (protocol == ETH_P_IP) {
		struct iphdr ip;
		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + network))
			return false;
		if (ip.protocol != IPPROTO_TCP)
			return false;
		flow->family = AF_INET;
		flow->saddr[10] = flow->saddr[11] = 0xff;
		flow->daddr[10] = flow->daddr[11] = 0xff;
		__builtin_memcpy(&flow->saddr[12], &ip.saddr, 4);
		__builtin_memcpy(&flow->daddr[12], &ip.daddr, 4);
		if (transport == network)       /* not set yet: no options assumed */
			transport = network + ip.ihl * 4;
	} else if (protocol == ETH_P_IPV6) {
		struct ipv6hdr ip;
		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + network))
			return false;
		if (ip.nexthdr != IPPROTO_TCP)
			return false;
		flow->family = AF_INET6;
		__builtin_memcpy(flow->saddr, ip.saddr, 16);
		__builtin_memcpy(flow->daddr, ip.daddr, 16);
		if (transport == network)
			transport = network + 40;
	} else {
		return false;
	}
	if (bpf_probe_read_kernel(&tcp, sizeof(tcp), head + transport))
		return false;
	flow->sport = bpf_ntohs(tcp.source);
	flow->dport = bpf_ntohs(tcp.dest);
	return true;
}

/* The socket a dropped packet belongs to is known either as skb->sk
 * (sent packets) or, on kernels >= 6.12, as the rx_sk argument (received
 * packets after socket lookup). Both are pointers the verifier knows. */
static __always_inline int report_drop(struct sk_buff *skb, unsigned int reason, struct sock *rx_sk)
{
	struct ark_record *record;
	struct ark_flow flow = {};
	struct sock *sk;

	/* Not drops: SKB_NOT_DROPPED_YET, and SKB_CONSUMED where the kernel
	 * has it (its value is relocated against the running kernel). */
	if (reason == SKB_NOT_DROPPED_YET)
		return 0;
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_CONSUMED) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_CONSUMED))
		return 0;
	sk = rx_sk ? rx_sk : skb->sk;
	if (sk) {
		if (!is_tcp_socket_btf(sk))
			return 0;
	} else if (!fill_packet_flow(&flow, skb)) {
		return 0;
	}
	if (reason < ARK_DROP_REASONS &&
	    (probe_config.counted_only_drop_reasons[reason / 64] >> (reason % 64)) & 1) {
		count_in(&drops_counted_only, reason);
		return 0;
	}
	record = reserve_record(ARK_RECORD_DROP);
	if (!record)
		return 0;
	record->drop_reason = reason;
	if (sk) {
		/* Not the task on the CPU: drops happen in softirq. */
		struct ark_owner *owner = claimed_owner(sk);

		fill_socket(record, sk, true);
		record->socket_cookie = socket_cookie_made(sk, true);
		if (owner) {
			record->owner = *owner;
			record->owner.settled_claims = 0;
		}
	} else {
		/* Not yet delivered to a socket: the packet's own addresses,
		 * in the netns of the device it was on. */
		record->flow = flow;
		record->netns = skb->dev->nd_net.net->ns.inum;
	}
	submit_record(record);
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(tcp_packet_drop, struct sk_buff *skb, void *location, unsigned int reason)
{
	return report_drop(skb, reason, 0);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(tcp_packet_drop_rx_sk, struct sk_buff *skb, void *location, unsigned int reason,
	     struct sock *rx_sk)
{
	return report_drop(skb, reason, rx_sk);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
