/** One readable line from a zod issue: where (a flag or a JSON path), what was expected, what came. */
import type { z } from "zod";

type Issue = z.core.$ZodIssue;

/** The value at `path` inside `root`, for the "(got …)" part of a message. */
export function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let v: unknown = root;
  for (const key of path) {
    if (v === null || typeof v !== "object" || !Object.prototype.hasOwnProperty.call(v, key)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

export function formatGot(value: unknown): string {
  if (value === undefined) return "";
  let text: string;
  if (typeof value === "string") text = JSON.stringify(value);
  else if (Array.isArray(value)) text = `an array of ${value.length}`;
  else if (value !== null && typeof value === "object") text = "an object";
  else text = String(value);
  return ` (got ${text.length > 60 ? text.slice(0, 57) + "…" : text})`;
}

/**
 * `style` "key" → `"params.W1.shape": is [3], expected [784, 50]`; "flag" → `--lr must be …`.
 */
export function describeZodIssue(issue: Issue, root: unknown, style: "key" | "flag"): string {
  const path = issue.path;
  if (issue.code === "unrecognized_keys") {
    const where = path.length ? ` in "${path.join(".")}"` : "";
    const keys = issue.keys.map((k) => (style === "flag" ? `--${kebab(k)}` : `"${k}"`)).join(", ");
    return `unknown ${style === "flag" ? "option" : "key"}${issue.keys.length > 1 ? "s" : ""} ${keys}${where}`;
  }
  const name = style === "flag" ? `--${kebab(String(path[0] ?? ""))}` : path.length ? `"${path.join(".")}"` : "the file";
  const value = valueAt(root, path);
  // a record's bad key: the key's own rule says what is wrong ("is not a parameter name …")
  let message = issue.code === "invalid_key" && issue.issues[0] ? issue.issues[0].message : issue.message;
  if (issue.code === "invalid_type" && value === undefined && path.length > 0) message = "is missing";
  // zod's own wording ("Invalid input: expected object, received array") → "must be an object".
  else if (issue.code === "invalid_type" && /^Invalid input/.test(issue.message)) message = `must be ${/^[aeiou]/.test(issue.expected) ? "an" : "a"} ${issue.expected}`;
  // A message starting ": " (a layer list's fault, which names the layer itself) follows the name directly, without the value.
  if (message.startsWith(": ")) return `${name}${message}`;
  return `${name} ${message}${formatGot(value)}`;
}

export function kebab(name: PropertyKey): string {
  return String(name).replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}
