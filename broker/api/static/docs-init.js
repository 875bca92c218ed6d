// Starts Swagger UI on the broker's own OpenAPI document. A static file, not an
// inline script, so the page runs under a Content-Security-Policy that allows
// scripts from the broker itself only.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // The token is typed into "Authorize" and kept in this tab only.
    persistAuthorization: false,
    // Swagger UI's online validator would send the document to a third party.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
});
