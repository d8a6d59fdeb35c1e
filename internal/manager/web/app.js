// hoist-manager's page: plain JavaScript modules, no build step, no
// framework; the strict CSP allows no inline script or style.
//
// Flow: ask GET /v1/account whether the browser is signed in (session
// cookie) or holds a token; if not, show the sign-in. Once in, show the
// node card, history and settings, and follow the live status.

import { forgetToken, onAnswers, token } from "./api.js";
import { account, hideSignIn, initAuth, showSignIn, signedIn } from "./auth.js";
import { $, setOnline, sleep } from "./dom.js";
import { follow } from "./follow.js";
import { loadHistory } from "./history.js";
import { initProgress, render } from "./progress.js";
import { initSettings, loadSettings } from "./settings.js";
import { checkUpdate, initUpdate, loadInfo } from "./update.js";

const RETRY_MS = 3000;

let acct = { password_set: false, signed_in: false };
let active = false;    // signed in: the cards are shown and the API is called
let following = false; // the status is followed (once per page load)

async function refresh() {
  try {
    await loadInfo();
  } catch (_) { /* offline: the banner says so */ }
  await loadSettings(); // first: the update card shows whether its version is skipped
  checkUpdate();
  loadHistory();
}

// signedOut handles a 401 while the page was in: the session ended or the
// token was refused.
async function signedOut() {
  if (!active) return;
  active = false;
  const hadToken = !!token();
  forgetToken();
  try { acct = await account(); } catch (_) { /* the form below still works */ }
  showSignIn(acct, hadToken ? "That token was refused." : "You were signed out. Sign in again.");
}

async function start() {
  for (;;) {
    try {
      acct = await account();
      break;
    } catch (_) {
      await sleep(RETRY_MS); // offline: the banner says so
    }
  }
  if (!signedIn(acct)) {
    showSignIn(acct, "");
    return;
  }
  active = true;
  hideSignIn();
  $("main-card").hidden = false;
  refresh();
  if (!following) {
    following = true;
    follow(render, () => active, signedOut);
  }
}

onAnswers({ online: setOnline, unauthorized: signedOut });
initAuth(start);
initProgress(refresh);
initSettings(checkUpdate);
initUpdate();
start();
