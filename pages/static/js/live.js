// Live updates of one show: the engine's Server-Sent Events stream
// GET /v1/shows/{id}/live when the server has it, else polling.
//
// The stream's messages (docs/live.md) carry the log position as their id;
// EventSource resends it as Last-Event-ID when it reconnects, so a
// reconnecting page gets what it missed. Each message is handed to
// onMessage(type, data, id); when it returns false (a message this page
// does not understand) or the stream is unavailable, onChange() is called
// instead and the page reloads what it shows. Without the stream (an
// engine built before it, or a proxy that refuses it) the page polls
// onChange() every pollMs (half a second: a change shows within one) and tries the stream again every retryMs.

/**
 * watch starts following a show; it returns a function that stops.
 * opts: {onMessage, onChange, onMode, pollMs = 500, retryMs = 30000}.
 */
export function watch(showId, opts) {
  const pollMs = opts.pollMs || 500;
  const retryMs = opts.retryMs || 30000;
  let source = null;
  let poller = null;
  let retry = null;
  let stopped = false;

  const setMode = (mode) => opts.onMode && opts.onMode(mode);

  const startPolling = () => {
    if (poller || stopped) return;
    setMode("polling");
    poller = setInterval(() => opts.onChange(), pollMs);
    retry = setTimeout(() => { stopPolling(); connect(); }, retryMs);
  };
  const stopPolling = () => {
    clearInterval(poller);
    clearTimeout(retry);
    poller = retry = null;
  };

  const handle = (type) => (ev) => {
    let data = null;
    try {
      data = ev.data ? JSON.parse(ev.data) : null;
    } catch {
      data = null;
    }
    const understood = data !== null && opts.onMessage && opts.onMessage(type, data, ev.lastEventId) !== false;
    if (!understood) opts.onChange();
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
      opts.onChange(); // what changed between the page's load and the stream's start
    });
    source.addEventListener("message", handle("message"));
    for (const type of ["snapshot", "state", "seats", "sections", "change", "changes", "availability"]) {
      source.addEventListener(type, handle(type));
    }
    source.addEventListener("error", () => {
      // CLOSED: refused (no such route, not an event stream): poll. While
      // CONNECTING, EventSource reconnects by itself; poll meanwhile.
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
