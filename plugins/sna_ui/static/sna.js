// Audience exports: once a notice (?notice=deleted) is on the page, drop it from the address, so that
// reloading or sharing the page does not announce it again. Served by the app: the policy allows no inline script.
(function () {
  var url = new URL(window.location.href);
  if (url.searchParams.has("notice")) {
    url.searchParams.delete("notice");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
})();
