// Small helpers shared by the page's parts.

export const $ = (id) => document.getElementById(id);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// show sets an element's text (when given) and hides it when the text is
// empty or shown is false.
export function show(id, text, shown = !!text) {
  const el = $(id);
  if (text !== undefined) el.textContent = text;
  el.hidden = !shown;
}

const NOTICE_MS = 10000;
let noticeTimer = 0;

// notice shows a passing message at the top of the page for a while.
export function notice(text) {
  show("notice", text);
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => show("notice", ""), NOTICE_MS);
}

export function setConn(cls, text) {
  const c = $("conn");
  c.className = "conn " + cls;
  c.textContent = text;
}

export function setOnline(up) {
  $("offline").hidden = up;
  if (!up) setConn("down", "offline");
}

// confirmDialog asks a yes/no question in the page's modal dialog.
export function confirmDialog(title, text, okLabel) {
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

// duration says how long a run took, for people: "45 s", "3 min 5 s".
export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min" + (s % 60 ? " " + (s % 60) + " s" : "");
  return Math.floor(m / 60) + " h " + (m % 60) + " min";
}

// when formats a time as the reader's local date and time.
export function when(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return "";
  return d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}
