#!/bin/sh
# The demo's pool worker (placed balanced): reports the events it handles,
# "@tandem events N" on its output = N events since its last report.
trap 'echo "worker stopping on SIGTERM"; exit 0' TERM
echo "worker $TANDEM_INSTANCE started on node $TANDEM_NODE"
while :; do
  sleep 1
  echo "@tandem events $((10 * TANDEM_INSTANCE))"
done
