/* Swagger UI from drf-spectacular's sidecar (served by the app, no CDN), inside the console frame. */
(function () {
  "use strict";
  const el = document.getElementById("swagger-ui");
  if (!el || !window.SwaggerUIBundle) return;
  window.SwaggerUIBundle({
    url: el.dataset.schemaUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "list",
    filter: true,
    persistAuthorization: true,
    // "Try it out" rides the session: send the CSRF token as the API expects.
    requestInterceptor: function (request) {
      request.headers["X-CSRFToken"] = window.MC && window.MC.csrf ? window.MC.csrf() : "";
      return request;
    },
  });
})();
