// The smallest valid node config the unit tests build on: one pair link, the
// HTTP API on loopback. `key` is the pair key as written in the YAML (a
// literal or `${ENV}`); `peerExtra` adds lines inside `peer:` (indented
// already). The text is the same for every test, so line numbers in
// expected messages stay put.
export const TEST_KEY = "k".repeat(40);

export function minimalConfig(opts: { key?: string; peerExtra?: string } = {}): string {
  return `
pair: { id: line1, key: "${opts.key ?? TEST_KEY}" }
node: { id: a, role: main, dataDir: ./data }
peer:
  id: b
  listen: 127.0.0.1:7410
  address: 127.0.0.1:7411
  links: [{ name: lan, bind: "127.0.0.1:7420", peer: "127.0.0.1:7421" }]
${opts.peerExtra === undefined ? "" : `${opts.peerExtra}\n`}http: { listen: 127.0.0.1:8080 }
`;
}
