// The owner's settings (GET/PUT /v1/system/settings): automatic updates,
// their time window, the release channel, skipped versions and where
// notifications go. GET shows notification URLs with their secrets
// redacted; sending a redacted URL back keeps the stored one.

import { api } from "./api.js";
import { $, show } from "./dom.js";

let current = null; // the settings as last read or saved

const bare = (v) => String(v).replace(/^v/, "");

// isSkipped reports whether the owner declined version ("1.2.0" or "v1.2.0").
export const isSkipped = (version) =>
  !!current && (current.skip || []).some((s) => bare(s) === bare(version));

export async function loadSettings() {
  try {
    current = await api("GET", "/v1/system/settings");
  } catch (e) {
    // A manager without settings (404) has no panel; others say why.
    $("settings-card").hidden = e.status === 404 || e.status === 401;
    if (e.status !== 404 && e.status !== 401) show("settings-error", "Could not read the settings: " + e.message);
    return;
  }
  $("settings-card").hidden = false;
  fill(current);
}

function fill(s) {
  $("set-auto").checked = !!s.auto_update;
  const [from, to] = (s.window || "-").split("-");
  $("set-window-from").value = from;
  $("set-window-to").value = to;
  $("set-channel").value = s.channel || "stable";
  show("installed-channel", (s.channel || "stable") + " channel");
  renderSkip(s.skip || []);
  const notify = s.notify || [];
  $("set-notify").value = notify.join("\n");
  $("notify-state").textContent = notify.length === 0 ? "No notifications are set." :
    notify.length + (notify.length === 1 ? " notification target is" : " notification targets are") +
    " set; their secrets are hidden (***) and kept as they are.";
}

function renderSkip(skip) {
  const list = $("skip-list");
  list.replaceChildren(...skip.map((v) => {
    const li = document.createElement("li");
    li.textContent = "v" + bare(v);
    const rm = document.createElement("button");
    rm.type = "button";
    rm.className = "remove";
    rm.textContent = "×";
    rm.title = "Allow v" + bare(v) + " again";
    rm.setAttribute("aria-label", rm.title);
    rm.addEventListener("click", () => save({ skip: skip.filter((x) => x !== v) }, "v" + bare(v) + " is allowed again.")
      .catch(() => { /* shown by save */ }));
    li.append(rm);
    return li;
  }));
  $("skip-empty").hidden = skip.length > 0;
}

// windowValue reads the two time inputs: both empty is "any time".
function windowValue() {
  const from = $("set-window-from").value, to = $("set-window-to").value;
  if (!from && !to) return "";
  if (!from || !to) throw new Error("Give the window both a start and an end, or clear both.");
  return from + "-" + to;
}

// save PUTs the given keys (the others stay as they are) and shows done.
async function save(changes, done) {
  show("settings-error", "");
  $("settings-status").textContent = "Saving…";
  try {
    current = await api("PUT", "/v1/system/settings", changes); // as stored, secrets redacted
  } catch (e) {
    $("settings-status").textContent = "";
    show("settings-error", "Not saved: " + e.message);
    throw e;
  }
  fill(current);
  $("settings-status").textContent = done;
  onSaved();
}

export async function skipVersion(version) {
  const skip = (current && current.skip) || [];
  if (!isSkipped(version)) await save({ skip: [...skip, version] }, version + " is skipped.");
}

let onSaved = () => {};

// initSettings wires the form; saved runs after every change saved (the
// update card's next automatic update and skip state depend on it).
export function initSettings(saved) {
  onSaved = saved;
  $("settings-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    let changes;
    try {
      changes = {
        auto_update: $("set-auto").checked,
        window: windowValue(),
        channel: $("set-channel").value,
        notify: $("set-notify").value.split("\n").map((l) => l.trim()).filter(Boolean),
      };
    } catch (e) {
      show("settings-error", e.message);
      return;
    }
    try { await save(changes, "Saved."); } catch (_) { /* shown by save */ }
  });

  $("notify-test").addEventListener("click", async () => {
    show("settings-error", "");
    $("settings-status").textContent = "Sending…";
    let ans;
    try {
      ans = await api("POST", "/v1/system/notify/test");
    } catch (e) {
      $("settings-status").textContent = "";
      show("settings-error", e.status === 409 ? "No notification targets are set." : "Could not send: " + e.message);
      return;
    }
    const failed = (ans.results || []).filter((r) => !r.ok);
    $("settings-status").textContent = failed.length === 0 ? "Test notification sent." :
      "Not delivered to " + failed.map((r) => r.target + " (" + r.error + ")").join(", ") + "; retrying later.";
  });
}
