// The support bundle's copy of a config: every secret replaced, whatever
// section it sits in; references to environment variables, file paths and
// everything else kept as written, comments included.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { redactConfig } from "../../runtime/support-bundle.js";

const CONFIG = `# the plant's pair
pair: { id: line1, key: "a-literal-pair-key-0123456789abcdef0123" }
node: { id: a, role: main, dataDir: /var/lib/tandem }
witness: { address: 203.0.113.10:7400, key: "\${TANDEM_WITNESS_KEY}" }
database: { engine: postgres, url: "postgres://tandem:s3cret-pw@db1:5432/tandem_a" }
mqtt:
  broker: external
  url: mqtts://broker.plant:8883
  username: tandem
  password: "broker-password"   # the site broker's login
http:
  tls: { enabled: true, certFile: /etc/tandem/node.crt, key: /etc/tandem/node.key }
  users:
    - { name: admin, role: admin, passwordHash: "scrypt$16384$8$1$c2FsdA==$aGFzaA==" }
log: { audit: { key: "audit-key-literal-0123456789abcdef0123" } }
`;

describe("support bundle: the config without its secrets", () => {
  const out = redactConfig(CONFIG);
  const c = parse(out);
  it("replaces keys, passwords, password hashes and a password in a URL", () => {
    expect(c.pair.key).toBe("«removed»");
    expect(c.mqtt.password).toBe("«removed»");
    expect(c.http.users[0].passwordHash).toBe("«removed»");
    expect(c.log.audit.key).toBe("«removed»");
    expect(c.database.url).toBe("postgres://tandem:«removed»@db1:5432/tandem_a");
    for (const secret of ["a-literal-pair-key", "broker-password", "scrypt$", "s3cret-pw", "audit-key-literal"]) expect(out).not.toContain(secret);
  });
  it("keeps ${VARIABLE} references, file paths, comments and everything else", () => {
    expect(c.witness.key).toBe("${TANDEM_WITNESS_KEY}");
    expect(c.http.tls.key).toBe("/etc/tandem/node.key");
    expect(c.mqtt.url).toBe("mqtts://broker.plant:8883");
    expect(c.mqtt.username).toBe("tandem");
    expect(out).toContain("# the plant's pair");
    expect(out).toContain("# the site broker's login");
    expect(c.node).toEqual({ id: "a", role: "main", dataDir: "/var/lib/tandem" });
  });
});
