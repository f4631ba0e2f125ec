#!/usr/bin/python3
# Delay on a real network stack without `tc netem` (this kernel lacks it):
# iptables sends the packets to delay to an NFQUEUE, and this program, bound
# to that queue in the same network namespace, gives each one its verdict
# (accept) once its delay has passed. Addresses, ports and protocols are the
# kernel's own: a delayed heartbeat datagram still comes from its sender's
# address and port, a delayed TCP segment is still the connection's.
#
#   delay-queue.py --queue N --delay-ms D [--jitter-ms J] [--max-seconds S]
#
# Each packet is released D ms (plus up to J, drawn uniformly) after it
# arrived, never before a packet that arrived earlier (no reordering). Prints
# "ready" once bound; on SIGTERM, SIGINT, end of stdin or after --max-seconds
# (default 600) it releases everything it holds and exits. Only Python's
# standard library: the netlink messages of nfnetlink_queue are written here
# (linux/netfilter/nfnetlink_queue.h).
import argparse
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN = 1, 2, 3
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NF_ACCEPT = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
AF_INET = 2


def attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


class Queue:
    def __init__(self, num):
        self.num = num
        self.seq = 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE (root)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind((0, 0))

    def send(self, msg_type, attrs, flags=NLM_F_REQUEST, family=0):
        self.seq += 1
        body = struct.pack("=BBH", family, 0, socket.htons(self.num)) + b"".join(attrs)
        head = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, self.seq, 0)
        self.sock.send(head + body)

    def config(self, attrs):
        self.send(NFQNL_MSG_CONFIG, attrs, NLM_F_REQUEST | NLM_F_ACK)
        data = self.sock.recv(65536)
        _, kind, _, _, _ = struct.unpack_from("=IHHII", data, 0)
        if kind == NLMSG_ERROR:
            (err,) = struct.unpack_from("=i", data, 16)
            if err != 0:
                raise OSError(-err, f"nfnetlink_queue config: {os.strerror(-err)}")

    def bind(self, maxlen):
        self.config([attr(NFQA_CFG_CMD, struct.pack("=BBH", NFQNL_CFG_CMD_BIND, 0, socket.htons(AF_INET)))])
        self.config([attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META) + b"\0\0\0")])
        self.config([attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", maxlen))])

    def accept(self, packet_id):
        self.send(NFQNL_MSG_VERDICT, [attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet_id))])

    def packets(self):
        """the ids of the packets in what the socket has now"""
        try:
            data = self.sock.recv(1 << 20, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return []
        except OSError as e:  # ENOBUFS: the kernel dropped messages (its packets are lost, like on a full link)
            print(f"delay-queue: {e}", file=sys.stderr, flush=True)
            return []
        ids = []
        at = 0
        while at + 16 <= len(data):
            length, kind, _, _, _ = struct.unpack_from("=IHHII", data, at)
            if length < 16:
                break
            if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                a = at + 20  # after nlmsghdr and nfgenmsg
                while a + 4 <= at + length:
                    alen, akind = struct.unpack_from("=HH", data, a)
                    if alen < 4:
                        break
                    if (akind & 0x7FFF) == NFQA_PACKET_HDR:
                        ids.append(struct.unpack_from("!I", data, a + 4)[0])
                    a += (alen + 3) & ~3
            at += (length + 3) & ~3
        return ids


def main():
    p = argparse.ArgumentParser(description="holds the packets of an NFQUEUE for a delay, then accepts them")
    p.add_argument("--queue", type=int, required=True)
    p.add_argument("--delay-ms", type=float, required=True)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--max-seconds", type=float, default=600.0)
    p.add_argument("--seed", type=int, default=None)
    o = p.parse_args()
    if o.delay_ms < 0 or o.jitter_ms < 0 or not (0 < o.max_seconds <= 3600):
        p.error("--delay-ms and --jitter-ms are ≥ 0, --max-seconds in (0, 3600]")
    rnd = random.Random(o.seed)
    q = Queue(o.queue)
    q.bind(65536)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: stop.append("SIGINT"))
    end = time.monotonic() + o.max_seconds
    held = []  # (release time, arrival order, packet id)
    order = 0
    last_release = 0.0
    released = 0
    print("ready", flush=True)
    watch = [q.sock, sys.stdin]
    while not stop:
        now = time.monotonic()
        if now >= end:
            stop.append("max-seconds")
            break
        while held and held[0][0] <= now:
            q.accept(heapq.heappop(held)[2])
            released += 1
        wait = min(end - now, held[0][0] - now if held else 0.5)
        try:
            ready, _, _ = select.select(watch, [], [], max(wait, 0))
        except InterruptedError:
            continue
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 4096):
            stop.append("end of stdin")
            watch = [q.sock]
        if q.sock in ready:
            now = time.monotonic()
            for pid in q.packets():
                due = now + (o.delay_ms + rnd.uniform(0, o.jitter_ms)) / 1000
                last_release = max(last_release, due)
                order += 1
                heapq.heappush(held, (last_release, order, pid))
    while held:
        q.accept(heapq.heappop(held)[2])
        released += 1
    print(f"released {released} packets ({stop[0]})", flush=True)


if __name__ == "__main__":
    main()
