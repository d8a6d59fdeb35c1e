// The node card: the installed release, the update on offer (with its
// notes and changelog), a phased rollout's "Install now", and rollback.

import { api } from "./api.js";
import { $, confirmDialog, notice, show, when } from "./dom.js";
import { closeProgress, openProgress } from "./progress.js";
import { isSkipped, skipVersion } from "./settings.js";

let available = null; // get-update's answer while an update is on offer

export async function loadInfo() {
  try {
    const info = await api("GET", "/v1/system/info");
    $("installed-version").textContent = "v" + info.version;
    $("installed-name").textContent = info.name || "";
  } catch (e) {
    if (e.status === 404) $("installed-version").textContent = "none";
    else if (e.status !== 401) throw e;
  }
}

function chip(cls, text) {
  const c = $("update-chip");
  c.className = "chip " + cls;
  show("update-chip", text);
}

export async function checkUpdate() {
  chip("", "checking…");
  show("check-error", "");
  $("update-box").hidden = true;
  let ans;
  try {
    ans = await api("GET", "/v1/system/get-update");
  } catch (e) {
    $("update-chip").hidden = true;
    if (e.status !== 401) show("check-error", "Could not check for updates: " + e.message);
    return;
  }
  showNextAuto(ans.next_auto_update);
  available = null;
  if (ans.phased) return showPhased(ans.phased);
  if (!ans.version) return chip("current", "up to date");
  available = ans;
  const skipped = isSkipped(ans.version);
  chip("available", "update available: v" + ans.version);
  showUpdate(ans.version, ans.name, ans.notes, ans.changelog, [
    ans.intermediate ? "This release is a required step towards v" + ans.latest + "." : "",
    skipped ? "You skipped this version: it is not installed automatically." : "",
  ].join(" ").trim());
  $("update-button").textContent = "Update to v" + ans.version;
  $("skip-button").hidden = skipped;
}

function showUpdate(version, name, notes, changelog, step) {
  $("update-title").textContent = "v" + version + (name ? " — " + name : "");
  show("update-step", step);
  $("update-notes").textContent = notes || "";
  // discovery passes on http(s) links only; checked again as the page
  // must never link javascript: whatever the manager says.
  const link = $("update-changelog");
  const ok = /^https?:\/\//i.test(changelog || "");
  link.hidden = !ok;
  link.href = ok ? changelog : "#";
  $("update-box").hidden = false;
}

// showPhased says why a newer release is not offered yet (a phased rollout
// that has not reached this node) and offers it anyway.
function showPhased(p) {
  available = { version: p.version, phased: true };
  chip("current", "up to date");
  showUpdate(p.version, "", "", "", "v" + p.version + " is rolling out to " + p.percent +
    " %; this node will get it later. You can install it now.");
  $("update-button").textContent = "Install now";
  $("skip-button").hidden = true;
}

function showNextAuto(next) {
  const soon = next && new Date(next) - Date.now() < 60000;
  show("next-auto", !next ? "" : soon ? "Automatic updates may start now."
    : "The next automatic update may start " + when(next) + ".");
}

async function update() {
  const a = available;
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
}

async function skip() {
  const a = available;
  if (!a) return;
  try {
    await skipVersion("v" + a.version);
  } catch (e) {
    notice("Could not skip v" + a.version + ": " + e.message);
    return;
  }
  notice("v" + a.version + " is skipped: it will not be installed automatically.");
  checkUpdate();
}

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

export function initUpdate() {
  $("update-button").addEventListener("click", update);
  $("skip-button").addEventListener("click", skip);
  $("rollback-button").addEventListener("click", rollback);
  $("progress-rollback").addEventListener("click", rollback);
  $("check-button").addEventListener("click", checkUpdate);
}
