// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket ownership: who owns each TCP socket, recorded in socket-local
 * storage from process context, so that retransmits fired later from
 * softirq or timer context are attributed to the owner, not to whatever
 * task happened to be on the CPU.
 */
#include "probe.bpf.h"

/* Keeps the cookie-keyed copy of an owner in step with socket storage,
 * and remembers the process so that its exit is reported. */
static __always_inline void publish_owner(struct sock *sk, struct ark_owner *owner)
{
	__u64 cookie = bpf_get_socket_cookie(sk);
	__u8 present = 1;

	bpf_map_update_elem(&owners_by_cookie, &cookie, owner, BPF_ANY);
	bpf_map_update_elem(&socket_owner_processes, &owner->tgid, &present, BPF_ANY);
}

/* Records the calling task as owner unless it already is; with
 * `only_if_unowned`, only for a socket nobody has claimed yet. */
static __always_inline void claim_socket(struct sock *sk, bool only_if_unowned)
{
	struct ark_owner *owner;
	__u64 pid_tgid;

	if (!is_tcp_socket_btf(sk))
		return;
	owner = bpf_sk_storage_get(&socket_owners, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!owner)
		return;
	if (only_if_unowned && owner->source != ARK_OWNER_NONE)
		return;
	pid_tgid = bpf_get_current_pid_tgid();
	if (owner->tgid == pid_tgid >> 32 && owner->tid == (__u32)pid_tgid &&
	    owner->source == ARK_OWNER_SOCKET)
		return;
	fill_current_owner(owner, ARK_OWNER_SOCKET);
	publish_owner(sk, owner);
}

/* Every send runs in the sender's context: covers accepted sockets too.
 * Fires once per skb built, several times per large write. */
SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(claim_on_sendmsg, struct sock *sk)
{
	claim_socket(sk, false);
	return 0;
}

/*
 * Receive-only sockets (an accepted connection that only reads) are
 * claimed when their owner reads: tcp_rcv_space_adjust() runs in recvmsg
 * and splice. kTLS and sockmap also call it from kernel context, so it
 * never overrides an owner recorded elsewhere.
 */
SEC("tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(claim_on_receive, struct sock *sk)
{
	claim_socket(sk, true);
	return 0;
}

/*
 * State changes made by a system call: connect() (-> SYN_SENT, so SYN
 * retransmits are attributed), listen() (-> LISTEN, for SYN-ACKs) and
 * close()/shutdown() (-> FIN_WAIT1 / LAST_ACK, for FIN retransmits).
 * The other transitions happen in softirq context and say nothing of the
 * owner.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(claim_on_state_change, struct sock *sk, int oldstate, int newstate)
{
	/* A passive open completing (softirq): the new socket carries a copy
	 * of its listener's owner; give it a cookie entry too, before any
	 * of its packets can be dropped. */
	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		struct ark_owner *owner = bpf_sk_storage_get(&socket_owners, sk, 0, 0);
		if (owner && owner->source != ARK_OWNER_NONE)
			publish_owner(sk, owner);
		return 0;
	}
	switch (newstate) {
	case TCP_SYN_SENT:
	case TCP_LISTEN:
	case TCP_FIN_WAIT1:
	case TCP_LAST_ACK:
		claim_socket(sk, false);
	}
	return 0;
}

/*
 * Sockets that existed before the agent started: user space runs this
 * iterator once over every open file of every task.
 */
SEC("iter/task_file")
int claim_existing_sockets(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct ark_owner *owner;
	struct socket *socket;
	struct sock *sk;

	if (!task || !file)
		return 0;
	socket = bpf_sock_from_file(file);
	if (!socket)
		return 0;
	sk = socket->sk;
	if (!sk || !is_tcp_socket_btf(sk))
		return 0;
	owner = bpf_sk_storage_get(&socket_owners, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!owner || owner->source != ARK_OWNER_NONE)
		return 0;
	owner->tgid = BPF_CORE_READ(task, tgid);
	owner->tid = BPF_CORE_READ(task, pid);
	owner->uid = BPF_CORE_READ(task, real_cred, uid.val);
	owner->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	BPF_CORE_READ_STR_INTO(&owner->comm, task, comm);
	owner->source = ARK_OWNER_ITERATOR;
	publish_owner(sk, owner);
	return 0;
}

/*
 * The exit of a process that owned a socket, so user space can drop what
 * it knows of it. Fires per thread; the process is gone when the last
 * thread exits, which do_exit() marks by taking signal->live to zero
 * before this tracepoint (kernels of every version agree on this).
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(socket_owner_exit, struct task_struct *task)
{
	struct ark_record *record;
	__u32 tgid = task->tgid;

	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	if (bpf_map_delete_elem(&socket_owner_processes, &tgid) != 0)
		return 0;
	record = reserve_record(ARK_RECORD_PROCESS_EXIT);
	if (!record)
		return 0;
	record->owner.tgid = tgid;
	record->owner.tid = task->pid;
	record->owner.source = ARK_OWNER_SOCKET;
	BPF_CORE_READ_STR_INTO(&record->owner.comm, task, comm);
	record->owner.cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	record->drop_reason = BPF_CORE_READ(task, exit_code);
	bpf_ringbuf_submit(record, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
