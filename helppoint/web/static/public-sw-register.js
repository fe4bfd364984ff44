// Registers the public pages' service worker (/sw.js), so the map, the unit pages already
// visited and the list of help points still open with no network (docs/public-pages.md).
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
    // No offline copy (a private window, or an old browser): the pages work as before.
  });
}
