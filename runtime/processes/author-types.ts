// What the author of a process module imports, by type only:
//
//   import type { ProcessContext } from "tandem/process";
//   export async function start(ctx: ProcessContext): Promise<void> { … }
//
// package.json's `exports` maps `tandem/process` to this file's declarations
// (dist/runtime/processes/author-types.d.ts). A type-only import is erased
// when the node transpiles the module, so it need not resolve on the node:
// only the author's editor and tsc look for it (docs/processes.md).
export type { ProcessContextApi as ProcessContext, ProcessModule } from "./module-api.js";
export type { Logger as ProcessLogger } from "../../core/logger.js";
