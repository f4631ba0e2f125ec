// The `opcua` section (docs/opcua-server.md): absent means no server; the
// server's defaults; unknown keys, bad modes and a port another server of
// the node holds are refused at start with their key path.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../runtime/config/load.js";
import { configProblems, minimalConfig, TEST_KEY } from "../helpers/min-config.js";

const minimal = minimalConfig();
const withSection = (yaml: string) => `${minimal}${yaml}\n`;
const parse = (text: string) => parseConfig(text, { env: { PAIR_KEY: TEST_KEY } });

describe("config: opcua", () => {
  it("absent: no server", () => {
    expect(parse(minimal).opcua).toBeUndefined();
    expect(parse(withSection("opcua: {}")).opcua?.server).toBeUndefined();
  });

  it("defaults: every security mode, no anonymous sessions, unknown client certificates not trusted", () => {
    const s = parse(withSection("opcua: { server: { listen: 127.0.0.1:4841 } }")).opcua!.server!;
    expect(s).toEqual({ listen: { host: "127.0.0.1", port: 4841 }, securityModes: ["None", "Sign", "SignAndEncrypt"], allowAnonymous: false, trustUnknownClientCertificates: false, maxSessions: 50 });
  });

  it("takes its own choices", () => {
    const s = parse(withSection("opcua:\n  server: { listen: 0.0.0.0:4840, securityModes: [SignAndEncrypt], allowAnonymous: true, maxSessions: 5 }")).opcua!.server!;
    expect(s.securityModes).toEqual(["SignAndEncrypt"]);
    expect(s.allowAnonymous).toBe(true);
    expect(s.maxSessions).toBe(5);
  });

  it("refuses unknown keys, bad modes, a missing listen and a port the node's HTTP API or broker holds, each with its path", () => {
    expect(configProblems(withSection("opcua: { server: { listen: 127.0.0.1:4841, users: [] } }"))[0]).toMatch(/^opcua\.server: unknown key 'users'/);
    expect(configProblems(withSection("opcua: { client: {} }"))[0]).toMatch(/^opcua: unknown key 'client'/);
    expect(configProblems(withSection("opcua: { server: { listen: 127.0.0.1:4841, securityModes: [Encrypt] } }"))[0]).toMatch(/^opcua\.server\.securityModes\[0\]: /);
    expect(configProblems(withSection("opcua: { server: { listen: 127.0.0.1:4841, securityModes: [] } }"))[0]).toMatch(/^opcua\.server\.securityModes: offer at least one security mode/);
    expect(configProblems(withSection("opcua: { server: { listen: 127.0.0.1:4841, securityModes: [None, None] } }"))[0]).toMatch(/^opcua\.server\.securityModes: a security mode is listed twice/);
    expect(configProblems(withSection("opcua: { server: { securityModes: [None] } }"))[0]).toMatch(/^opcua\.server\.listen: /);
    expect(configProblems(withSection("opcua: { server: { listen: plc1 } }"))[0]).toMatch(/^opcua\.server\.listen: expected host:port/);
    expect(configProblems(withSection("opcua: { server: { listen: 127.0.0.1:8080 } }"))).toEqual([expect.stringMatching(/^opcua\.server\.listen: port 8080 is http\.listen's/)]);
    expect(configProblems(withSection("opcua: { server: { listen: 0.0.0.0:1883 } }\nmqtt: { listen: 127.0.0.1:1883 }"))).toEqual([expect.stringMatching(/^opcua\.server\.listen: port 1883 is mqtt\.listen's/)]);
    // another address, the same port: two sockets, no clash
    expect(configProblems(withSection("opcua: { server: { listen: 127.0.0.2:8080 } }"))).toEqual([]);
  });
});
