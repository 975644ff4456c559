// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The one definition of the maps that every program shares. */
#include "probe.bpf.h"

struct ark_records_map ark_records SEC(".maps");
struct socket_owners_map socket_owners SEC(".maps");
struct owners_by_cookie_map owners_by_cookie SEC(".maps");
struct socket_owner_processes_map socket_owner_processes SEC(".maps");
struct ring_reservation_failures_map ring_reservation_failures SEC(".maps");

char LICENSE[] SEC("license") = "Dual BSD/GPL";
