// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The one definition of the maps that every program shares. */
#include "probe.bpf.h"

struct ark_records_map ark_records SEC(".maps");
struct socket_owners_map socket_owners SEC(".maps");
struct listener_owners_map listener_owners SEC(".maps");
struct send_claims_map send_claims SEC(".maps");
struct socket_owner_processes_map socket_owner_processes SEC(".maps");
struct process_environment_buffers_map process_environment_buffers SEC(".maps");
struct ring_reader_map ring_reader SEC(".maps");
struct drops_counted_only_map drops_counted_only SEC(".maps");
struct congestion_changes_counted_only_map congestion_changes_counted_only SEC(".maps");
struct ring_reservation_failures_map ring_reservation_failures SEC(".maps");

const volatile struct ark_probe_config probe_config = {};

char LICENSE[] SEC("license") = "Dual BSD/GPL";
