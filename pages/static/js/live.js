// Live updates of one show: the engine's Server-Sent Events stream
// GET /v1/shows/{id}/live (docs/live.md) when the server has it, else
// polling.
//
// The stream starts with a "snapshot" (every section's counts and every
// seat that is not available), then sends a "change" (the sections and
// seats that changed, with their new values) each time the projections
// apply something; each message's id is the log position its state
// reflects. EventSource resends the last id as Last-Event-ID when it
// reconnects, and the server answers with what was missed or a fresh
// snapshot; a message not newer than the last one applied is ignored.
// Without the stream (an engine built before it, a proxy that refuses it,
// too many streams) the page reloads what it shows every pollMs (half a
// second, so that a change shows within one) and tries the stream again
// every retryMs.

/** newer tells whether position a ("commit.prepare") is after position b. */
export function newer(a, b) {
  if (!b) return true;
  const [ac, ap] = String(a).split(".").map(BigInt);
  const [bc, bp] = String(b).split(".").map(BigInt);
  return ac > bc || (ac === bc && (ap || 0n) > (bp || 0n));
}

/**
 * watch starts following a show; it returns a function that stops.
 * opts: {onSnapshot(data), onChange(data), onReload(), onMode(mode),
 * pollMs = 500, retryMs = 30000}. mode is "live", "reconnecting" or
 * "polling".
 */
export function watch(showId, opts) {
  const pollMs = opts.pollMs || 500;
  const retryMs = opts.retryMs || 30000;
  let source = null;
  let poller = null;
  let retry = null;
  let stopped = false;
  let last = "";

  const setMode = (mode) => opts.onMode && opts.onMode(mode);

  const startPolling = () => {
    if (poller || stopped) return;
    setMode("polling");
    opts.onReload();
    poller = setInterval(() => opts.onReload(), pollMs);
    retry = setTimeout(() => { stopPolling(); connect(); }, retryMs);
  };
  const stopPolling = () => {
    clearInterval(poller);
    clearTimeout(retry);
    poller = retry = null;
  };

  const handle = (apply) => (ev) => {
    let data;
    try {
      data = JSON.parse(ev.data);
    } catch {
      opts.onReload(); // not what docs/live.md promises: read it all again
      return;
    }
    const at = ev.lastEventId || data.position;
    if (apply !== opts.onSnapshot && at && !newer(at, last)) return;
    if (at) last = at;
    apply(data);
  };

  const connect = () => {
    if (stopped || typeof EventSource === "undefined") {
      startPolling();
      return;
    }
    let opened = false;
    source = new EventSource(`/v1/shows/${encodeURIComponent(showId)}/live`);
    source.addEventListener("open", () => {
      opened = true;
      stopPolling();
      setMode("live");
    });
    source.addEventListener("snapshot", handle(opts.onSnapshot));
    source.addEventListener("change", handle(opts.onChange));
    source.addEventListener("dropped", () => setMode("reconnecting"));
    source.addEventListener("error", () => {
      // Refused (no such route, not an event stream, 429) before it ever
      // opened: poll. Once open, EventSource reconnects by itself.
      if (source.readyState === EventSource.CLOSED || !opened) {
        source.close();
        source = null;
        startPolling();
      } else {
        setMode("reconnecting");
      }
    });
  };

  connect();
  return () => {
    stopped = true;
    stopPolling();
    if (source) source.close();
  };
}
