/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The few kernel types the probe reads, declared by hand for CO-RE.
 *
 * Every struct carries preserve_access_index, so each field access is
 * relocated by name against the running kernel's BTF at load time: offsets
 * here are irrelevant, only names and types matter. Fields that sit inside
 * anonymous structs/unions in the kernel are declared flat; libbpf finds
 * them by name. This keeps the build free of kernel headers and of a
 * generated vmlinux.h tied to the build machine.
 */
#ifndef ARK_KERNEL_BPF_H
#define ARK_KERNEL_BPF_H

/* This header stands in for vmlinux.h: bpf_tracing.h then uses the
 * kernel's pt_regs field names. */
#define __VMLINUX_H__

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

/* UAPI constants of <linux/bpf.h> that the maps and helpers use. */
enum {
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_SK_STORAGE = 24,
	BPF_MAP_TYPE_RINGBUF = 27,
};
enum { BPF_ANY = 0, BPF_NOEXIST = 1 };
enum { BPF_F_NO_PREALLOC = 1, BPF_F_MMAPABLE = 1024 };
enum { BPF_SK_STORAGE_GET_F_CREATE = 1 };
enum { BPF_RB_NO_WAKEUP = 1, BPF_RB_FORCE_WAKEUP = 2 };
enum { BPF_RB_AVAIL_DATA = 0 };

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

/* include/net/tcp_states.h */
enum {
	TCP_ESTABLISHED = 1,
	TCP_SYN_SENT = 2,
	TCP_SYN_RECV = 3,
	TCP_FIN_WAIT1 = 4,
	TCP_CLOSE = 7,
	TCP_LAST_ACK = 9,
	TCP_LISTEN = 10,
	TCP_NEW_SYN_RECV = 12,
};

/* include/uapi/linux/tcp.h: enum tcp_ca_state */
enum {
	TCP_CA_Open = 0,
	TCP_CA_Disorder = 1,
	TCP_CA_CWR = 2,
	TCP_CA_Recovery = 3,
	TCP_CA_Loss = 4,
};

/* include/net/inet_connection_sock.h */
enum { ICSK_TIME_LOSS_PROBE = 5 };

/* include/net/dropreason-core.h; CO-RE relocates SKB_CONSUMED's value. */
enum skb_drop_reason {
	SKB_NOT_DROPPED_YET = 0,
	SKB_CONSUMED = 1,
};

/* include/net/tcp.h */
#define TCPHDR_SYN 0x02

/* include/uapi/linux/stat.h */
#define S_IFMT 00170000
#define S_IFSOCK 0140000

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct in6_addr {
	union {
		__u8 u6_addr8[16];
	} in6_u;
};

struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

struct kernfs_node {
	__u64 id;
	const char *name;
};

/* A cgroup's parent: `parent` until 6.14, `__parent` (RCU) from 6.15. */
struct kernfs_node___parent {
	struct kernfs_node *parent;
};

struct kernfs_node___rcu_parent {
	struct kernfs_node *__parent;
};

struct cgroup {
	struct kernfs_node *kn;
};

struct sock_cgroup_data {
	struct cgroup *cgroup;
};

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	unsigned char skc_state;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
	struct { __s64 counter; } skc_cookie;
};

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	__u16 sk_type;
	struct sock_cgroup_data sk_cgrp_data;
};

struct inet_connection_sock {
	__u8 icsk_ca_state: 5;
	__u8 icsk_retransmits;
	__u8 icsk_pending;
	__u8 icsk_backoff;
};

struct tcp_sock {
	__u32 srtt_us;
	__u32 rttvar_us;
	__u32 packets_out;
};

struct net_device {
	possible_net_t nd_net;
};

struct sk_buff {
	struct sock *sk;
	struct net_device *dev;
	unsigned int len;
	__be16 protocol;
	__u16 transport_header;
	__u16 network_header;
	unsigned char *head;
	char cb[48];
};

struct tcp_skb_cb {
	__u32 seq;
	__u32 end_seq;
	__u16 tcp_gso_segs;
	__u8 tcp_flags;
};

struct cred {
	struct { __u32 val; } uid;
};

struct signal_struct {
	struct { int counter; } live;
};

struct css_set {
	struct cgroup *dfl_cgrp;
};

/* The environment block the process was exec'd with, in its memory. */
struct mm_struct {
	unsigned long env_start;
	unsigned long env_end;
};

struct task_struct {
	struct mm_struct *mm;
	int pid;
	int tgid;
	char comm[16];
	int exit_code;
	const struct cred *real_cred;
	struct css_set *cgroups;
	struct signal_struct *signal;
};

struct inode {
	unsigned short i_mode;
};

struct file {
	struct inode *f_inode;
	void *private_data;
};

struct socket {
	struct sock *sk;
	struct file *file;
};

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
};

struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	__u32 fd;
	struct file *file;
};

/* Exists on kernels >= 6.17, where tcp_retransmit_skb has the err field. */
struct trace_event_raw_tcp_retransmit_skb {
	int err;
};

#pragma clang attribute pop

/* Packet headers as they are on the wire, read with bpf_probe_read_kernel
 * into these exact layouts (no relocation). */
struct iphdr {
	__u8 ihl: 4, version: 4;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__be32 saddr;
	__be32 daddr;
};

struct ipv6hdr {
	__u8 priority: 4, version: 4;
	__u8 flow_lbl[3];
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct tcphdr {
	__be16 source;
	__be16 dest;
};

/* Context of the classic tcp:tcp_retransmit_skb tracepoint: a fixed
 * layout (see its format file); err only where the type above exists. */
struct tcp_retransmit_skb_context {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
	int state;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
	int err;
};

/* x86-64 struct pt_regs, a stable layout: kprobe context. */
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

#endif /* ARK_KERNEL_BPF_H */
