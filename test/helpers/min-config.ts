// The smallest valid node config the unit tests build on: one pair link, the
// HTTP API on loopback. `key` is the pair key as written in the YAML (a
// literal or `${ENV}`); `peerExtra` adds lines inside `peer:` (indented
// already). The text is the same for every test, so line numbers in
// expected messages stay put.
import { ConfigError } from "../../core/errors.js";
import { parseConfig } from "../../runtime/config/load.js";

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

/** every problem parseConfig reports for `text`, as "path: message" ([] when it is valid) */
export function configProblems(text: string, env: NodeJS.ProcessEnv = { PAIR_KEY: TEST_KEY }): string[] {
  try {
    parseConfig(text, { env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}
