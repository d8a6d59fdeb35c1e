// The manager's API as the page calls it. A browser signed in with the
// password carries the session cookie (HttpOnly: this script never sees
// it); one signed in with the API token, the way before a password is set,
// keeps the token in localStorage and sends it as a bearer header.

const TOKEN_KEY = "hoist-manager-token";

export class HTTPError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export const token = () => localStorage.getItem(TOKEN_KEY) || "";
export const saveToken = (t) => localStorage.setItem(TOKEN_KEY, t);
export const forgetToken = () => localStorage.removeItem(TOKEN_KEY);

// authHeaders is the bearer header when a token is kept, else none: the
// session cookie goes along by itself on same-origin requests.
export function authHeaders() {
  const t = token();
  return t ? { Authorization: "Bearer " + t } : {};
}

// hooks lets the page react to every answer: reachability and a 401 (the
// session ended or the token was refused).
const hooks = { online: () => {}, unauthorized: () => {} };

export function onAnswers(h) { Object.assign(hooks, h); }

// api calls the manager and returns the decoded answer (JSON, text, or
// null for 204); it throws HTTPError for answers other than 2xx and
// TypeError when the manager cannot be reached.
export async function api(method, path, body) {
  const opts = { method, headers: authHeaders() };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    hooks.online(false);
    throw e;
  }
  hooks.online(true);
  if (res.status === 401) hooks.unauthorized();
  if (!res.ok) {
    let msg = res.statusText;
    try { msg = (await res.json()).error || msg; } catch (_) { /* not JSON */ }
    throw new HTTPError(res.status, msg);
  }
  if (res.status === 204) return null;
  const type = res.headers.get("Content-Type") || "";
  return type.startsWith("application/json") ? res.json() : res.text();
}
