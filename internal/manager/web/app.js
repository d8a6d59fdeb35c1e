// hoist-manager's page: plain JavaScript, no build step.
//
// The token is kept in localStorage and sent as a bearer header. Live status
// comes from /v1/system/events, read with fetch() because EventSource cannot
// send the header; when streaming fails (or a proxy buffers it), the page
// polls the public /v1/system/update-status instead.
"use strict";

const TOKEN_KEY = "hoist-manager-token";
const POLL_MS = 2000;
// A stream that delivers nothing this long after opening is being buffered
// by a proxy; afterwards the server's heartbeat comes every 25 s.
const FIRST_EVENT_MS = 5000;
const QUIET_MS = 60000;

const $ = (id) => document.getElementById(id);

const state = {
  status: null,      // last status seen
  available: null,   // get-update's answer when an update is available
  following: false,  // the progress dialog follows an update
  streamWorks: true, // false once a proxy has been seen buffering the stream
};

class HTTPError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function token() { return localStorage.getItem(TOKEN_KEY) || ""; }

// api calls the manager; it throws HTTPError for answers other than 2xx and
// TypeError when the manager cannot be reached.
async function api(method, path, body) {
  const opts = { method, headers: { Authorization: "Bearer " + token() } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    setOnline(false);
    throw e;
  }
  setOnline(true);
  if (res.status === 401) {
    askToken(true);
  }
  if (!res.ok) {
    let msg = res.statusText;
    try { msg = (await res.json()).error || msg; } catch (_) { /* not JSON */ }
    throw new HTTPError(res.status, msg);
  }
  if (res.status === 204) return null;
  const type = res.headers.get("Content-Type") || "";
  return type.startsWith("application/json") ? res.json() : res.text();
}

function setOnline(up) {
  $("offline").hidden = up;
  if (!up) setConn("down", "offline");
}

function setConn(cls, text) {
  const c = $("conn");
  c.className = "conn " + cls;
  c.textContent = text;
}

function notice(text) {
  const n = $("notice");
  n.textContent = text;
  n.hidden = !text;
}

// ---- token ----

function askToken(refused) {
  if (refused) localStorage.removeItem(TOKEN_KEY);
  setConn("", "signed out");
  $("token-card").hidden = false;
  $("main-card").hidden = true;
  $("token-error").hidden = !refused;
  $("token-input").focus();
}

$("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  localStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
  $("token-input").value = "";
  start();
});

$("signout-button").addEventListener("click", () => {
  localStorage.removeItem(TOKEN_KEY);
  askToken(false);
});

// ---- installed release and available update ----

async function loadInfo() {
  try {
    const info = await api("GET", "/v1/system/info");
    $("installed-version").textContent = "v" + info.version;
    $("installed-name").textContent = info.name || "";
  } catch (e) {
    if (e.status === 404) $("installed-version").textContent = "none";
    else if (e.status !== 401) throw e;
  }
}

async function checkUpdate() {
  const chip = $("update-chip");
  chip.hidden = false;
  chip.className = "chip";
  chip.textContent = "checking…";
  $("check-error").hidden = true;
  $("update-box").hidden = true;
  let ans;
  try {
    ans = await api("GET", "/v1/system/get-update");
  } catch (e) {
    chip.hidden = true;
    if (e.status === 401) return;
    $("check-error").textContent = "Could not check for updates: " + e.message;
    $("check-error").hidden = false;
    return;
  }
  if (ans.phased) {
    showPhased(ans.phased);
    return;
  }
  if (!ans.version) {
    state.available = null;
    chip.className = "chip current";
    chip.textContent = "up to date";
    return;
  }
  state.available = ans;
  chip.className = "chip available";
  chip.textContent = "update available: v" + ans.version;
  $("update-title").textContent = "v" + ans.version + (ans.name ? " — " + ans.name : "");
  $("update-notes").textContent = ans.notes || "";
  $("update-step").hidden = !ans.intermediate;
  $("update-step").textContent = ans.intermediate
    ? "This release is a required step towards v" + ans.latest + "." : "";
  $("update-button").textContent = "Update to v" + ans.version;
  $("update-box").hidden = false;
  renderButtons();
}

// showPhased says why a newer release is not offered yet (a phased rollout
// that has not reached this node) and offers it anyway.
function showPhased(p) {
  state.available = { version: p.version, phased: true };
  const chip = $("update-chip");
  chip.className = "chip current";
  chip.textContent = "up to date";
  $("update-title").textContent = "v" + p.version;
  $("update-notes").textContent = "";
  $("update-step").hidden = false;
  $("update-step").textContent = "v" + p.version + " is rolling out to " + p.percent +
    " %; this node will get it later" +
    (p.bucket !== undefined ? " (its place in the rollout is " + p.bucket + " %)." : ".");
  $("update-button").textContent = "Install now";
  $("update-box").hidden = false;
  renderButtons();
}

// ---- confirmation ----

function confirmDialog(title, text, okLabel) {
  const d = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    const done = (ok) => () => {
      $("confirm-ok").onclick = $("confirm-cancel").onclick = d.oncancel = null;
      d.close();
      resolve(ok);
    };
    $("confirm-ok").onclick = done(true);
    $("confirm-cancel").onclick = done(false);
    d.oncancel = done(false);
    d.showModal();
  });
}

$("update-button").addEventListener("click", async () => {
  const a = state.available;
  if (!a) return;
  const ok = await confirmDialog("Update to v" + a.version + "?",
    "The app restarts during the update. If anything fails, the current release is put back.",
    "Update now");
  if (!ok) return;
  try {
    // Installing a phased release now asks for what the rollout holds back,
    // which may be a required step before it: the manager picks it.
    const res = await api("POST", "/v1/system/update", a.phased ? {} : { version: "v" + a.version });
    openProgress(a.phased ? res.message : "Updating to v" + a.version);
  } catch (e) {
    if (e.status === 409) openProgress("Update in progress");
    else notice("Update refused: " + e.message);
  }
});

$("rollback-button").addEventListener("click", rollback);
$("progress-rollback").addEventListener("click", rollback);

async function rollback() {
  const ok = await confirmDialog("Roll back?",
    "This puts back the release that was installed before the last update.", "Roll back");
  if (!ok) return;
  try {
    await api("POST", "/v1/system/rollback");
    closeProgress();
    notice("Rollback requested. The page follows its progress.");
  } catch (e) {
    notice("Rollback refused: " + e.message);
  }
}

$("check-button").addEventListener("click", () => checkUpdate());

// ---- progress ----

function openProgress(title) {
  const d = $("progress-dialog");
  $("progress-title").textContent = title;
  d.className = "";
  $("progress-failure").hidden = true;
  $("progress-close").hidden = true;
  $("progress-rollback").hidden = true;
  state.following = true;
  if (!d.open) d.showModal();
  if (state.status) render(state.status);
}

function closeProgress() {
  state.following = false;
  const d = $("progress-dialog");
  if (d.open) d.close();
}

$("progress-close").addEventListener("click", () => {
  closeProgress();
  refresh();
});

$("progress-dialog").addEventListener("cancel", (ev) => {
  // Escape must not hide an update that is still running.
  if (state.status && state.status.state === "installing") ev.preventDefault();
  else state.following = false;
});

function render(st) {
  const prev = state.status;
  state.status = st;
  if (st.state === "installing" && !state.following) {
    openProgress(st.updateTo ? "Updating to " + st.updateTo : "Update in progress");
  }
  const pct = Math.max(0, Math.min(100, st.progress | 0));
  $("progress-bar").style.width = pct + "%";
  $("progress").setAttribute("aria-valuenow", String(pct));
  $("progress-text").textContent = pct + "%";
  $("progress-desc").textContent = st.description || st.state;
  const d = $("progress-dialog");
  if (st.state === "success" && state.following) {
    d.className = "success";
    $("progress-title").textContent = "Update complete";
    $("progress-close").hidden = false;
    $("progress-rollback").hidden = true;
    if (prev && prev.state !== "success") refresh();
  } else if (st.state === "failed" && state.following) {
    d.className = "failed";
    $("progress-title").textContent = "The update failed";
    $("progress-close").hidden = false;
    $("progress-rollback").hidden = false;
  }
  renderFailure(st, prev);
  renderButtons();
}

async function renderFailure(st, prev) {
  const failed = st.state === "failed";
  $("failure").hidden = !failed;
  $("progress-failure").hidden = !(failed && state.following);
  if (!failed) return;
  $("failure-desc").textContent = st.description || "No reason was given.";
  if (prev && prev.state === "failed" && prev.description === st.description) return;
  let log = null;
  try { log = await api("GET", "/v1/system/update-log"); } catch (_) { /* shown below */ }
  for (const id of ["failure-log", "progress-log"]) {
    $(id).textContent = log || "";
    $(id).hidden = !log;
  }
  if (!log) {
    $("progress-log").textContent = st.description || "";
    $("progress-log").hidden = !st.description;
  }
}

function renderButtons() {
  const busy = state.status && state.status.state === "installing";
  $("update-button").disabled = !!busy;
  $("rollback-button").disabled = !!busy;
}

// ---- following the status ----

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// stream reads /v1/system/events until it ends; it throws when it cannot
// connect or a watchdog finds it silent. A stream that never delivers its
// first event is being buffered: then the page keeps to polling.
async function stream() {
  const ctrl = new AbortController();
  let timer = setTimeout(() => ctrl.abort("buffered"), FIRST_EVENT_MS);
  try {
    const res = await fetch("/v1/system/events", {
      headers: { Authorization: "Bearer " + token() }, signal: ctrl.signal,
    });
    if (!res.ok || !res.body) {
      if (res.status === 401) askToken(true);
      throw new HTTPError(res.status, "events: " + res.status);
    }
    setOnline(true);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      clearTimeout(timer);
      timer = setTimeout(() => ctrl.abort("quiet"), QUIET_MS);
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = parseEvent(block);
        if (ev.event === "status" && ev.data) {
          setConn("live", "live");
          render(JSON.parse(ev.data));
        }
      }
    }
  } catch (e) {
    if (ctrl.signal.reason === "buffered") state.streamWorks = false;
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

function parseEvent(block) {
  const ev = { event: "message", data: "" };
  for (const line of block.split("\n")) {
    const i = line.indexOf(":");
    if (i <= 0) continue; // comment or malformed
    const field = line.slice(0, i);
    const value = line.slice(i + 1).replace(/^ /, "");
    if (field === "event") ev.event = value;
    if (field === "data") ev.data += value;
  }
  return ev;
}

async function pollOnce() {
  try {
    const res = await fetch("/v1/system/update-status");
    setOnline(true);
    if (res.ok) render(await res.json());
    setConn(state.streamWorks ? "down" : "live", state.streamWorks ? "reconnecting…" : "polling");
  } catch (_) {
    setOnline(false);
  }
}

async function follow() {
  for (;;) {
    if (state.streamWorks && token()) {
      try { await stream(); } catch (_) { /* fall back to a poll below */ }
    }
    await pollOnce();
    await sleep(POLL_MS);
  }
}

// ---- start ----

async function refresh() {
  try {
    await loadInfo();
  } catch (_) { /* offline: the banner says so */ }
  checkUpdate();
}

let following = false;

function start() {
  if (!token()) {
    askToken(false);
    return;
  }
  $("token-card").hidden = true;
  $("main-card").hidden = false;
  refresh();
  if (!following) {
    following = true;
    follow();
  }
}

start();
