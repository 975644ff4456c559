// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket ownership: who owns each TCP socket, claimed from process context
 * (connect, listen, send, receive, close) into socket_owners, so that
 * retransmits fired later from softirq or timer context are attributed to
 * the owner, not to whatever task happened to be on the CPU. Every program
 * here is optional: user space loads those the kernel accepts.
 */
#include "probe.bpf.h"

static __always_inline struct listener_key listener_of(struct sock *sk)
{
	struct listener_key key = {
		.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum),
		.port = BPF_CORE_READ(sk, __sk_common.skc_num),
	};
	return key;
}

/* What socket_owner_processes knows of a process. An exited process's
 * entry stays, marked, until the LRU reuses it: marking it is one atomic
 * exchange, deleting it takes two locks in the exit hook. A new process
 * with the same tgid finds the mark and starts afresh. */
enum { OWNER_PROCESS_FOUND = 0, OWNER_PROCESS_ENVIRONMENT_SENT = 1, OWNER_PROCESS_EXITED = 2 };

static __always_inline struct kernfs_node *kernfs_parent(struct kernfs_node *node)
{
	if (bpf_core_field_exists(((struct kernfs_node___rcu_parent *)0)->__parent))
		return BPF_CORE_READ((struct kernfs_node___rcu_parent *)node, __parent);
	return BPF_CORE_READ((struct kernfs_node___parent *)node, parent);
}

/* Sends who the calling process is: its cgroup path and, unless switched
 * off, its environment block (the launcher's view of it: rank, world,
 * job). Read here, in its own context: /proc/PID/environ needs ptrace
 * rights the agent does not have, and /proc/PID/cgroup may be hidden. */
static __always_inline void send_process_environment(__u64 pid_tgid)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	unsigned long start = BPF_CORE_READ(task, mm, env_start);
	unsigned long end = BPF_CORE_READ(task, mm, env_end);
	struct kernfs_node *node = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	struct ark_process_environment *record;
	__u64 length = 0, head = 0, tail = 0, size;
	__u32 zero = 0, levels = 0;
	long error = 0;

	/* A kernel thread (no mm) claiming for kTLS or sockmap is no workload. */
	if (!start || end <= start)
		return;
	record = bpf_map_lookup_elem(&process_environment_buffers, &zero);
	if (!record)
		return;
	record->ktime_ns = bpf_ktime_get_ns();
	record->tgid = pid_tgid >> 32;
	record->tid = (__u32)pid_tgid;
	record->kind = ARK_RECORD_PROCESS_ENVIRONMENT;
	record->cgroup_id = bpf_get_current_cgroup_id();
	record->pad = 0;
	bpf_get_current_comm(record->comm, sizeof(record->comm));
	/* Innermost first, up to (not including) the root, which has no name. */
	for (int level = 0; level < ARK_CGROUP_LEVELS; level++) {
		struct kernfs_node *parent = node ? kernfs_parent(node) : 0;

		if (!parent)
			break;
		bpf_probe_read_kernel_str(record->cgroup_names[level], ARK_CGROUP_NAME_LEN, BPF_CORE_READ(node, name));
		levels++;
		node = parent;
	}
	record->cgroup_levels = levels;
	record->cgroup_truncated = node && kernfs_parent(node) ? 1 : 0;
	record->environment_copied = probe_config.copies_process_environment;
	if (probe_config.copies_process_environment) {
		length = end - start;
		head = length;
		if (length >= ARK_ENVIRONMENT_BYTES) {
			head = ARK_ENVIRONMENT_BYTES / 2;
			tail = ARK_ENVIRONMENT_BYTES / 2;
		}
		/* head < ARK_ENVIRONMENT_BYTES, a power of two: the mask changes
		 * nothing but gives the verifier (5.10's too) the size's bounds. */
		error = bpf_probe_read_user(record->data, head & (ARK_ENVIRONMENT_BYTES - 1), (void *)start);
		if (!error && tail)
			error = bpf_probe_read_user(record->data + ARK_ENVIRONMENT_BYTES / 2, ARK_ENVIRONMENT_BYTES / 2,
						    (void *)(end - ARK_ENVIRONMENT_BYTES / 2));
		if (error) {
			head = 0;
			tail = 0;
		}
	}
	record->environment_length = length > 0xffffffff ? 0xffffffff : length;
	record->error = error;
	record->head_length = head;
	record->tail_length = tail;
	size = ARK_PROCESS_ENVIRONMENT_HEADER_SIZE + (tail ? ARK_ENVIRONMENT_BYTES : head & (ARK_ENVIRONMENT_BYTES - 1));
	if (bpf_ringbuf_output(&ark_records, record, size, ring_wakeup_flags(record->ktime_ns)) != 0)
		count_ring_reservation_failure();
}

/* Remembers the calling process so that its exit is reported, and sends
 * its environment the first time. Process context only. */
static __always_inline void remember_owner_process(__u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32;
	__u32 *known = bpf_map_lookup_elem(&socket_owner_processes, &tgid);
	__u32 sent = OWNER_PROCESS_ENVIRONMENT_SENT;

	if (known && *known == OWNER_PROCESS_ENVIRONMENT_SENT)
		return;
	bpf_map_update_elem(&socket_owner_processes, &tgid, &sent, BPF_ANY);
	send_process_environment(pid_tgid);
}

/* A process found by the start-up walk: its environment waits for its
 * first claim in its own context. */
static __always_inline void remember_found_process(__u32 tgid)
{
	__u32 *known = bpf_map_lookup_elem(&socket_owner_processes, &tgid);
	__u32 found = OWNER_PROCESS_FOUND;

	if (known && *known != OWNER_PROCESS_EXITED)
		return;
	bpf_map_update_elem(&socket_owner_processes, &tgid, &found, BPF_ANY);
}

/* Claims by the owning task that changed nothing before the send hook
 * gives the socket storage of its own (whose creation costs ~2 µs: not
 * worth it for a socket that sends a few times). */
#define SETTLED_CLAIMS_FOR_STORAGE 8

/* A claim changed the owner: the copy the send hook keeps (probe.bpf.h
 * send_claim) is stale. Readers use the table until the new owner's sends
 * make a new one; the send hook checks the table at its next send. */
static __always_inline void forget_stored_owner(struct sock *sk)
{
	struct send_claim *claim;

	if (!probe_config.owners_in_socket_storage)
		return;
	claim = bpf_sk_storage_get(&send_claims, sk, 0, 0);
	if (claim) {
		claim->owner.source = ARK_OWNER_NONE;
		claim->sends_until_recheck = 0;
	}
}

/* Records the calling task as owner unless it already is; with
 * `only_if_unowned`, only for a socket nobody has claimed yet. Returns the
 * owner's table entry when the calling task has owned the socket for
 * SETTLED_CLAIMS_FOR_STORAGE claims, else NULL. */
static __always_inline struct ark_owner *claim_socket(struct sock *sk, bool only_if_unowned)
{
	__u64 key = socket_key(sk);
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct ark_owner *owner;
	struct ark_owner claimed = {};

	if (!is_tcp_socket_btf(sk))
		return 0;
	owner = bpf_map_lookup_elem(&socket_owners, &key);
	if (owner) {
		if (only_if_unowned)
			return 0;
		if (owner->tid == (__u32)pid_tgid && owner->tgid == pid_tgid >> 32 &&
		    owner->source == ARK_OWNER_SOCKET) {
			if (owner->settled_claims < 255)
				owner->settled_claims++;
			return owner->settled_claims >= SETTLED_CLAIMS_FOR_STORAGE ? owner : 0;
		}
		/* Another thread of the same process: no new process to
		 * remember, unless the start-up walk found it. */
		if (owner->tgid == pid_tgid >> 32) {
			bool found_by_walk = owner->source == ARK_OWNER_ITERATOR;

			fill_current_owner(owner, ARK_OWNER_SOCKET);
			forget_stored_owner(sk);
			if (found_by_walk)
				remember_owner_process(pid_tgid);
			return 0;
		}
	}
	fill_current_owner(&claimed, ARK_OWNER_SOCKET);
	bpf_map_update_elem(&socket_owners, &key, &claimed, BPF_ANY);
	forget_stored_owner(sk);
	remember_owner_process(pid_tgid);
	/* Makes the cookie now, so hooks that may only read it see it. */
	trusted_socket_cookie(sk);
	return 0;
}

/* Every send runs in the sender's context: covers accepted sockets too.
 * Fires once per skb built, several times per large write, so the common
 * case (a task that keeps sending on its own socket) skips the owner
 * table: socket storage, made once the task has owned the socket for a few
 * claims (a socket that sends a few times never pays for it), remembers the
 * task and a copy of its owner entry (for the retransmit hook), and the
 * table is checked again every SEND_CLAIM_RECHECK sends (an LRU eviction).
 * Kernels with this tracepoint all allow socket storage in tracing
 * programs; claim_on_sendmsg_plain is the fallback should one refuse it. */
#define SEND_CLAIM_RECHECK 64

SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(claim_on_sendmsg, struct sock *sk)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct send_claim *last = bpf_sk_storage_get(&send_claims, sk, 0, 0);
	struct ark_owner *settled;

	if (last && last->pid_tgid == pid_tgid && last->sends_until_recheck > 0) {
		last->sends_until_recheck--;
		return 0;
	}
	settled = claim_socket(sk, false);
	if (!settled) {
		if (last)
			last->sends_until_recheck = 0;
		return 0;
	}
	if (!last)
		last = bpf_sk_storage_get(&send_claims, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (last) {
		last->pid_tgid = pid_tgid;
		last->sends_until_recheck = SEND_CLAIM_RECHECK;
		last->owner = *settled;
		last->owner.settled_claims = 0;
	}
	return 0;
}

SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(claim_on_sendmsg_plain, struct sock *sk)
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
 * retransmits are attributed), listen() (-> LISTEN, for SYN-ACKs and the
 * connections it accepts) and close()/shutdown() (-> FIN_WAIT1 / LAST_ACK,
 * for FIN retransmits). Two softirq transitions matter too: a connection
 * created by a listener (LISTEN -> SYN_RECV on the new socket) starts with
 * the listener's owner, and TCP_CLOSE ends a socket's entry, before its
 * memory can be reused by another socket.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(claim_on_state_change, struct sock *sk, int oldstate, int newstate)
{
	__u64 key = socket_key(sk);

	if (!is_tcp_socket_btf(sk))
		return 0;
	switch (newstate) {
	case TCP_SYN_SENT:
	case TCP_FIN_WAIT1:
	case TCP_LAST_ACK:
		claim_socket(sk, false);
		return 0;
	case TCP_LISTEN: {
		struct listener_key listener = listener_of(sk);
		struct ark_owner *owner;

		claim_socket(sk, false);
		owner = bpf_map_lookup_elem(&socket_owners, &key);
		if (owner)
			bpf_map_update_elem(&listener_owners, &listener, owner, BPF_ANY);
		return 0;
	}
	case TCP_SYN_RECV:
		if (oldstate == TCP_LISTEN) {
			struct listener_key listener = listener_of(sk);
			struct ark_owner *owner = bpf_map_lookup_elem(&listener_owners, &listener);
			if (owner)
				bpf_map_update_elem(&socket_owners, &key, owner, BPF_ANY);
		}
		return 0;
	case TCP_CLOSE:
		bpf_map_delete_elem(&socket_owners, &key);
		if (oldstate == TCP_LISTEN) {
			struct listener_key listener = listener_of(sk);
			bpf_map_delete_elem(&listener_owners, &listener);
		}
		return 0;
	}
	return 0;
}

/*
 * Sockets that existed before the agent started: user space runs this
 * iterator once over every open file of every task. A socket file is told
 * by its inode type and its socket's back pointer, and read with probe
 * reads: bpf_sock_from_file() is 5.11+, and the socket pointer it gives is
 * untrusted on some kernels (6.18.44).
 */
SEC("iter/task_file")
int claim_existing_sockets(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct ark_owner owner = {};
	struct socket *socket;
	struct sock *sk;
	__u64 key;

	if (!task || !file)
		return 0;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	socket = BPF_CORE_READ(file, private_data);
	if (!socket || (__u64)BPF_CORE_READ(socket, file) != (__u64)file)
		return 0;
	sk = BPF_CORE_READ(socket, sk);
	if (!sk || !is_tcp_socket(sk))
		return 0;
	key = socket_key(sk);
	/* A claim made since the hooks were attached knows better. */
	if (bpf_map_lookup_elem(&socket_owners, &key))
		return 0;
	owner.tgid = BPF_CORE_READ(task, tgid);
	owner.tid = BPF_CORE_READ(task, pid);
	owner.uid = BPF_CORE_READ(task, real_cred, uid.val);
	owner.cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	BPF_CORE_READ_STR_INTO(&owner.comm, task, comm);
	owner.source = ARK_OWNER_ITERATOR;
	bpf_map_update_elem(&socket_owners, &key, &owner, BPF_NOEXIST);
	if (BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_LISTEN) {
		struct listener_key listener = listener_of(sk);
		bpf_map_update_elem(&listener_owners, &listener, &owner, BPF_NOEXIST);
	}
	remember_found_process(owner.tgid);
	return 0;
}

/* Sends the exit of the current task's process, which owned a socket. */
static __always_inline void send_owner_exit(struct task_struct *task, __u32 tgid)
{
	struct ark_record *record = reserve_record(ARK_RECORD_PROCESS_EXIT);

	if (!record)
		return;
	record->owner.tgid = tgid;
	record->owner.tid = task->pid;
	record->owner.source = ARK_OWNER_SOCKET;
	/* The exiting task is the current one: the helper copies its name
	 * for a fraction of a checked kernel read's cost. */
	bpf_get_current_comm(record->owner.comm, sizeof(record->owner.comm));
	record->owner.cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	record->drop_reason = task->exit_code;
	submit_record(record);
}

/*
 * The exit of a process that owned a socket, so user space can drop what
 * it knows of it. Fires per thread; the process is gone when the last
 * thread exits, which do_exit() marks by taking signal->live to zero
 * before this tracepoint (kernels of every version agree on this).
 * Threads exiting together can each find live at zero: the exchange of
 * the process's mark lets exactly one of them report (BPF atomics, 5.12+).
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(socket_owner_exit, struct task_struct *task)
{
	__u32 tgid = task->tgid;
	__u32 *known;

	/* Plain loads: a tp_btf argument. Most exits are of threads, or of
	 * processes that never owned a socket: a lookup (no lock) tells. */
	if (task->signal->live.counter != 0)
		return 0;
	known = bpf_map_lookup_elem(&socket_owner_processes, &tgid);
	if (!known || __sync_lock_test_and_set(known, OWNER_PROCESS_EXITED) == OWNER_PROCESS_EXITED)
		return 0;
	send_owner_exit(task, tgid);
	return 0;
}

/* Before 5.12 (no atomic exchange): the delete that succeeds reports. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(socket_owner_exit_deleting, struct task_struct *task)
{
	__u32 tgid = task->tgid;

	if (task->signal->live.counter != 0 || !bpf_map_lookup_elem(&socket_owner_processes, &tgid))
		return 0;
	if (bpf_map_delete_elem(&socket_owner_processes, &tgid) != 0)
		return 0;
	send_owner_exit(task, tgid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
