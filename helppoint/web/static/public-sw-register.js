// Registers the public pages' service worker (/sw.js), so the map, the unit pages already
// visited and the list of help points still open with no network (docs/public-pages.md).
// After the page has loaded: on a slow link the worker's own downloads must not compete with
// the page's first load.
if ("serviceWorker" in navigator) {
  const register = () =>
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
      // No offline copy (a private window, or an old browser): the pages work as before.
    });
  if (document.readyState === "complete") register();
  else window.addEventListener("load", register, { once: true });
}
