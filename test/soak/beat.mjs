// A service placed `active` for the fault-injection runs (test/soak/): every
// 100 ms it appends one line {at, node, epoch} to the file named by its
// first argument — the shared file the independent checker reads to prove
// that no two nodes ran it at once (S1). Its node and epoch are the ones it
// was started with (TANDEM_NODE, TANDEM_EPOCH from the node).
import { appendFileSync } from "node:fs";

const file = process.argv[2];
const node = process.env.TANDEM_NODE;
const epoch = Number(process.env.TANDEM_EPOCH);
const beat = () => appendFileSync(file, `${JSON.stringify({ at: Date.now(), node, epoch })}\n`);
beat();
setInterval(beat, 100);
process.on("SIGTERM", () => process.exit(0));
