// The engine's public HTTP API, from the same origin: JSON in and out, a
// bearer token kept in localStorage per page, problem+json errors thrown
// as ApiError with the server's own detail.

const TOKEN_KEY = "ticketing.session";

/** ApiError is a refused request: its status and the problem's detail. */
export class ApiError extends Error {
  constructor(status, problem) {
    const fields = (problem && problem.errors) || [];
    const extra = fields.map((f) => `${f.field || f.name || ""} ${f.detail || ""}`.trim()).join("; ");
    super((problem && (problem.detail || problem.title)) + (extra ? ` (${extra})` : "") || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** session returns the signed-in user ({token, role, email, user_id}) or null. */
export function session() {
  try {
    const s = JSON.parse(localStorage.getItem(TOKEN_KEY) || "null");
    if (s && s.expires_at && Date.parse(s.expires_at) < Date.now()) return null;
    return s;
  } catch {
    return null;
  }
}

/** signOut forgets the token. */
export function signOut() {
  localStorage.removeItem(TOKEN_KEY);
}

/**
 * call sends a request. opts: {body, minPosition, token, idempotent}.
 * A 2xx answer resolves to its JSON (or null); anything else throws ApiError.
 */
export async function call(method, path, opts = {}) {
  const headers = { Accept: "application/json" };
  const s = session();
  const token = opts.token !== undefined ? opts.token : s && s.token;
  if (token) headers.Authorization = "Bearer " + token;
  if (opts.minPosition) headers["X-Min-Position"] = opts.minPosition;
  let body;
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  if (method === "POST" && opts.idempotent) headers["Idempotency-Key"] = crypto.randomUUID();
  const res = await fetch(path, { method, headers, body, cache: "no-store" });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (!res.ok) {
    if (res.status === 401 && token) signOut();
    throw new ApiError(res.status, data);
  }
  return data;
}

export const get = (path, opts) => call("GET", path, opts);
export const post = (path, body, opts = {}) => call("POST", path, { ...opts, body });

/** signIn trades an email and password for a token and keeps it. */
export async function signIn(email, password) {
  const t = await post("/v1/tokens", { email, password }, { token: "" });
  const s = { token: t.token, expires_at: t.expires_at, user_id: t.user_id, role: t.role, email };
  localStorage.setItem(TOKEN_KEY, JSON.stringify(s));
  return s;
}

/** signUp creates an account of role ("buyer" or "organizer") and signs in. */
export async function signUp(email, password, role) {
  await post("/v1/users", { email, password, role }, { token: "" });
  return signIn(email, password);
}

/** allPages follows next_cursor through a paged list and returns every item. */
export async function allPages(path, opts, max = 20) {
  const items = [];
  let cursor = "";
  for (let i = 0; i < max; i++) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await get(path + (cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ""), opts);
    items.push(...(page.items || []));
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return items;
}
