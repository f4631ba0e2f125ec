#!/usr/bin/env bash
# Installs Tandem from this checkout as a systemd service on a Debian host:
# a `tandem` system user, /usr/bin/tandem, the unit files, /etc/tandem.
# Usage: sudo deploy/systemd/install.sh [node|witness]
set -euo pipefail
what=${1:-node}
here=$(cd "$(dirname "$0")/../.." && pwd)
id tandem >/dev/null 2>&1 || useradd --system --home /var/lib/tandem --shell /usr/sbin/nologin tandem
install -d -m 0750 -o root -g tandem /etc/tandem
(cd "$here" && npm ci --omit=dev && npm run build)
ln -sf "$here/dist/runtime/cli.js" /usr/bin/tandem
chmod +x "$here/dist/runtime/cli.js"
case "$what" in
  node) install -m 0644 "$here/deploy/systemd/tandem.service" /etc/systemd/system/tandem.service
        [ -f /etc/tandem/tandem.env ] || install -m 0640 -g tandem /dev/null /etc/tandem/tandem.env
        echo "now: edit /etc/tandem/node.yaml and /etc/tandem/tandem.env, then: systemctl enable --now tandem" ;;
  witness) install -m 0644 "$here/deploy/systemd/tandem-witness.service" /etc/systemd/system/tandem-witness.service
        [ -f /etc/tandem/witness.env ] || install -m 0640 -g tandem /dev/null /etc/tandem/witness.env
        echo "now: set TANDEM_WITNESS_KEY in /etc/tandem/witness.env, then: systemctl enable --now tandem-witness" ;;
  *) echo "usage: $0 [node|witness]" >&2; exit 2 ;;
esac
systemctl daemon-reload
