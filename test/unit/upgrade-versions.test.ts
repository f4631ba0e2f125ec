// runtime/upgrade/versions.ts on a real folder: a build installed beside the
// others and made current, the one before kept as previous, older ones
// pruned, a rollback swapping them; a build that is not Tandem, does not
// run, or says another version changes nothing. The builds here are small
// stand-ins whose cli.js answers `version` (the real one: test/integration/upgrade.test.ts).
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { installed, installVersion, rollback, rootOfRunningBuild } from "../../runtime/upgrade/versions.js";

const work = mkdtempSync(join(tmpdir(), "tandem-versions-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function fake(version: string, says = version, name = "tandem"): string {
  const dir = join(work, `src-${version}-${says}-${name}`);
  mkdirSync(join(dir, "dist", "runtime"), { recursive: true });
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, version }));
  writeFileSync(join(dir, "dist", "runtime", "cli.js"), `if (process.argv[2] === "version") console.log(${JSON.stringify(says)});\n`);
  return dir;
}

describe("versions under an install root", () => {
  it("installs beside, swings current and previous, prunes beyond keep, and rolls back", () => {
    const root = join(work, "r1");
    expect(installVersion(root, fake("1.0.0"), 3)).toEqual({ version: "1.0.0", was: null, pruned: [] });
    expect(installVersion(root, fake("1.1.0"), 3)).toEqual({ version: "1.1.0", was: "1.0.0", pruned: [] });
    expect(installVersion(root, fake("1.2.0"), 3)).toMatchObject({ version: "1.2.0", was: "1.1.0", pruned: [] });
    expect(installVersion(root, fake("1.3.0"), 3)).toMatchObject({ version: "1.3.0", was: "1.2.0", pruned: ["1.0.0"] });
    expect(installed(root)).toEqual({ root, current: "1.3.0", previous: "1.2.0", versions: ["1.1.0", "1.2.0", "1.3.0"] });
    expect(readlinkSync(join(root, "current"))).toBe(join("versions", "1.3.0"));
    expect(rollback(root)).toEqual({ from: "1.3.0", to: "1.2.0" });
    expect(installed(root)).toMatchObject({ current: "1.2.0", previous: "1.3.0" });
    // a build knows the root it runs from
    expect(rootOfRunningBuild(join(root, "versions", "1.2.0", "dist", "runtime", "upgrade", "versions.js"))).toBe(root);
    expect(rootOfRunningBuild(join(work, "checkout", "dist", "runtime", "upgrade", "versions.js"))).toBeNull();
  });

  it("changes nothing for a build that is not Tandem, does not run, says another version, or is current already", () => {
    const root = join(work, "r2");
    installVersion(root, fake("2.0.0"), 3);
    expect(() => installVersion(root, fake("2.1.0", "2.1.0", "left-pad"), 3)).toThrow(/not a Tandem build: its package.json names 'left-pad'/);
    expect(() => installVersion(root, fake("2.1.0", "9.9.9"), 3)).toThrow(/says it is '9.9.9', its package.json '2.1.0'/);
    const broken = fake("2.2.0");
    writeFileSync(join(broken, "dist", "runtime", "cli.js"), "process.exit(3)\n");
    expect(() => installVersion(root, broken, 3)).toThrow(/the new build does not run/);
    expect(() => installVersion(root, fake("2.0.0"), 3)).toThrow(/already the current one/);
    expect(installed(root)).toEqual({ root, current: "2.0.0", previous: null, versions: ["2.0.0"] });
    expect(existsSync(join(root, "versions", "2.1.0.partial"))).toBe(false);
    expect(() => rollback(root)).toThrow(/no previous version/);
  });
});
