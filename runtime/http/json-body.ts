// JSON request bodies are checked for nesting depth before they are parsed:
// a body nested 10,000 deep overflowed the stack of whatever walked it later
// (validator, audit writer), so it is refused here, before any handler or
// validator sees it. The size limit is fastify's bodyLimit, applied earlier.
import { TandemError } from "../../core/errors.js";

/** The API's bodies are flat objects; 32 levels leave room for any tag value. */
export const MAX_JSON_DEPTH = 32;

const OPEN_OBJECT = 0x7b; // {
const CLOSE_OBJECT = 0x7d; // }
const OPEN_ARRAY = 0x5b; // [
const CLOSE_ARRAY = 0x5d; // ]
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const COMMA = 0x2c; // ,

/** A readable path for the place where nesting went too deep: body.value[0][0]… */
function describePath(path: (string | number)[]): string {
  const parts = path.map((p) => (typeof p === "number" ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`));
  const shown = parts.length > 6 ? [...parts.slice(0, 6), "…"] : parts;
  return `body${shown.join("")}`;
}

/**
 * Null when `text` nests at most `maxDepth` levels, else a sentence saying
 * where it goes too deep. One linear pass, no recursion; it does not check
 * the syntax (JSON.parse does that next), only the brackets outside strings.
 */
export function jsonDepthProblem(text: string, maxDepth = MAX_JSON_DEPTH): string | null {
  // per open container: its key or index so far
  const path: (string | number)[] = [];
  const kinds: number[] = [];
  let inString = false;
  let stringStart = 0;
  let lastString: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) {
        inString = false;
        // only short strings can be keys worth showing
        lastString = i - stringStart < 80 ? text.slice(stringStart + 1, i) : "…";
      }
      continue;
    }
    switch (c) {
      case QUOTE:
        inString = true;
        stringStart = i;
        break;
      case 0x3a: // ':' — the string just read was a key
        if (kinds[kinds.length - 1] === OPEN_OBJECT && lastString !== null) path[path.length - 1] = lastString;
        break;
      case COMMA:
        if (kinds[kinds.length - 1] === OPEN_ARRAY) path[path.length - 1] = (path[path.length - 1] as number) + 1;
        break;
      case OPEN_OBJECT:
      case OPEN_ARRAY:
        if (kinds.length >= maxDepth) {
          return `body: JSON nested deeper than ${maxDepth} levels (at character ${i + 1}, inside ${describePath(path)}); the API takes flat objects`;
        }
        kinds.push(c);
        path.push(c === OPEN_ARRAY ? 0 : "");
        break;
      case CLOSE_OBJECT:
      case CLOSE_ARRAY:
        kinds.pop();
        path.pop();
        break;
    }
  }
  return null;
}

type Done = (err: Error | null, body?: unknown) => void;
type Parser<R> = (req: R, body: string, done: Done) => void;

/**
 * A fastify content-type parser for application/json (parseAs "string"):
 * refuses bodies nested too deep with a 400, then hands the text to fastify's
 * own JSON parser (which keeps its __proto__ and constructor guards and its
 * empty-body and syntax errors).
 */
export function depthLimitedJsonParser<R>(defaultParser: Parser<R>, maxDepth = MAX_JSON_DEPTH): Parser<R> {
  return (req, body, done) => {
    const problem = jsonDepthProblem(body, maxDepth);
    if (problem) {
      done(new TandemError("TANDEM_ERR_BAD_REQUEST", [problem]));
      return;
    }
    defaultParser(req, body, done);
  };
}
