// Following the live status: /v1/system/events is read with fetch() (so a
// token can go in a header, which EventSource cannot send); when streaming
// fails, or a proxy buffers it, the page polls the public update-status.

import { HTTPError, authHeaders } from "./api.js";
import { setConn, setOnline, sleep } from "./dom.js";

const POLL_MS = 2000;
// A stream that delivers nothing this long after opening is being buffered
// by a proxy; afterwards the server's heartbeat comes every 25 s.
const FIRST_EVENT_MS = 5000;
const QUIET_MS = 60000;

// follow feeds render every status, forever. It streams while signedIn()
// says the page may; unauthorized runs when the stream is refused (the
// session ended).
export async function follow(render, signedIn, unauthorized) {
  let streamWorks = true; // false once a proxy has been seen buffering
  for (;;) {
    if (streamWorks && signedIn()) {
      try {
        await stream(render, unauthorized);
      } catch (e) {
        if (e === "buffered") streamWorks = false;
      }
    }
    await pollOnce(render, streamWorks);
    await sleep(POLL_MS);
  }
}

// stream reads the events until they end; it throws when it cannot connect
// or a watchdog finds it silent ("buffered" when no first event came).
async function stream(render, unauthorized) {
  const ctrl = new AbortController();
  let timer = setTimeout(() => ctrl.abort("buffered"), FIRST_EVENT_MS);
  try {
    const res = await fetch("/v1/system/events", { headers: authHeaders(), signal: ctrl.signal });
    if (!res.ok || !res.body) {
      if (res.status === 401) unauthorized();
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
        const ev = parseEvent(buf.slice(0, i));
        buf = buf.slice(i + 2);
        if (ev.event === "status" && ev.data) {
          setConn("live", "live");
          render(JSON.parse(ev.data));
        }
      }
    }
  } catch (e) {
    throw ctrl.signal.aborted ? ctrl.signal.reason : e;
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

async function pollOnce(render, streamWorks) {
  try {
    const res = await fetch("/v1/system/update-status");
    setOnline(true);
    if (res.ok) render(await res.json());
    setConn(streamWorks ? "down" : "live", streamWorks ? "reconnecting…" : "polling");
  } catch (_) {
    setOnline(false);
  }
}
