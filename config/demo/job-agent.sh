#!/bin/sh
# The demo's job agent (placed active): a line with its node and epoch every
# 100 ms. It must never run on both nodes at once: its lines show it.
out=${1:?usage: job-agent.sh FILE}
trap 'echo "job agent stopping on SIGTERM"; exit 0' TERM
echo "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) job agent started on node=$TANDEM_NODE epoch=$TANDEM_EPOCH" >> "$out"
while :; do
  echo "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) node=$TANDEM_NODE epoch=$TANDEM_EPOCH" >> "$out"
  sleep 0.1
done
