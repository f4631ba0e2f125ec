// One catalogue of every error Tandem reports to a person or a script.
// Each code has an HTTP status (for the API) and a message template a plant
// engineer can act on. test/unit/errors.test.ts checks codes are unique and
// listed in docs/errors.md.

export interface ErrorSpec {
  status: number;
  message: string;
}

export const ERRORS = {
  TANDEM_ERR_CONFIG: { status: 500, message: "config: %s" },
  TANDEM_ERR_CONFIG_FILE: { status: 500, message: "config file %s: %s" },
  TANDEM_ERR_EPOCH_STORE: { status: 500, message: "epoch store %s: %s" },
  TANDEM_ERR_DATABASE: { status: 500, message: "database %s: %s" },
  TANDEM_ERR_UNAUTHORIZED: { status: 401, message: "login required: %s" },
  TANDEM_ERR_FORBIDDEN: { status: 403, message: "role %s may not %s (needs %s)" },
  TANDEM_ERR_BAD_REQUEST: { status: 400, message: "request: %s" },
  TANDEM_ERR_TOO_LARGE: { status: 413, message: "request body too large: %s" },
  TANDEM_ERR_URI_TOO_LONG: { status: 414, message: "URL too long: %s" },
  TANDEM_ERR_HEADERS_TOO_LARGE: { status: 431, message: "request headers too large: %s" },
  TANDEM_ERR_REQUEST_TIMEOUT: { status: 408, message: "request timed out: %s" },
  TANDEM_ERR_CROSS_SITE: { status: 403, message: "request refused: %s" },
  TANDEM_ERR_CONTENT_TYPE: { status: 415, message: "request refused: %s" },
  TANDEM_ERR_LOGIN_THROTTLED: { status: 429, message: "login refused: %s; try again in %s s" },
  TANDEM_ERR_NOT_FOUND: { status: 404, message: "not found: %s" },
  TANDEM_ERR_NOT_HELD: { status: 409, message: "nothing to %s: node is %s, not active-held" },
  TANDEM_ERR_NOT_ACTIVE: { status: 409, message: "%s refused: %s" },
  TANDEM_ERR_SWITCHOVER: { status: 409, message: "switchover refused: %s" },
  TANDEM_ERR_SWITCHOVER_TIMEOUT: { status: 504, message: "switchover did not complete within %s ms: %s" },
  TANDEM_ERR_MAINTENANCE: { status: 409, message: "maintenance refused: %s" },
  TANDEM_ERR_PROMOTE: { status: 409, message: "promotion refused: %s" },
  TANDEM_ERR_LEASE: { status: 409, message: "%s refused: lease not valid (%s)" },
  TANDEM_ERR_STALE_EPOCH: { status: 409, message: "%s refused: epoch %s is older than the pair's epoch %s" },
  TANDEM_ERR_UNAVAILABLE: { status: 503, message: "node unavailable: %s" },
  TANDEM_ERR_AUDIT_UNAVAILABLE: { status: 503, message: "refused: this action cannot be recorded in the audit log (%s), so it was not done; free space in the node's data dir or fix its permissions, then try again" },
  TANDEM_ERR_NODE_UNREACHABLE: { status: 502, message: "cannot reach node at %s: %s" },
  TANDEM_ERR_INTERNAL: { status: 500, message: "internal error: %s" },
  TANDEM_ERR_TAG_UNKNOWN: { status: 404, message: "no tag named '%s'" },
  TANDEM_ERR_TAG_READ_ONLY: { status: 409, message: "tag %s is read-only (set writable: true in drivers.tags to allow writes)" },
  TANDEM_ERR_TAG_VALUE: { status: 400, message: "tag %s: %s" },
  TANDEM_ERR_TAG_WRITE: { status: 502, message: "write to tag %s failed: %s" },
  TANDEM_ERR_DEVICE_UNAVAILABLE: { status: 503, message: "device %s is not reachable from this node: %s" },
  TANDEM_ERR_FENCED: { status: 409, message: "write refused by the PLC fence: the PLC holds epoch %s, this node has epoch %s" },
  TANDEM_ERR_TABLE_UNKNOWN: { status: 404, message: "no records table named '%s' (declared in replication.tables: %s)" },
  TANDEM_ERR_RECORD: { status: 400, message: "record for table %s: %s" },
  TANDEM_ERR_NOT_REPLICATED: { status: 503, message: "write refused: %s" },
  TANDEM_ERR_SERVICE_UNKNOWN: { status: 404, message: "no service named '%s' (services here: %s)" },
  TANDEM_ERR_BUSY: { status: 409, message: "refused: %s" },
  TANDEM_ERR_CONFIG_PUSH: { status: 409, message: "config push: %s" },
  TANDEM_ERR_BACKUP: { status: 500, message: "backup failed: %s" },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

function format(template: string, args: readonly unknown[]): string {
  let i = 0;
  return template.replace(/%s/g, () => (i < args.length ? String(args[i++]) : "?"));
}

export class TandemError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;

  constructor(code: ErrorCode, args: readonly unknown[] = [], details?: unknown) {
    super(format(ERRORS[code].message, args));
    this.name = "TandemError";
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
  }

  toJSON(): { error: { code: string; message: string; details?: unknown } } {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

export function tandemError(code: ErrorCode, ...args: unknown[]): TandemError {
  return new TandemError(code, args);
}

/** A config problem: the key path (a.b[1].c) and the reason. */
export interface ConfigIssue {
  path: string;
  message: string;
}

export class ConfigError extends TandemError {
  readonly issues: ConfigIssue[];
  readonly file?: string;

  constructor(issues: ConfigIssue[], file?: string) {
    super("TANDEM_ERR_CONFIG", [issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")], issues);
    this.issues = issues;
    this.file = file;
  }

  /** One line per problem, for a terminal. */
  report(): string {
    const where = this.file ? `${this.file}: ` : "";
    return this.issues.map((i) => `config error: ${where}${i.path || "(root)"}: ${i.message}`).join("\n");
  }
}
