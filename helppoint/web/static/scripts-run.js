// The last script of every console page (base.html): module scripts run in document order, so
// when this runs, the page's own module has wired its buttons. Until then app.css leaves the
// page's script-driven buttons unclickable, so a click that comes early (a slow page on a busy
// server) waits, or is visibly not possible yet, rather than being lost on a button that does
// nothing yet.
document.body.dataset.scriptsRun = "yes";
