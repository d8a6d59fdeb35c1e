// The history timeline: every apply, rollback and recover the engine ran,
// newest first, coloured by result, each with its script output one click
// away (GET /v1/system/history/{id}/log) while the engine keeps it (the
// last 10 runs).

import { api } from "./api.js";
import { $, duration, show, when } from "./dom.js";

const ACTIONS = { apply: "Update", rollback: "Rollback", recover: "Recovery" };
const RESULTS = { success: "succeeded", failed: "failed", "rolled-back": "failed and was rolled back" };

const ver = (v) => (v ? "v" + String(v).replace(/^v/, "") : "");

export async function loadHistory() {
  let runs;
  try {
    runs = await api("GET", "/v1/system/history");
  } catch (e) {
    $("history-card").hidden = e.status === 404 || e.status === 401;
    show("history-error", e.status === 404 || e.status === 401 ? "" : "Could not read the history: " + e.message);
    return;
  }
  $("history-card").hidden = false;
  show("history-error", "");
  $("history-empty").hidden = runs.length > 0;
  $("history-list").replaceChildren(...runs.map(entry));
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

// entry is one run: what, when, how long, why it failed, and its log.
function entry(run) {
  const li = el("li", "run " + (run.result || "running"));
  li.dataset.id = run.id;
  const fromTo = run.from && run.to ? ver(run.from) + " → " + ver(run.to) : ver(run.to || run.from);
  const head = el("div", "run-head");
  head.append(el("strong", "", (ACTIONS[run.action] || run.action) + " " + fromTo),
    el("span", "result", RESULTS[run.result] || run.result || "in progress"));
  const started = new Date(run.started), finished = new Date(run.finished);
  const meta = [when(run.started)];
  if (!isNaN(started) && !isNaN(finished)) meta.push("took " + duration(finished - started));
  li.append(head, el("div", "muted small", meta.join(" · ")));
  const why = [run.reason, run.script ? "failing script: " + run.script : ""].filter(Boolean).join("; ");
  if (why) li.append(el("div", "reason", why));
  if (run.log) li.append(...logToggle(run.id));
  return li;
}

// logToggle is a button that shows and hides run id's script output.
function logToggle(id) {
  const btn = el("button", "link log-button", "Show log");
  btn.type = "button";
  const pre = el("pre", "log");
  pre.hidden = true;
  btn.addEventListener("click", async () => {
    if (!pre.hidden) {
      pre.hidden = true;
      btn.textContent = "Show log";
      return;
    }
    try {
      const text = await api("GET", "/v1/system/history/" + encodeURIComponent(id) + "/log");
      pre.textContent = text || "This run wrote no output.";
    } catch (e) {
      pre.textContent = e.status === 404 ? "The log of this run is no longer kept."
        : "Could not read the log: " + e.message;
    }
    pre.hidden = false;
    btn.textContent = "Hide log";
  });
  return [btn, pre];
}
