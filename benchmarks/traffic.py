#!/usr/bin/env python3
# Traffic for the kernel-side benchmarks (standard library only):
#   sink PORT [BIND]                      accept and read everything, forever
#   bulk HOST PORT SECONDS CHUNK          one connection, write CHUNK-byte
#                                         buffers for SECONDS; prints bytes/s
#   paced HOST PORT FLOWS RATE SIZE SECONDS
#                                         FLOWS connections (TCP_NODELAY),
#                                         RATE messages of SIZE bytes per
#                                         second in all, round robin
# Each finishing subcommand prints one JSON line on stdout.

import json
import selectors
import socket
import sys
import time


def sink(port, bind="0.0.0.0"):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((bind, port))
    listener.listen(4096)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    buffer = bytearray(1 << 20)
    while True:
        for key, _ in selector.select():
            if key.fileobj is listener:
                while True:
                    try:
                        connection, _ = listener.accept()
                    except BlockingIOError:
                        break
                    connection.setblocking(False)
                    selector.register(connection, selectors.EVENT_READ)
                continue
            connection = key.fileobj
            try:
                n = connection.recv_into(buffer)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                n = 0
            if n == 0:
                selector.unregister(connection)
                connection.close()


def bulk(host, port, seconds, chunk):
    connection = socket.create_connection((host, port))
    data = bytes(chunk)
    sent = 0
    start = time.monotonic()
    deadline = start + seconds
    while time.monotonic() < deadline:
        connection.sendall(data)
        sent += chunk
    elapsed = time.monotonic() - start
    connection.close()
    print(json.dumps({"bytes": sent, "seconds": elapsed, "bytes_per_s": sent / elapsed}), flush=True)


def paced(host, port, flows, rate, size, seconds):
    connections = []
    for _ in range(flows):
        c = socket.create_connection((host, port))
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.setblocking(False)
        connections.append(c)
    message = bytes(size)
    sent = skipped = 0
    start = time.monotonic()
    tick = 0.001
    next_tick = start
    due = 0.0
    index = 0
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            break
        due += rate * tick
        while due >= 1:
            due -= 1
            try:
                connections[index].send(message)
                sent += 1
            except BlockingIOError:
                skipped += 1  # send buffer full (a flow in recovery): skip it
            index = (index + 1) % flows
        next_tick += tick
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.1:
            next_tick = time.monotonic()  # fell behind: do not burst to catch up
    elapsed = time.monotonic() - start
    for c in connections:
        c.close()
    print(json.dumps({"messages": sent, "skipped": skipped, "seconds": elapsed,
                      "messages_per_s": sent / elapsed}), flush=True)


def main(arguments):
    if not arguments:
        sys.exit(__doc__ or "usage: traffic.py sink|bulk|paced ...")
    command, rest = arguments[0], arguments[1:]
    if command == "sink":
        sink(int(rest[0]), *(rest[1:2]))
    elif command == "bulk":
        bulk(rest[0], int(rest[1]), float(rest[2]), int(rest[3]))
    elif command == "paced":
        paced(rest[0], int(rest[1]), int(rest[2]), float(rest[3]), int(rest[4]), float(rest[5]))
    else:
        sys.exit(f"traffic.py: unknown subcommand {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
