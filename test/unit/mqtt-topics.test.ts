// The MQTT topic rules (runtime/mqtt/topics.ts) and the packet-size guard
// (runtime/mqtt/packet-guard.ts): pure functions, hostile inputs included (S5).
import { describe, expect, it } from "vitest";
import { MalformedLength, PacketScanner, PacketTooLarge } from "../../runtime/mqtt/packet-guard.js";
import { parseSetPayload, prefixOf, publishProblem, subscribeProblem, tagOfSetTopic, tagTopic, topicProblem } from "../../runtime/mqtt/topics.js";

const P = prefixOf("line1");

describe("MQTT topics", () => {
  it("maps tag names to topics and write requests back to tag names", () => {
    expect(tagTopic(P, "line1.tank1.level")).toBe("tandem/line1/tags/line1/tank1/level");
    expect(tagOfSetTopic(P, "tandem/line1/tags/line1/tank1/level/set")).toBe("line1.tank1.level");
    expect(tagOfSetTopic(P, "tandem/line1/tags/level/set")).toBe("level");
    for (const bad of ["tandem/line1/tags/set", "tandem/line1/tags//x/set", "tandem/line1/tags/a/+/set", "tandem/line1/tags/a/#/set", "tandem/line1/tags/a.b/set", "tandem/line2/tags/a/set", "tandem/line1/tags/a/set/result", "tandem/line1/state"]) {
      expect(tagOfSetTopic(P, bad), bad).toBeNull();
    }
  });

  it("lets every role subscribe under the prefix and nobody outside it", () => {
    expect(subscribeProblem(P, "tandem/line1/#")).toBeNull();
    expect(subscribeProblem(P, "tandem/line1/tags/+/level")).toBeNull();
    expect(subscribeProblem(P, "tandem/line1")).toBeNull();
    for (const f of ["#", "+/line1/#", "tandem/+/state", "tandem/line2/#", "$SYS/#"]) expect(subscribeProblem(P, f), f).toMatch(/only topics under tandem\/line1\//);
  });

  it("lets only operators and admins publish, and only write requests", () => {
    const set = "tandem/line1/tags/a/b/set";
    expect(publishProblem(P, "operator", set)).toBeNull();
    expect(publishProblem(P, "admin", set)).toBeNull();
    expect(publishProblem(P, "viewer", set)).toMatch(/operator role/);
    expect(publishProblem(P, "admin", "tandem/line1/state")).toMatch(/Tandem's own/);
    expect(publishProblem(P, "admin", "tandem/line1/tags/a/b")).toMatch(/Tandem's own/);
    expect(publishProblem(P, "admin", "site/x")).toMatch(/only topics under/);
  });

  it("refuses empty, over-long and NUL topics", () => {
    expect(topicProblem("", 10)).toMatch(/empty/);
    expect(topicProblem("a".repeat(11), 10)).toMatch(/11 characters .*maxTopicLength is 10/);
    expect(topicProblem("a\u0000b", 10)).toMatch(/NUL/);
    expect(topicProblem("a/b", 10)).toBeNull();
  });

  it("reads a write request's payload as {value} or a bare JSON value, and says what is wrong otherwise", () => {
    expect(parseSetPayload(Buffer.from('{"value": 12.5}'))).toEqual({ value: 12.5 });
    expect(parseSetPayload(Buffer.from("true"))).toEqual({ value: true });
    expect(parseSetPayload(Buffer.from('"on"'))).toEqual({ value: "on" });
    expect(parseSetPayload(Buffer.from("[1,2]"))).toEqual({ value: [1, 2] });
    expect(parseSetPayload(Buffer.from(""))).toEqual({ problem: expect.stringMatching(/empty/) });
    expect(parseSetPayload(Buffer.from("12,"))).toEqual({ problem: expect.stringMatching(/not JSON/) });
    expect(parseSetPayload(Buffer.from('{"v": 1}'))).toEqual({ problem: expect.stringMatching(/without a 'value'/) });
  });
});

describe("MQTT packet guard", () => {
  /** a packet: type byte, the remaining length as MQTT's variable-length integer, a body */
  const packet = (body: number): Buffer => {
    const len: number[] = [];
    let n = body;
    do {
      let b = n % 128;
      n = Math.floor(n / 128);
      if (n > 0) b |= 0x80;
      len.push(b);
    } while (n > 0);
    return Buffer.concat([Buffer.from([0x30, ...len]), Buffer.alloc(body, 7)]);
  };

  it("passes packets up to the limit, however the bytes are cut", () => {
    const stream = Buffer.concat([packet(0), packet(10), packet(127), packet(128), packet(1000), packet(4096 - 3)]);
    for (const cut of [1, 2, 3, 7, 100, stream.length]) {
      const s = new PacketScanner(4096);
      for (let i = 0; i < stream.length; i += cut) s.scan(stream.subarray(i, i + cut));
    }
  });

  it("stops at the first header declaring more than the limit, before its body arrives", () => {
    const s = new PacketScanner(4096);
    s.scan(packet(100));
    expect(() => s.scan(Buffer.from([0x30, 0xff, 0x7f]))).toThrow(PacketTooLarge);
    // a length split across chunks is read whole
    const t = new PacketScanner(4096);
    t.scan(Buffer.from([0x10, 0x80]));
    expect(() => t.scan(Buffer.from([0x80, 0x40]))).toThrow(/a packet of 1048580 bytes \(mqtt.maxPacketBytes is 4096\)/);
  });

  it("refuses a remaining length of more than four bytes", () => {
    expect(() => new PacketScanner(1 << 30).scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(MalformedLength);
  });
});
