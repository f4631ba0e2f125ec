// `tandem hash-password`: reads one line from stdin and prints its scrypt
// hash for http.users; never takes the password on the command line.
import { hashPassword } from "./auth/passwords.js";

export interface HashPasswordIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** where the password is read from (one line); process.stdin by default */
  stdin?: AsyncIterable<string | Buffer> & { isTTY?: boolean };
}

/** `tandem hash-password`: reads one line from stdin, prints the scrypt hash for the config file. */
export async function runHashPassword(argv: string[], io?: HashPasswordIo): Promise<number> {
  const out = io?.out ?? ((s: string) => process.stdout.write(s + "\n"));
  const err = io?.err ?? ((s: string) => process.stderr.write(s + "\n"));
  if (argv.length) {
    err(`tandem hash-password: unexpected argument '${argv[0]}'; the password is read from standard input, never from the command line`);
    err("usage: echo -n 'secret' | tandem hash-password   (or run it and type the password, then Enter)");
    return 2;
  }
  const stdin = io?.stdin ?? process.stdin;
  if (stdin.isTTY) err("password (shown as you type; pipe it in to keep it off the screen), then Enter:");
  let text = "";
  for await (const chunk of stdin) {
    text += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    if (text.includes("\n") || text.length > 4096) break;
  }
  const line = text.split("\n")[0].replace(/\r$/, "");
  if (line.length === 0) {
    err("tandem hash-password: empty password; type one, or pipe it in");
    return 2;
  }
  out(await hashPassword(line));
  return 0;
}
