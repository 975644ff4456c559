# Sourced by benchmarks/memory and scripts/hot-symbols: a sender and a
# receiver network namespace joined by a veth pair, the receiver's firewall
# dropping what is sent to it, and benchmarks/memory-traffic driving kernel
# TCP events through it: raw SYNs at a set rate that the receiver drops (one
# kernel drop event each) plus one lossy TCP connection (retransmissions,
# congestion changes, attributed drops). Needs root.

lab_sender=arkm-s-$$
lab_receiver=arkm-r-$$
lab_drop_port=9
lab_flow_port=5001

lab_up() {
  command -v python3 >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null; }
  ip netns add "$lab_sender"
  ip netns add "$lab_receiver"
  ip link add name arkm-s netns "$lab_sender" type veth peer name arkm-r netns "$lab_receiver"
  ip -n "$lab_sender" addr add 10.198.0.1/24 dev arkm-s
  ip -n "$lab_receiver" addr add 10.198.0.2/24 dev arkm-r
  for ns in "$lab_sender" "$lab_receiver"; do ip -n "$ns" link set lo up; done
  ip -n "$lab_sender" link set arkm-s up
  ip -n "$lab_receiver" link set arkm-r up
  ip netns exec "$lab_receiver" iptables -w -A INPUT -p tcp --dport $lab_drop_port -j DROP
  ip netns exec "$lab_receiver" iptables -w -A INPUT -p tcp --dport $lab_flow_port -m length --length 200:65535 \
    -m statistic --mode random --probability 0.02 -j DROP
}

# lab_traffic RATE SECONDS OUTPUT_DIR: starts the traffic in the background;
# its pid (the drops sender, which stops after SECONDS) is in lab_traffic_pid.
lab_traffic() {
  local rate=$1 seconds=$2 out=$3 traffic
  traffic="$(dirname "${BASH_SOURCE[0]}")/memory-traffic"
  ip netns exec "$lab_receiver" python3 "$traffic" sink --port $lab_flow_port --seconds $((seconds + 5)) >"$out/sink.json" &
  ip netns exec "$lab_sender" python3 "$traffic" flow --to 10.198.0.2 --port $lab_flow_port --seconds "$seconds" >"$out/flow.json" &
  ip netns exec "$lab_sender" python3 "$traffic" drops --to 10.198.0.2 --port $lab_drop_port --rate "$rate" \
    --seconds "$seconds" >"$out/drops.json" &
  lab_traffic_pid=$!
}

lab_down() {
  local ns pid
  for ns in "$lab_sender" "$lab_receiver"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}
