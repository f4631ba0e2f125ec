// The systemd units parse cleanly (systemd-analyze verify prints every
// problem; a broken copy proves the check can fail), and the unit keeps the
// contract: SIGTERM for a clean handover, restart on crash, not on config errors.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "tandem-units-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stub = join(dir, "tandem");
writeFileSync(stub, "#!/bin/sh\n");
chmodSync(stub, 0o755);

function verify(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text.replaceAll("/usr/bin/tandem", stub));
  try {
    // systemd-analyze writes its findings to stderr and still exits 0: collect both
    return execFileSync("sh", ["-c", 'systemd-analyze verify "$1" 2>&1', "sh", file], { encoding: "utf8" });
  } catch (err) {
    const e = err as { stdout?: string };
    return e.stdout || String(err);
  }
}

const unit = (f: string) => readFileSync(new URL(`../../deploy/systemd/${f}`, import.meta.url), "utf8");

describe("systemd units", () => {
  for (const f of ["tandem.service", "tandem-witness.service"]) {
    it(`${f} verifies without a warning`, () => {
      expect(verify(f, unit(f)).trim()).toBe("");
    });
  }
  it("the check catches a broken unit", () => {
    expect(verify("broken.service", unit("tandem.service").replace("Restart=always", "Restart=sometimes"))).toMatch(/restart specifier/);
  });
  it("stops with SIGTERM (handover), restarts on a crash, not on a config error (exit 2)", () => {
    const u = unit("tandem.service");
    expect(u).toMatch(/^KillSignal=SIGTERM$/m);
    expect(u).toMatch(/^Restart=always$/m);
    expect(u).toMatch(/^RestartPreventExitStatus=2$/m);
    expect(u).toMatch(/^ExecStart=\/usr\/bin\/tandem start --config /m);
  });
});
