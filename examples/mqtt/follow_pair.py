#!/usr/bin/env python3
"""An MQTT client that follows a Tandem pair (paho-mqtt 1.6, Debian's python3-paho-mqtt).

It lists both nodes and connects to whichever serves: the standby turns
clients away (CONNACK "server unavailable") and a node that stops being
active closes its clients, so on any refusal or lost connection it tries the
next node. Subscriptions are made again on every connection.

    python3 follow_pair.py --servers 10.0.0.1:1883,10.0.0.2:1883 \
        --user viewer --password "$MQTT_PASSWORD" --topic 'tandem/line1/#'

It prints "server HOST:PORT" on each connection and "TOPIC PAYLOAD" for each
message; --seconds ends it after that long (0: run until Ctrl-C).
"""
import argparse
import sys
import time

import paho.mqtt.client as mqtt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", required=True, help="both nodes: host:port,host:port")
    ap.add_argument("--user", default=None)
    ap.add_argument("--password", default=None)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--seconds", type=float, default=0)
    args = ap.parse_args()
    servers = []
    for s in args.servers.split(","):
        host, _, port = s.strip().rpartition(":")
        servers.append((host, int(port)))

    state = {"i": 0, "up": False, "refused": False}
    client = mqtt.Client(protocol=mqtt.MQTTv311, clean_session=True)
    if args.user:
        client.username_pw_set(args.user, args.password)

    def on_connect(c, _userdata, _flags, rc):
        if rc != 0:  # 3: server unavailable (the standby): the next node
            state["up"] = False
            state["refused"] = True
            return
        state["up"] = True
        host, port = servers[state["i"]]
        print(f"server {host}:{port}", flush=True)
        c.subscribe(args.topic)

    def on_disconnect(_c, _userdata, _rc):
        state["up"] = False

    def on_message(_c, _userdata, msg):
        print(f"{msg.topic} {msg.payload.decode('utf-8', 'replace')}", flush=True)

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_message = on_message

    end = time.monotonic() + args.seconds if args.seconds > 0 else None
    while end is None or time.monotonic() < end:
        host, port = servers[state["i"]]
        try:
            client.connect(host, port, keepalive=10)
        except OSError:
            state["i"] = (state["i"] + 1) % len(servers)
            time.sleep(0.2)
            continue
        # the network loop until this connection ends, is refused, or gets no answer
        state["refused"] = False
        started = time.monotonic()
        while end is None or time.monotonic() < end:
            if client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS or state["refused"]:
                break
            if not state["up"] and time.monotonic() - started > 3:
                break  # no CONNACK: try the next node
        client.disconnect()
        state["i"] = (state["i"] + 1) % len(servers)
        time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
