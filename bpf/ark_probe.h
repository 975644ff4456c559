/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The records that cross the BPF ring buffer, shared by the eBPF programs
 * (the bpf/ programs) and the Swift decoder (module CArkProbeRecords).
 *
 * Rules for this file: fixed-size types only, every field naturally aligned,
 * explicit padding, sizes asserted below on both sides. Append fields at the
 * end of a record; never reorder.
 */
#ifndef ARK_PROBE_H
#define ARK_PROBE_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define ARK_COMM_LEN 16

/* What a record is. */
enum ark_record_kind {
	ARK_RECORD_RETRANSMIT = 1,        /* tcp:tcp_retransmit_skb */
	ARK_RECORD_SYNACK_RETRANSMIT = 2, /* tcp:tcp_retransmit_synack */
	ARK_RECORD_CONG_STATE = 3,        /* tcp:tcp_cong_state_set */
	ARK_RECORD_DROP = 4,              /* skb:kfree_skb on a TCP packet */
	ARK_RECORD_PROCESS_EXIT = 5,      /* sched:sched_process_exit of a socket owner */
	ARK_RECORD_PROCESS_ENVIRONMENT = 6, /* struct ark_process_environment */
};

/* Why a segment was retransmitted, as far as the socket state tells. */
enum ark_retransmit_cause {
	ARK_CAUSE_UNKNOWN = 0,
	ARK_CAUSE_RTO = 1,         /* retransmission timeout: CA state Loss */
	ARK_CAUSE_FAST = 2,        /* fast retransmit / recovery: CA state Recovery */
	ARK_CAUSE_TLP = 3,         /* tail loss probe timer */
	ARK_CAUSE_SYN = 4,         /* SYN of an active open */
	ARK_CAUSE_SYNACK = 5,      /* SYN-ACK of a passive open */
	ARK_CAUSE_OTHER = 6,       /* open/disorder/CWR without a pending probe */
};

/* Where the owner of the socket came from. */
enum ark_owner_source {
	ARK_OWNER_NONE = 0,     /* no socket, or a socket nobody was seen using */
	ARK_OWNER_SOCKET = 1,   /* claimed in process context (connect, send, ...) */
	ARK_OWNER_ITERATOR = 2, /* the start-up walk of existing sockets */
	ARK_OWNER_CURRENT = 3,  /* the task on the CPU (no claim hook loaded) */
};

/* The process that owns a socket. 40 bytes. */
struct ark_owner {
	__u32 tgid;
	__u32 tid;
	__u32 uid;
	__u8 source;          /* enum ark_owner_source */
	__u8 settled_claims;  /* owner table only: claims by this same task
	                         that changed nothing (up to 255); 0 in records */
	__u8 pad[2];
	__u64 cgroup_id;      /* cgroup v2 id of the owner */
	char comm[ARK_COMM_LEN];
};

/* A TCP connection as seen from the local socket. 48 bytes.
 * IPv4 addresses are stored IPv4-mapped (::ffff:a.b.c.d). */
struct ark_flow {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;          /* host byte order */
	__u16 dport;          /* host byte order */
	__u16 family;         /* AF_INET or AF_INET6 */
	__u8 tcp_state;       /* TCP_ESTABLISHED .. TCP_NEW_SYN_RECV */
	__u8 pad[9];
};

/* One ring-buffer record. 144 bytes. */
struct ark_record {
	__u64 ktime_ns;       /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 socket_cookie;  /* 0 when no socket */
	__u32 kind;           /* enum ark_record_kind */
	__u32 netns;          /* inode number of the socket's (or skb's) netns */
	__u64 socket_cgroup_id; /* cgroup v2 id recorded on the socket itself */
	struct ark_owner owner;
	struct ark_flow flow;
	/* Kind-specific payload. */
	__u32 segments;       /* retransmit: segments in this skb (GSO/TSO) */
	__s32 error;          /* retransmit: 0 sent, else -errno (not sent) */
	__u32 drop_reason;    /* drop: enum skb_drop_reason value;
	                         process exit: the task's exit_code */
	__u8 cause;           /* retransmit: enum ark_retransmit_cause */
	__u8 ca_state;        /* TCP_CA_* now; cong_state: the new state */
	__u8 old_ca_state;    /* cong_state: the previous state; retransmit:
	                         packets in flight (tp->packets_out, at most
	                         255), which sets a tail-loss probe's wait */
	__u8 backoff;         /* icsk_backoff: RTO exponent */
	/* retransmit, cong_state: the socket's timing, to date a stall. */
	__u32 srtt_us;        /* smoothed RTT (tp->srtt_us >> 3) */
	__u32 rto_us;         /* retransmission timeout before backoff:
	                         srtt + rttvar, as the kernel sets icsk_rto */
};

#define ARK_RECORD_SIZE 144

/* Bytes of a process's environment copied at most (a power of two): a block
 * of this size or more is sent as its first and last halves (launchers such
 * as torchrun append their variables, so they sit at its end). */
#define ARK_ENVIRONMENT_BYTES 16384

/* Cgroup levels sent, innermost first, and the longest name kept of each
 * (cri-containerd-<64 hex>.scope is 85 bytes). */
#define ARK_CGROUP_LEVELS 12
#define ARK_CGROUP_NAME_LEN 128

/* Who a socket owner is, sent when it first claims a socket, from its own
 * context: its cgroup v2 path (the names of its cgroup and its ancestors:
 * /proc/PID/cgroup may be hidden from the agent, and the process gone) and
 * its environment block (NAME=value\0...), copied from its memory: reading
 * /proc/PID/environ would need ptrace rights over it. Sent with
 * bpf_ringbuf_output, head_length + tail_length bytes of data long; user
 * space keeps only the launcher's variables. `kind` is where ark_record
 * has it. The header, then the data. */
struct ark_process_environment {
	__u64 ktime_ns;
	__u32 tgid;
	__u32 tid;
	__u32 kind;               /* ARK_RECORD_PROCESS_ENVIRONMENT */
	__u32 environment_length; /* the whole block: env_end - env_start */
	__u32 head_length;        /* data from the block's start */
	__u32 tail_length;        /* then data up to the block's end (0: the head is all) */
	__u64 cgroup_id;
	__s32 error;              /* a read that failed: its -errno (no data) */
	__u8 environment_copied;  /* 0: not asked to (launcher-environment off) */
	__u8 cgroup_levels;       /* names in cgroup_names (0: the root cgroup) */
	__u8 cgroup_truncated;    /* more ancestors than ARK_CGROUP_LEVELS */
	__u8 pad;
	char comm[ARK_COMM_LEN];
	char cgroup_names[ARK_CGROUP_LEVELS][ARK_CGROUP_NAME_LEN];
	__u8 data[ARK_ENVIRONMENT_BYTES];
};

#define ARK_PROCESS_ENVIRONMENT_HEADER_SIZE 1600

/* When the programs wake the reader. A wake-up (an irq_work: an interrupt,
 * on a VM an exit to the hypervisor) costs several microseconds in the hook,
 * more than the rest of it, and the kernel's default wakes the reader for
 * nearly every record while it keeps up. Instead the reader promises to read
 * the ring at least every ARK_READER_POLL_MAX_NS until reads_until_ns
 * (CLOCK_MONOTONIC, as bpf_ktime_get_ns) and extends that after each batch
 * it reads by ARK_READER_LINGER_NS; a record submitted inside that window
 * does not wake it. A record outside it (the reader asleep: the first
 * record after a quiet spell) wakes it at once and opens a short window
 * (ARK_WAKEUP_GRACE_NS) so that the rest of a burst does not. The margin
 * covers a record stamped just before the window ends and committed after
 * the reader's last read. Inside the window, a record that finds
 * wake_when_queued_bytes or more unread in the ring (a burst; 0: never)
 * wakes the reader anyway, so that a reader pacing itself slowly does not
 * lose records. The reader maps this value (one page). */
struct ark_reader_schedule {
	__u64 reads_until_ns;
	__u64 wake_when_queued_bytes;
};

#define ARK_READER_POLL_MIN_NS 500000ULL
#define ARK_READER_POLL_MAX_NS 4000000ULL
#define ARK_READER_LINGER_NS 20000000ULL
#define ARK_WAKEUP_GRACE_NS 5000000ULL
#define ARK_WAKEUP_MARGIN_NS 200000ULL

/* Drop reasons a bitmap covers (enum skb_drop_reason has about 120 in 6.18). */
#define ARK_DROP_REASON_WORDS 4
#define ARK_DROP_REASONS (ARK_DROP_REASON_WORDS * 64)

/* What user space tells the programs before load (their .rodata). */
struct ark_probe_config {
	__u8 socket_cookie_helper;    /* bpf_get_socket_cookie() allowed in tracing (5.12+) */
	__u8 owner_from_current_task; /* no claim hook loaded: blame the task on the CPU */
	__u8 copies_process_environment; /* copy each socket owner's environment */
	__u8 owners_in_socket_storage; /* the send hook keeps a copy of the owner in
	                                  socket storage (probe.bpf.h send_claim) */
	__u8 pad[4];
	/* Drop reasons (bit N: enum skb_drop_reason value N) that are counted
	 * in drops_counted_only instead of sent: socket teardown, which every
	 * short connection that closes with data queued gives. */
	__u64 counted_only_drop_reasons[ARK_DROP_REASON_WORDS];
};

_Static_assert(sizeof(struct ark_owner) == 40, "ark_owner layout");
_Static_assert(sizeof(struct ark_flow) == 48, "ark_flow layout");
_Static_assert(sizeof(struct ark_record) == ARK_RECORD_SIZE, "ark_record layout");
_Static_assert(sizeof(struct ark_probe_config) == 8 + 8 * ARK_DROP_REASON_WORDS, "ark_probe_config layout");
_Static_assert(sizeof(struct ark_process_environment) ==
	       ARK_PROCESS_ENVIRONMENT_HEADER_SIZE + ARK_ENVIRONMENT_BYTES, "ark_process_environment layout");

#endif /* ARK_PROBE_H */
