// Document page, progressive enhancement: "다음 쪽" appends the next window of the text in
// place instead of loading a new page. Without JavaScript the link simply opens it.
(function () {
  "use strict";
  var section = document.querySelector("section.fulltext");
  if (!section || !window.fetch || !window.DOMParser) {
    return;
  }
  section.addEventListener("click", function (event) {
    var link = event.target.closest("nav.docpager a.more");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    event.preventDefault();
    link.setAttribute("aria-busy", "true");
    fetch(link.href, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html");
        var incoming = next.querySelector("section.fulltext .passages");
        var pagers = next.querySelectorAll("section.fulltext nav.docpager");
        var target = section.querySelector(".passages");
        if (!incoming || !target) {
          throw new Error("unexpected page");
        }
        while (incoming.firstChild) {
          target.appendChild(document.adoptNode(incoming.firstChild));
        }
        var mine = section.querySelectorAll("nav.docpager");
        var bottom = mine[mine.length - 1];
        var replacement = pagers[pagers.length - 1];
        if (bottom && replacement) {
          bottom.replaceWith(document.adoptNode(replacement));
        } else if (bottom) {
          bottom.remove();
        }
      })
      .catch(function () {
        window.location.href = link.href; // fall back to the plain link
      });
  });
})();
