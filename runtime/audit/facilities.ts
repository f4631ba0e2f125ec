// Syslog facilities by name (RFC 5424 §6.2.1), for the config and the sender.
export const FACILITIES = {
  kern: 0, user: 1, daemon: 3, auth: 4, syslog: 5, authpriv: 10,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;
export type Facility = keyof typeof FACILITIES;
