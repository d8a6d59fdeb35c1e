// Signing in and out. Once the owner has set a password (hoist-manager
// passwd), the page asks for it and the manager answers with a session
// cookie; until then it asks for the API token, as before.

import { api, forgetToken, saveToken, token } from "./api.js";
import { $, setConn, show } from "./dom.js";

// account is GET /v1/account; a manager without accounts answers 404,
// which reads as "no password, not signed in".
export async function account() {
  try {
    return await api("GET", "/v1/account");
  } catch (e) {
    if (e.status === 404) return { password_set: false, signed_in: false };
    throw e;
  }
}

// signedIn reports whether the page may call the API: a session or a token.
export const signedIn = (acct) => acct.signed_in || !!token();

// showSignIn hides the node's cards and asks for the password, or for the
// token when none is set, with why when the page was signed out.
export function showSignIn(acct, why) {
  setConn("", "signed out");
  for (const id of ["main-card", "history-card", "settings-card", "signout-button"]) $(id).hidden = true;
  $("signin-card").hidden = false;
  $("password-form").hidden = !acct.password_set;
  $("token-form").hidden = acct.password_set;
  show("signin-error", why || "");
  $(acct.password_set ? "password-input" : "token-input").focus();
}

export function hideSignIn() {
  $("signin-card").hidden = true;
  $("signout-button").hidden = false;
}

// initAuth wires the forms; onSignedIn runs after a successful sign-in.
export function initAuth(onSignedIn) {
  $("password-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = $("password-input");
    try {
      await api("POST", "/v1/account/login", { password: input.value });
    } catch (e) {
      show("signin-error", e.status === 401 ? "Wrong password." :
        e.status === 429 ? "Too many attempts. Wait a minute and try again." :
        "Could not sign in: " + e.message);
      input.value = "";
      input.focus();
      return;
    }
    input.value = "";
    onSignedIn();
  });

  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    saveToken($("token-input").value.trim());
    $("token-input").value = "";
    onSignedIn();
  });

  $("signout-button").addEventListener("click", async () => {
    forgetToken();
    try { await api("POST", "/v1/account/logout"); } catch (_) { /* no session: nothing to end */ }
    location.reload(); // drops every piece of state the page held
  });
}
