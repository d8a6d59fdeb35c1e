// The status of the node's update, as the engine writes it: a progress
// dialog that follows an update, and the failure report on the page.

import { api } from "./api.js";
import { $ } from "./dom.js";

const state = {
  status: null,     // the last status seen
  following: false, // the progress dialog follows an update
};

let onFinished = () => {};

const busy = () => !!state.status && state.status.state === "installing";

// initProgress wires the dialog; finished runs once an update or rollback
// has ended (success or failure).
export function initProgress(finished) {
  onFinished = finished;
  $("progress-close").addEventListener("click", closeProgress);
  $("progress-dialog").addEventListener("cancel", (ev) => {
    // Escape must not hide an update that is still running.
    if (busy()) ev.preventDefault();
    else state.following = false;
  });
}

export function openProgress(title) {
  const d = $("progress-dialog");
  $("progress-title").textContent = title;
  d.className = "";
  for (const id of ["progress-failure", "progress-close", "progress-rollback"]) $(id).hidden = true;
  state.following = true;
  if (!d.open) d.showModal();
  if (state.status) render(state.status);
}

export function closeProgress() {
  state.following = false;
  const d = $("progress-dialog");
  if (d.open) d.close();
}

// render shows a status from the event stream or a poll.
export function render(st) {
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
  } else if (st.state === "failed" && state.following) {
    d.className = "failed";
    $("progress-title").textContent = "The update failed";
    $("progress-close").hidden = false;
    $("progress-rollback").hidden = false;
  }
  renderFailure(st, prev);
  $("update-button").disabled = $("rollback-button").disabled = busy();
  // A run ended (or one ran unseen between two looks): what it changed —
  // version, update offer, history — is read again.
  if (prev && st.state !== "installing" && JSON.stringify(prev) !== JSON.stringify(st)) onFinished();
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
